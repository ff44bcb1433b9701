"""A ``SelectClusterResponse`` message rewritten, in binary protobuf or protobuf JSON."""

from __future__ import annotations

import json
from typing import Any

_ENDPOINT_FIELD = 1
_JSON_NAMES = ("clusterEndpoint", "cluster_endpoint")


class NotRewritable(ValueError):
    """The body is not a SelectCluster answer this module can safely rewrite."""


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """The varint at ``pos`` and the position after it."""
    value = 0
    for shift in range(0, 70, 7):
        if pos >= len(data):
            raise NotRewritable("varint is truncated")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if value >= 1 << 64:
                raise NotRewritable("varint is over 64 bits")
            return value, pos
    raise NotRewritable("varint is longer than 10 bytes")


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def rewrite_proto(data: bytes, endpoint: str) -> bytes:
    """Binary protobuf: every field 1 dropped, one put at the first one's place."""
    out = bytearray()
    found = False
    pos = 0
    while pos < len(data):
        start = pos
        tag, pos = _read_varint(data, pos)
        field, wire = tag >> 3, tag & 7
        if field == 0 or tag >= 1 << 32:
            raise NotRewritable(f"field number {field} is invalid")
        if wire == 0:
            _, pos = _read_varint(data, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            size, pos = _read_varint(data, pos)
            pos += size
        else:
            raise NotRewritable(f"wire type {wire} is not supported")
        if pos > len(data):
            raise NotRewritable(f"field {field} is truncated")
        if field != _ENDPOINT_FIELD:
            out += data[start:pos]
            continue
        if wire != 2:
            raise NotRewritable(f"field 1 has wire type {wire}, not a string")
        if not found and endpoint:
            value = endpoint.encode()
            out += _varint(_ENDPOINT_FIELD << 3 | 2) + _varint(len(value)) + value
        found = True
    return bytes(out) if found else data


def _no_constant(name: str) -> Any:
    raise NotRewritable(f"JSON constant {name} is not standard JSON")


def rewrite_json(data: bytes, endpoint: str) -> bytes:
    """Protobuf JSON: ``clusterEndpoint`` (or ``cluster_endpoint``) replaced in place."""
    try:
        message = json.loads(data, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        if isinstance(exc, NotRewritable):
            raise
        raise NotRewritable(f"body is not JSON: {exc}") from exc
    if not isinstance(message, dict):
        raise NotRewritable("JSON body is not an object")
    if not any(name in message for name in _JSON_NAMES):
        return data
    rewritten: dict[str, Any] = {}
    for key, value in message.items():
        if key not in _JSON_NAMES:
            rewritten[key] = value
            continue
        if value is not None and not isinstance(value, str):
            raise NotRewritable(f"JSON field {key} is not a string")
        if endpoint:
            rewritten[_JSON_NAMES[0]] = endpoint
    return json.dumps(rewritten, ensure_ascii=False, separators=(",", ":")).encode()
