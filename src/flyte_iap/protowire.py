"""Protocol Buffers' wire format, read and written without the protobuf library.

Two answers are read as bytes: flyteadmin's ``GetVersion`` (``doctor``, which needs
neither flyteidl nor protobuf) and Flyte 2's ``SelectCluster`` (``proxy``, which
rewrites one field and keeps every other byte). Both walk a message with
:func:`fields`; a message this reader cannot walk raises :class:`WireError`.
See https://protobuf.dev/programming-guides/encoding/.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

VARINT, I64, LEN, I32 = 0, 1, 2, 5
_LONGEST_VARINT = 10  # bytes: 64 bits, 7 a byte


class WireError(ValueError):
    """Bytes that are not a protobuf message this reader understands."""


class Field(NamedTuple):
    """One field of a message: its number, wire type, where it stands (``start`` to
    ``end``, tag included) and its value: an int for VARINT, the bytes otherwise."""

    number: int
    wire: int
    start: int
    end: int
    value: int | bytes


def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """The varint at ``pos`` and the position after it."""
    value = 0
    for shift in range(0, 7 * _LONGEST_VARINT, 7):
        if pos >= len(data):
            raise WireError("varint is truncated")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            if value >= 1 << 64:
                raise WireError("varint is over 64 bits")
            return value, pos
    raise WireError(f"varint is longer than {_LONGEST_VARINT} bytes")


def varint(value: int) -> bytes:
    """``value`` (not negative) as a varint."""
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def fields(data: bytes) -> Iterator[Field]:
    """Every field of the message ``data``, in order. Groups (wire types 3 and 4, which
    proto3 never writes) are a WireError, as are truncated fields and field number 0."""
    pos = 0
    while pos < len(data):
        start = pos
        tag, pos = read_varint(data, pos)
        number, wire = tag >> 3, tag & 7
        if number == 0 or tag >= 1 << 32:
            raise WireError(f"field number {number} is invalid")
        value: int | bytes
        if wire == VARINT:
            value, pos = read_varint(data, pos)
        elif wire in (I64, I32, LEN):
            if wire == LEN:
                size, pos = read_varint(data, pos)
            else:
                size = 8 if wire == I64 else 4
            if pos + size > len(data):
                raise WireError(f"field {number} is truncated")
            value, pos = data[pos : pos + size], pos + size
        else:
            raise WireError(f"wire type {wire} is not supported")
        yield Field(number, wire, start, pos, value)


def length_delimited(number: int, value: bytes) -> bytes:
    """Field ``number`` holding ``value`` (a string, bytes or a message), encoded."""
    return varint(number << 3 | LEN) + varint(len(value)) + value
