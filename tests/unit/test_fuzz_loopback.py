"""Property-based tests of the loopback login's judge: any callback query, and any text
pasted at the prompt, is a Verdict or a one-line reason, never an exception; and a code
(or an error) is taken only with the login's own ``state`` (RFC 6749 §10.12)."""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterator
from typing import TypeVar

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from flyte_iap.errors import LoginError
from flyte_iap.login import LoopbackServer

STATE = "Zt4-kq_9sQ"  # what random_token makes, shorter


T = TypeVar("T")


def mostly(common: st.SearchStrategy[T], rare: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    """``common`` three times in four, else ``rare``."""
    return st.integers(0, 3).flatmap(lambda i: rare if i == 3 else common)


# --- queries -------------------------------------------------------------------------------
near_states = st.sampled_from(
    [STATE, STATE, STATE.upper(), STATE[:-1], STATE + "x", f" {STATE}", STATE + "\x00",
     urllib.parse.quote(STATE, safe=""), "%5A" + STATE[1:], STATE.replace("-", "+"), "",
     STATE + "%", STATE + "%zz", STATE + "%ff", "é" + STATE]
)  # fmt: skip
values = mostly(
    st.sampled_from(["c0de", "4/0AeaYSH", "access_denied", "server_error", "", "x y", "a+b"]),
    st.text(max_size=12),
)
names = mostly(
    st.sampled_from(["state", "code", "error", "error_description", "scope", "authuser"]),
    st.sampled_from(["STATE", "state ", "sta%74e", "code[]", "", "=", "&"]) | st.text(max_size=6),
)


@st.composite
def queries(draw: st.DrawFn) -> str:
    """A callback's query: a state (mostly the right one) and a code or an error, with
    other fields around them, in any order, repeated, raw or encoded."""
    pairs = draw(st.lists(st.tuples(names, st.one_of(near_states, values)), max_size=3))
    outcome = draw(
        st.sampled_from(
            [("code", "4/0AeaYSH-x"), ("code", ""), ("error", "access_denied"),
             ("error", "server_error\x1b[2J"), ("error", "")]
        )
    )  # fmt: skip
    for pair in (outcome, ("state", draw(mostly(st.just(STATE), near_states)))):
        if draw(st.integers(0, 5)) < 5:
            pairs.insert(draw(st.integers(0, len(pairs))), pair)
    if draw(st.booleans()):
        return urllib.parse.urlencode(pairs)
    separator = draw(st.sampled_from(["&", "&", ";", "&&"]))
    return separator.join(f"{k}={v}" if draw(st.integers(0, 5)) < 5 else k for k, v in pairs)


ODD_HOSTS = [
    "[", "]", "a]b", "[::1", "::1]", "[::1%25eth0]", "[v1.x]", "[::1]x", "u@h", "u:p@[",
    "h\\x", "", ":", "127.0.0.1:99999", "127.0.0.1:x", "\u0661\u0662\u0667.0.0.1",
]  # fmt: skip


@st.composite
def pasted(draw: st.DrawFn, redirect_uri: str) -> str:
    """What a person may paste: the redirect URL with a query, or something near it."""
    port = urllib.parse.urlsplit(redirect_uri).port
    scheme = draw(st.sampled_from(["http", "http", "https", "HTTP", "ftp", "", "javascript"]))
    host = draw(
        mostly(
            st.sampled_from([f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"]),
            st.sampled_from(ODD_HOSTS),
        )
    )
    path = draw(st.sampled_from(["/", "/", "", "/cb", "//x", "/?"]))
    query = draw(queries())
    tail = draw(st.sampled_from(["", "", "#", "#frag", "#?state=x"]))
    url = f"{scheme}://{host}{path}?{query}{tail}" if scheme else f"{host}{path}?{query}"
    around = draw(st.sampled_from(["", "", " ", "\n", "\t", "\r\n", " \x1b[A"]))
    return around + url + around


def first(query: str, name: str) -> str | None:
    found = urllib.parse.parse_qs(query, keep_blank_values=True).get(name)
    return found[0] if found else None


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    """A login waiting for ``STATE`` (bound on 127.0.0.1, closed after the module)."""
    with LoopbackServer(state=STATE) as srv:
        yield srv


def one_line(reason: str) -> bool:
    return bool(reason) and reason.isprintable()  # no line break, no control character


@given(mostly(queries(), st.text(max_size=40)))
def test_judge_takes_a_code_or_an_error_only_with_the_state(
    server: LoopbackServer, query: str
) -> None:
    verdict = server.judge(query)
    event("rejected" if verdict.rejected else "error" if verdict.error else "code")
    if verdict.rejected:
        assert one_line(verdict.rejected), verdict.rejected
        assert verdict.page and not verdict.code and verdict.error is None
        return
    assert first(query, "state") == STATE
    if verdict.error is not None:
        assert isinstance(verdict.error, LoginError)
        assert one_line(str(verdict.error)), str(verdict.error)
        assert verdict.error.error == first(query, "error") and not verdict.code
    else:
        assert verdict.code and verdict.code == first(query, "code")


@given(st.data())
def test_a_pasted_text_is_taken_only_with_the_state(
    server: LoopbackServer, data: st.DataObject
) -> None:
    text = data.draw(mostly(pasted(server.redirect_uri), st.text(max_size=60)))
    reason = server.submit_pasted_url(text)
    event("refused" if reason else "taken")
    if reason is not None:
        assert one_line(reason), reason
        return
    query = urllib.parse.urlsplit(text.strip()).query
    assert first(query, "state") == STATE
    assert first(query, "code") or first(query, "error")
