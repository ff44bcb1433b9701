"""Property-based tests of the option readers of ``cli.options`` and of the cached-token
fast path: whatever words a ``proxyCommand`` or a person types, each reader either says
no in its own way (None, a UsageError) or gives values the one request builder takes.

- ``parse_simple`` (lenient): None, or values of the option's types that
  ``token_request`` turns into a request (or a UsageError);
- ``token_words`` (strict): a UsageError with a printable message, or words that read
  again give the same values and the same words (a round trip), and that the lenient
  reader reads the same way;
- ``fastpath.cached_token``: never raises, whatever the words.

Words come from the option table itself (every spelling, with ``=`` or without), mutated
tokens, values near a valid one (unicode digits, NaN, ``1_0``, spaces, a leading dash)
and, now and then, the bytes POSIX argv may carry (lone surrogates \\udc80-\\udcff).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from flyte_iap.cache import ServiceAccountEntry, TokenCache, UserEntry
from flyte_iap.cli.fastpath import cached_token
from flyte_iap.cli.options import (
    SECRET_ENV,
    TOKEN_COMMANDS,
    Option,
    parse_simple,
    token_request,
    token_words,
)
from flyte_iap.errors import UsageError
from flyte_iap.google import source_id
from flyte_iap.tokens.request import ServiceAccountRequest, UserRequest

COMMANDS = sorted(TOKEN_COMMANDS)
OPTIONS = [o for options in TOKEN_COMMANDS.values() for o in options]
SPELLINGS = sorted({s for o in OPTIONS for s in o.spellings})
NOW = 1_900_000_000.0
AUD = "123-abc.apps.googleusercontent.com"
KEY_EMAIL = "ci@p.iam.gserviceaccount.com"
KEY_INFO = {"type": "service_account", "client_email": KEY_EMAIL}

# --- words -------------------------------------------------------------------------------
# What POSIX argv can hold: any character but NUL; undecodable bytes as \udc80-\udcff.
argv_text = st.text(
    st.one_of(
        st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
        st.characters(min_codepoint=0xDC80, max_codepoint=0xDCFF),
    ),
    max_size=12,
)
NEAR_VALUES = [
    "", " ", "0", "1", "5", "60", "300", "1e3", "1E-3", "-1", "-0", "+5", "0x10", "1_0",
    " 5", "5 ", "\u0665", "\uff15", "\U0001d7d3", "\u00b2",  # unicode digits
    "nan", "NaN", "inf", "-inf", "1e400", "9" * 400,
    "65535", "65536", "0.5", ".5", "5.", "file", "keyring", "KEYRING", "file ",
    AUD, "a@b", "sa@p.iam.gserviceaccount.com", "no-at-sign", "-", "--", "-x", "--port",
    "=", "a=b", "/tmp/key.json", "key.json", "~/key.json", "a\tb", "a\nb", "\x1b[31m",
    "\u202eevil", "\udc80",
]  # fmt: skip
values = st.one_of(st.sampled_from(NEAR_VALUES), argv_text)


@st.composite
def mutated(draw: st.DrawFn, word: str) -> str:
    """``word`` with one character dropped, doubled, swapped in case or replaced, or its
    first underscore made a dash (or the other way round)."""
    if not word:
        return draw(argv_text)
    at = draw(st.integers(0, len(word) - 1))
    how = draw(st.sampled_from(["drop", "double", "case", "replace", "dash"]))
    if how == "drop":
        return word[:at] + word[at + 1 :]
    if how == "double":
        return word[:at] + word[at] + word[at:]
    if how == "case":
        return word[:at] + word[at].swapcase() + word[at + 1 :]
    if how == "dash":
        return word.replace("_", "-", 1) if "_" in word else word.replace("-", "_", 1)
    return word[:at] + draw(st.characters(exclude_characters="\x00")) + word[at + 1 :]


spelling = st.sampled_from([*SPELLINGS, "-v", "-h", "--help", "--verbose", "--version"])
word = st.one_of(
    spelling,
    values,
    st.builds(lambda s, v: f"{s}={v}", spelling, values),
    spelling.flatmap(mutated),
)


def value_for(option: Option, noisy: bool) -> st.SearchStrategy[str]:
    """A value of the option's type (some out of range), or with ``noisy`` now and then a
    near miss."""
    if option.kind is str:
        good = st.sampled_from([AUD, "desk", "p", "name", "sa@p.iam.gserviceaccount.com", "file"])
    elif option.kind is int:
        good = st.one_of(st.integers(1, 65535), st.integers(-2, 70_000)).map(str)
    else:
        good = st.one_of(
            st.integers(-2, 10**6).map(str),
            st.floats(-1, 1e300, allow_nan=False).map(repr),
        )
    return st.one_of(good, good, good, good, values) if noisy else good


@st.composite
def option_words(draw: st.DrawFn, options: tuple[Option, ...], noisy: bool) -> list[str]:
    """Words that are mostly right for ``options``: each option in some spelling with a
    value of its type; with ``noisy``, near misses among them, and some words mutated,
    dropped, doubled or moved."""
    words: list[str] = []
    for option in draw(st.permutations(options)):
        if not option.required and draw(st.booleans()):
            continue
        name = draw(st.sampled_from(option.spellings))
        if option.flag:
            words.append(draw(st.sampled_from([name, name + "=", "-v"] if noisy else [name])))
            continue
        value = draw(value_for(option, noisy))
        words += [f"{name}={value}"] if draw(st.booleans()) else [name, value]
    for _ in range(draw(st.integers(0, 2)) if noisy else 0):
        if not words:
            break
        at = draw(st.integers(0, len(words) - 1))
        how = draw(st.sampled_from(["mutate", "drop", "double", "insert"]))
        if how == "mutate":
            words[at] = draw(mutated(words[at]))
        elif how == "drop":
            del words[at]
        elif how == "double":
            words.insert(at, words[at])
        else:
            words.insert(at, draw(word))
    return words


@st.composite
def command_lines(draw: st.DrawFn) -> tuple[str, list[str]]:
    command = draw(st.sampled_from(COMMANDS))
    args = draw(
        st.one_of(
            option_words(TOKEN_COMMANDS[command], noisy=False),
            option_words(TOKEN_COMMANDS[command], noisy=True),
            st.lists(word, max_size=10),
        ),
    )
    return command, args


def printable(message: str) -> bool:
    return all(c.isprintable() for c in message)


def typed_as_declared(values: dict[str, object], options: tuple[Option, ...]) -> None:
    by_name = {o.name: o for o in options}
    assert set(values) <= set(by_name)
    for option in options:
        if option.required:
            assert option.name in values
    for name, value in values.items():
        option = by_name[name]
        if option.flag:
            assert value is True
        elif option.kind is str:
            assert isinstance(value, str)
        else:
            assert type(value) is option.kind
            assert isinstance(value, int | float) and math.isfinite(value)
            assert option.minimum is None or value >= option.minimum
            assert option.maximum is None or value <= option.maximum


# --- the lenient reader ----------------------------------------------------------------
@given(command_lines())
def test_parse_simple_gives_none_or_values_that_make_a_request(
    line: tuple[str, list[str]],
) -> None:
    command, args = line
    options = TOKEN_COMMANDS[command]
    parsed = parse_simple(list(args), options)
    event("parsed" if parsed is not None else "left to click")
    if parsed is None:
        return
    typed_as_declared(dict(parsed), options)
    try:
        request = token_request(command, parsed)
    except UsageError as exc:
        assert printable(str(exc)), str(exc)
        return
    assert isinstance(request, ServiceAccountRequest | UserRequest)


# --- the strict reader -----------------------------------------------------------------
@given(command_lines(), st.booleans(), st.booleans())
def test_token_words_round_trip(line: tuple[str, list[str]], written: bool, secret: bool) -> None:
    command, args = line
    env = {SECRET_ENV: "s3cret"} if secret else {}
    notes: list[str] = []
    try:
        first = token_words(command, list(args), env, notes.append, written=written)
    except UsageError as exc:
        event("refused")
        assert printable(str(exc)), str(exc)
        return
    event("accepted")
    typed_as_declared(dict(first.values), TOKEN_COMMANDS[command])
    assert all(printable(note) for note in notes)
    again = token_words(command, list(first.words), env, notes.append, written=written)
    assert again.values == first.values
    assert again.words == first.words
    # The lenient reader reads the canonical words the same way ...
    assert parse_simple(list(first.words), TOKEN_COMMANDS[command]) == first.values
    # ... and the words as given, when nothing was rewritten (a key file made absolute).
    if not written:
        assert parse_simple(list(args), TOKEN_COMMANDS[command]) == first.values
    try:
        token_request(command, first.values)
    except UsageError as exc:
        assert printable(str(exc)), str(exc)


def test_token_words_refuses_an_unknown_command_printably() -> None:
    with pytest.raises(UsageError) as caught:
        token_words("\x1b[2Jgenerate", [], {}, print, written=False)
    assert printable(str(caught.value))


# --- the fast path as a whole ----------------------------------------------------------
@pytest.fixture(scope="module")
def fast_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, str], str]]:
    """(the environment, a key file): a private cache with a fresh entry for the key file's
    account and one for a person; gcloud's configuration elsewhere than the developer's."""
    root = tmp_path_factory.mktemp("fastpath")
    key = root / "key.json"
    key.write_text(json.dumps(KEY_INFO))
    cache = TokenCache(str(root / "cache"))
    via = source_id(KEY_INFO, {})
    fresh = NOW + 3600
    assert cache.store(
        ServiceAccountEntry(
            audience=AUD, principal=KEY_EMAIL, via=via, id_token="t", expiry=fresh,
            fetched_at=int(NOW),
        )
    )  # fmt: skip
    assert cache.store(
        UserEntry(
            desktop_client_id="desk", audience=AUD, email="a@b", id_token="t", expiry=fresh,
            fetched_at=int(NOW),
        )
    )  # fmt: skip
    env = {
        "FLYTE_IAP_CACHE_DIR": str(root / "cache"),
        "CLOUDSDK_CONFIG": str(root / "gcloud"),
        "GCE_METADATA_HOST": "127.0.0.1:9",
    }
    yield env, str(key)


@given(
    st.one_of(
        command_lines().map(lambda line: [line[0], *line[1]]),
        st.lists(st.one_of(st.sampled_from(COMMANDS), word), max_size=8),
    ),
    st.booleans(),
    st.data(),
)
def test_the_fast_path_never_raises(
    fast_env: tuple[dict[str, str], str], args: list[str], with_gac: bool, data: st.DataObject
) -> None:
    env, key = dict(fast_env[0]), fast_env[1]
    with_key: bool = data.draw(st.booleans(), label="with the cached key file")
    if args and with_key:
        args = [*args, "--service_account_key", key]
    if with_gac:
        env["GOOGLE_APPLICATION_CREDENTIALS"] = key
    token = cached_token(list(args), env, clock=lambda: NOW)
    event("cached token" if token else "no token")
    assert token in (None, "t")


def test_the_fast_path_answers_the_cached_entries(fast_env: tuple[dict[str, str], str]) -> None:
    """The fixture's entries are found: the property above reaches the cache hits."""
    env, key = fast_env
    sa = ["generate-service-account-id-token", "--webapp_client_id", AUD]
    assert cached_token([*sa, "--service_account_key", key], env, lambda: NOW) == "t"
    user = ["generate-user-id-token", "--desktop-client-id=desk", "--webapp_client_id", AUD]
    assert cached_token(user, env, lambda: NOW) == "t"
