"""Rewrite the address in a ``ClusterService/SelectCluster`` answer.

Flyte 2 asks ``SelectCluster`` where to send data-proxy, secret, image and
app-log calls; the backend answers with the public host behind IAP, and the
SDK would then call it directly, without a token. The proxy replaces
``cluster_endpoint`` (field 1 of ``flyteidl2.cluster.SelectClusterResponse``,
a string) by its own address, or removes it: the SDK then stays on its
default client, which already goes through the proxy.

Protocol logic only, no I/O, standard library only (no protobuf: the message is
walked by :mod:`flyte_iap.protowire`): the proxy buffers this one small answer, calls
:func:`rewrite_select_cluster` and, on :class:`NotRewritable`, passes the body on
unchanged.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable
from typing import Any

from flyte_iap.protowire import LEN, WireError, fields, length_delimited

_Rewrite = Callable[[bytes], bytes]

SELECT_CLUSTER_PATH = "/flyteidl2.cluster.ClusterService/SelectCluster"

MAX_BODY = 1 << 20
"""The largest body, compressed or not, that is rewritten (a real answer is ~100 bytes)."""

_FLAG_COMPRESSED = 0x01
_FLAG_END_STREAM = 0x02
_ENDPOINT_FIELD = 1
_JSON_NAMES = ("clusterEndpoint", "cluster_endpoint")


class NotRewritable(ValueError):
    """The body is not a SelectCluster answer this module can safely rewrite."""


def rewrite_select_cluster(
    body: bytes,
    *,
    content_type: str,
    content_encoding: str | None,
    endpoint: str,
    connect_encoding: str | None = None,
) -> bytes:
    """The body of a successful SelectCluster answer with ``cluster_endpoint`` set to ``endpoint``.

    ``endpoint == ""`` removes the field. Every other field is kept (byte for
    byte in the binary encoding); a body without the field comes back
    unchanged. The result has the same content type and encodings as the
    input, so the caller keeps the headers but must set ``Content-Length``
    anew. Connect unary (``application/proto``, ``application/json``, with
    ``Content-Encoding`` gzip or identity) and the envelope form
    (``application/connect+proto`` / ``+json``, frames compressed with
    ``connect_encoding``) are understood.

    Raises :class:`NotRewritable` for anything else: a body over
    :data:`MAX_BODY` (compressed or decompressed), an unknown encoding or
    content type, malformed protobuf or JSON. The caller then forwards the
    original body unchanged.
    """
    if len(body) > MAX_BODY:
        raise NotRewritable(f"body of {len(body)} bytes is over {MAX_BODY}")
    media = content_type.partition(";")[0].strip().lower()
    if media in ("application/proto", "application/json"):
        rewrite = rewrite_proto if media == "application/proto" else rewrite_json
        return _through(content_encoding, body, lambda raw: rewrite(raw, endpoint))
    if media in ("application/connect+proto", "application/connect+json"):
        rewrite = rewrite_proto if media == "application/connect+proto" else rewrite_json
        return _through(
            content_encoding,
            body,
            lambda raw: _rewrite_frames(raw, connect_encoding, lambda msg: rewrite(msg, endpoint)),
        )
    raise NotRewritable(f"content type {media!r} is not a Connect encoding")


def _through(encoding: str | None, body: bytes, rewrite: _Rewrite) -> bytes:
    """``rewrite`` applied under ``encoding``; the original bytes when nothing changed."""
    raw = _decompress(encoding, body)
    new = rewrite(raw)
    return body if new == raw else _compress(encoding, new)


def _codec(encoding: str | None) -> str:
    name = (encoding or "identity").strip().lower()
    if name not in ("identity", "gzip"):
        raise NotRewritable(f"encoding {name!r} is not supported")
    return name


def _decompress(encoding: str | None, data: bytes) -> bytes:
    if _codec(encoding) == "identity":
        return data
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(data, MAX_BODY + 1)
    except zlib.error as exc:
        raise NotRewritable(f"bad gzip data: {exc}") from exc
    if len(out) > MAX_BODY:
        raise NotRewritable(f"gzip data inflates past {MAX_BODY} bytes")
    if not inflater.eof or inflater.unused_data:
        raise NotRewritable("gzip data is truncated or followed by more data")
    return out


def _compress(encoding: str | None, data: bytes) -> bytes:
    if _codec(encoding) == "identity":
        return data
    # zlib's gzip header has no timestamp: the output depends on the input alone.
    deflater = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
    return deflater.compress(data) + deflater.flush()


def _rewrite_frames(data: bytes, encoding: str | None, rewrite: _Rewrite) -> bytes:
    """Connect envelope frames (flags, 4-byte big-endian length, data), messages rewritten."""
    inflated = 0

    def counted(message: bytes) -> bytes:
        # One budget for all frames: many small gzip frames must not add up to a bomb.
        nonlocal inflated
        inflated += len(message)
        if inflated > MAX_BODY:
            raise NotRewritable(f"frames inflate past {MAX_BODY} bytes")
        return rewrite(message)

    out = bytearray()
    pos = 0
    while pos < len(data):
        if len(data) - pos < 5:
            raise NotRewritable("envelope header is truncated")
        flags = data[pos]
        size = int.from_bytes(data[pos + 1 : pos + 5], "big")
        end = pos + 5 + size
        if flags & ~(_FLAG_COMPRESSED | _FLAG_END_STREAM) or end > len(data):
            raise NotRewritable("envelope frame is malformed or truncated")
        frame = data[pos + 5 : end]
        if not flags & _FLAG_END_STREAM:
            frame_encoding = encoding if flags & _FLAG_COMPRESSED else None
            if flags & _FLAG_COMPRESSED and _codec(encoding) == "identity":
                raise NotRewritable("compressed frame without Connect-Content-Encoding")
            frame = _through(frame_encoding, frame, counted)
        out += bytes([flags]) + len(frame).to_bytes(4, "big") + frame
        pos = end
    return bytes(out)


def rewrite_proto(data: bytes, endpoint: str) -> bytes:
    """Binary protobuf: every field 1 dropped, one put at the first one's place."""
    out = bytearray()
    found = False
    try:
        for field in fields(data):
            if field.number != _ENDPOINT_FIELD:
                out += data[field.start : field.end]
                continue
            if field.wire != LEN:
                raise NotRewritable(f"field 1 has wire type {field.wire}, not a string")
            if not found and endpoint:
                out += length_delimited(_ENDPOINT_FIELD, endpoint.encode())
            found = True
    except WireError as exc:
        raise NotRewritable(str(exc)) from exc
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
