"""Property-based tests of the headers the proxy passes on (both ways): whatever a client
or an upstream sends, the hop-by-hop headers and every header that ``Connection`` names
stay behind, and all the others pass in their order, values untouched."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy

from flyte_iap.proxy.forward import _HOP_BY_HOP, _kept

HOP = sorted(_HOP_BY_HOP)
TOKEN = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=1)
NAMES = st.one_of(TOKEN, st.sampled_from(HOP), st.sampled_from([h.upper() for h in HOP]))
VALUES = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30)


@st.composite
def header_lists(draw: st.DrawFn) -> list[tuple[str, str]]:
    headers = draw(st.lists(st.tuples(NAMES, VALUES), max_size=12))
    if draw(st.booleans()):  # a Connection header naming some of them, odd spacing too
        named = draw(st.lists(st.one_of(st.sampled_from([n for n, _ in headers] or ["x"]), TOKEN)))
        value = ",".join(draw(st.sampled_from(["", " ", "  "])) + n for n in named)
        headers.insert(draw(st.integers(0, len(headers))), ("Connection", value))
    return headers


@given(header_lists())
def test_hop_by_hop_and_connection_named_headers_stay_behind(
    headers: list[tuple[str, str]],
) -> None:
    given_headers = CIMultiDictProxy(CIMultiDict(headers))
    named = {
        part.strip().lower()
        for name, value in headers
        if name.lower() == "connection"
        for part in value.split(",")
    }
    expected = [(n, v) for n, v in headers if n.lower() not in _HOP_BY_HOP | named]
    assert list(_kept(given_headers).items()) == expected
