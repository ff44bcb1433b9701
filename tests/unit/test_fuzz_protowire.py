"""Property-based tests of ``protowire``: any bytes are a WireError or fields whose raw
spans tile the message and which re-encode (``varint``, ``length_delimited``) to the same
fields; a message written with the encoders reads back to the same bytes."""

from __future__ import annotations

from hypothesis import event, given
from hypothesis import strategies as st

from flyte_iap.protowire import (
    I32,
    I64,
    LEN,
    VARINT,
    Field,
    WireError,
    fields,
    length_delimited,
    read_varint,
    varint,
)

U64 = st.one_of(st.integers(0, 2**64 - 1), st.sampled_from([0, 127, 128, 2**63, 2**64 - 1]))
NUMBERS = st.one_of(st.integers(1, 2**29 - 1), st.sampled_from([1, 15, 16, 2047, 2**29 - 1]))


def encode(field: Field) -> bytes:
    """One field in the canonical encoding."""
    if field.wire == LEN:
        assert isinstance(field.value, bytes)
        return length_delimited(field.number, field.value)
    tag = varint(field.number << 3 | field.wire)
    if field.wire == VARINT:
        assert isinstance(field.value, int)
        return tag + varint(field.value)
    assert isinstance(field.value, bytes)
    return tag + field.value


def essence(found: list[Field]) -> list[tuple[int, int, int | bytes]]:
    return [(f.number, f.wire, f.value) for f in found]


@st.composite
def messages(draw: st.DrawFn) -> tuple[list[tuple[int, int, int | bytes]], bytes]:
    """A message written with the encoders, and its fields."""
    wanted: list[tuple[int, int, int | bytes]] = []
    for _ in range(draw(st.integers(0, 6))):
        number, wire = draw(NUMBERS), draw(st.sampled_from([VARINT, I64, LEN, I32]))
        value: int | bytes
        if wire == VARINT:
            value = draw(U64)
        elif wire == LEN:
            value = draw(st.binary(max_size=20))
        else:
            size = 8 if wire == I64 else 4
            value = draw(st.binary(min_size=size, max_size=size))
        wanted.append((number, wire, value))
    data = b"".join(encode(Field(n, w, 0, 0, v)) for n, w, v in wanted)
    return wanted, data


@given(U64)
def test_varints_round_trip(value: int) -> None:
    data = varint(value)
    assert read_varint(data, 0) == (value, len(data))
    assert len(data) <= 10


@given(messages())
def test_a_written_message_reads_back_to_the_same_bytes(
    message: tuple[list[tuple[int, int, int | bytes]], bytes],
) -> None:
    wanted, data = message
    found = list(fields(data))
    assert essence(found) == wanted
    assert b"".join(encode(f) for f in found) == data


@st.composite
def damaged(draw: st.DrawFn, data: bytes) -> bytes:
    how = draw(st.sampled_from(["cut", "flip", "insert", "overlong"]))
    at = draw(st.integers(0, len(data)))
    if how == "cut":
        return data[:at]
    if how == "flip":
        return data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]
    if how == "insert":
        return data[:at] + draw(st.binary(min_size=1, max_size=3)) + data[at:]
    # A value written longer than it needs: 0x80 0x00 is a valid, non-minimal zero.
    return data[:at] + draw(st.sampled_from([b"\x80\x00", b"\x08\x80\x80\x00", b"\x80" * 11]))


@given(
    st.one_of(
        st.binary(max_size=60),
        messages().map(lambda m: m[1]).flatmap(damaged),
        st.sampled_from([b"\xff" * 10 + b"\x01", b"\x08" + b"\xff" * 9 + b"\x01", b"\x00",
                         b"\x0b", b"\x0c", b"\x0f", b"\xf8\xff\xff\xff\x0f\x00",
                         b"\x12\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"]),
    )
)  # fmt: skip
def test_any_bytes_are_a_wire_error_or_fields_that_tile_them(data: bytes) -> None:
    try:
        found = list(fields(data))
    except WireError:
        event("WireError")
        return
    event("fields")
    at = 0
    for field in found:
        assert field.start == at < field.end
        at = field.end
        assert 1 <= field.number < 2**29 and field.wire in (VARINT, I64, LEN, I32)
        raw = data[field.start : field.end]
        (again,) = fields(encode(field))
        assert (again.number, again.wire, again.value) == (field.number, field.wire, field.value)
        # Byte for byte the same, unless the message wrote a varint longer than it needs.
        assert encode(field) == raw or len(encode(field)) < len(raw)
    assert at == len(data)
    assert b"".join(data[f.start : f.end] for f in found) == data
