"""Property-based tests of the emulator gate's HTTP/1.1 request reader: any bytes of a head
are a BadRequest or a RequestHead (written out again, the same head), and its body's
framing is a BadRequest, a length or chunked, never another exception.

Heads are built near the edge of RFC 9112: request lines with odd spaces and versions,
targets in every form, header names with spaces before the colon, obs-fold, bare LF,
Content-Length as lists, signs, unicode digits and 19 digits, Transfer-Encoding lists.
"""

from __future__ import annotations

from typing import TypeVar

from hypothesis import event, given
from hypothesis import strategies as st

from flyte_iap.emulator.gate.head import BadRequest, RequestHead, body_length, parse_head

MAX_HEADERS = 8


T = TypeVar("T")


def mostly(common: st.SearchStrategy[T], rare: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    """``common`` three times in four, else ``rare``."""
    return st.integers(0, 3).flatmap(lambda i: rare if i == 3 else common)


latin1 = st.text(st.characters(max_codepoint=0xFF), max_size=8)
# Each part of a head: (well-formed values, near misses).
methods = (
    st.sampled_from(["GET", "POST", "OPTIONS", "PUT"]),
    st.sampled_from(["", "G T", "get", "GET\x00", "GÉT", "[GET]"]) | latin1,
)
targets = (
    st.sampled_from(["/", "/v1/projects?x=1", "/a%20b"]),
    st.sampled_from(["*", "", "http://x/", "x", "/\x7f", "/é", "/\t", "//", "*x"]) | latin1,
)
versions = (
    st.sampled_from(["HTTP/1.1", "HTTP/1.0"]),
    st.sampled_from(["HTTP/2.0", "http/1.1", "HTTP/1.1 ", "HTTP/1.10", "", "\x85"]) | latin1,
)
names = (
    st.sampled_from(["Host", "Content-Length", "Transfer-Encoding", "Connection", "X-A"]),
    st.sampled_from(["", " Host", "Host ", "Ho st", "Hést", "X\x00"]) | latin1,
)
header_values = (
    st.sampled_from(
        ["chunked", "5", "0", "close", "keep-alive", "example.test", " 7 ", "\t7", "5, 5",
         "chunked, chunked", "gzip, chunked", "Chunked", ""]
    ),
    st.sampled_from(
        ["5,6", "+5", "-1", "0x5", "\u0665", "\u00b2", "1" * 19, "1" * 18, "5\x00", "a\x7fb"]
    )
    | latin1,
)  # fmt: skip


@st.composite
def heads(draw: st.DrawFn) -> bytes:
    """A head: with ``noisy``, near misses in every part; else only well-formed parts
    (which may still be refused together: two Hosts, both framings, too many fields)."""
    noisy = draw(st.booleans())

    def part(choices: tuple[st.SearchStrategy[str], st.SearchStrategy[str]]) -> str:
        return draw(mostly(*choices) if noisy else choices[0])

    space = draw(st.sampled_from([" ", " ", " ", "  "]) if noisy else st.just(" "))
    line = space.join([part(methods), part(targets), part(versions)])
    if draw(st.integers(0, 7)) == 7:
        line = "OPTIONS * HTTP/1.1"
    count = draw(mostly(st.integers(0, 3), st.integers(4, MAX_HEADERS + 1)))
    headers = [(part(names), part(header_values)) for _ in range(count)]
    sep = part((st.just(": "), st.sampled_from([":", " : ", ":\t", "", "::"])))
    lines = [line, *(f"{n}{sep}{v}" for n, v in headers)]
    if noisy and draw(st.integers(0, 3)) == 3:  # obs-fold, a bare LF or an empty line inside
        at = draw(st.integers(1, len(lines)))
        lines.insert(at, draw(st.sampled_from([" folded", "\tfolded", ""])))
    eol = part((st.just("\r\n"), st.sampled_from(["\n", "\r", "\r\n\r\n"])))
    return eol.join(lines).encode(draw(st.sampled_from(["latin-1", "utf-8"])), "replace")


def written(head: RequestHead) -> bytes:
    lines = [f"{head.method} {head.target} {head.version}"]
    lines += [f"{name}: {value}" for name, value in head.headers]
    return "\r\n".join(lines).encode("latin-1")


@given(mostly(heads(), st.binary(max_size=80)))
def test_any_head_is_a_bad_request_or_reads_back_the_same(raw: bytes) -> None:
    try:
        head = parse_head(raw, MAX_HEADERS)
    except BadRequest as exc:
        event(f"BadRequest {exc.status}")
        assert exc.status in (400, 431, 505)
        return
    assert head.version in ("HTTP/1.1", "HTTP/1.0")
    assert head.target.startswith("/") or (head.method, head.target) == ("OPTIONS", "*")
    assert len(head.headers) <= MAX_HEADERS
    assert len(head.values("host")) <= 1
    again = parse_head(written(head), MAX_HEADERS)
    assert again == head
    try:
        length = body_length(head)
    except BadRequest as exc:
        event(f"framing refused {exc.status}")
        assert exc.status in (400, 501)
        return
    event("chunked" if length is None else "length")
    if length is None:
        assert head.version == "HTTP/1.1" and not head.values("content-length")
    else:
        assert 0 <= length < 10**18
        tokens = [t.strip() for v in head.values("content-length") for t in v.split(",")]
        assert all(t.isascii() and t.isdigit() and int(t) == length for t in tokens)
