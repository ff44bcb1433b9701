"""Property-based tests of reading cache entries: any JSON object, and any bytes in an
entry file, read as an entry or as absent, never as an exception; an entry's record
reads back as the same entry (docs/design.md, "Cache": "An unreadable, corrupt or
foreign entry ... reads as absent")."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from flyte_iap.cache import Entry, ServiceAccountEntry, TokenCache, UserEntry, entry_from_record

FIELDS = [
    "v", "kind", "audience", "principal", "via", "source", "id_token", "expiry",
    "fetched_at", "desktop_client_id", "email", "refresh_token", "client_secret",
    "secrets_in",
]  # fmt: skip
NOW = 1_900_000_000.0

# JSON values, with the numbers that hurt: huge integers, NaN and the infinities (which
# Python's json writes and reads), -0.0, floats at the edge, and booleans (ints in Python).
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=10**17, max_value=10**30),
    st.sampled_from([10**400, -(10**400), 1e18, -1e18, 1e18 - 1, 2**63, 0.0, -0.0, 1e-320]),
    st.floats(),
    st.booleans(),
)
scalars = st.one_of(st.none(), numbers, st.text(max_size=20))
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)
field_values = st.one_of(
    st.sampled_from(["service_account", "user", "keyring", ""]),
    st.floats(NOW - 10**6, NOW + 10**6),
    json_values,
)


@st.composite
def records(draw: st.DrawFn) -> dict[str, object]:
    """A record of either kind (or neither), its fields present or not, of any type."""
    kind = draw(st.sampled_from(["service_account", "user", "user", "alias", None]))
    record: dict[str, object] = {} if kind is None else {"kind": kind}
    for name in draw(st.lists(st.sampled_from(FIELDS), unique=True)):
        if name != "kind" or kind is None:
            record[name] = draw(field_values)
    record.update(draw(st.dictionaries(st.text(max_size=8), json_values, max_size=3)))
    return record


def same_entry(a: Entry, b: Entry) -> bool:
    return type(a) is type(b) and a.record() == b.record() and a.name == b.name


@given(records())
def test_entry_from_record_never_raises_and_round_trips(record: dict[str, object]) -> None:
    entry = entry_from_record(record)
    event(type(entry).__name__)
    if entry is None:
        return
    # Everything a reader of an entry asks works, whatever the record held.
    assert isinstance(entry.name, str) and entry.name.isascii()
    assert isinstance(entry.is_fresh(300, NOW), bool)
    assert entry.who and repr(entry)
    assert isinstance(entry.expiry, int | float) and entry.expiry - entry.expiry == 0
    assert isinstance(entry.fetched_at, int)
    again = entry_from_record(entry.record())
    assert again is not None and same_entry(again, entry)
    # And through the file format itself.
    text = json.dumps({"v": 1, **entry.record()}, sort_keys=True)
    reread = entry_from_record(json.loads(text))
    assert reread is not None and same_entry(reread, entry)


# --- entry files ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("fuzz-cache")


def private_dir(root: Path, name: str) -> Path:
    """A cache directory of this user's alone (made once, reused by every example)."""
    path = root / name
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def write_entry(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)


service_accounts = st.builds(
    ServiceAccountEntry,
    audience=st.text(max_size=30),
    principal=st.text(max_size=30),
    id_token=st.text(max_size=30),
    expiry=st.one_of(st.integers(-(10**17), 10**17), st.floats(-1e17, 1e17)),
    fetched_at=st.integers(-(10**17), 10**17),
    via=st.text("0123456789abcdef", min_size=16, max_size=16),
    source=st.text(max_size=10),
)
users = st.builds(
    UserEntry,
    desktop_client_id=st.text(max_size=30),
    audience=st.text(max_size=30),
    email=st.text(max_size=20),
    id_token=st.text(max_size=30),
    expiry=st.one_of(st.integers(-(10**17), 10**17), st.floats(-1e17, 1e17)),
    fetched_at=st.integers(-(10**17), 10**17),
    refresh_token=st.text(max_size=10),
    client_secret=st.text(max_size=10),
    secrets_in=st.sampled_from(["", "keyring"]),
)
entries = st.one_of(service_accounts, users)
NAME = "sa_x_y_0123456789abcdef"  # the file of the entry below
named = st.builds(
    ServiceAccountEntry,
    audience=st.just("y"),
    principal=st.just("x"),
    via=st.just("0123456789abcdef"),
    id_token=st.text(max_size=30),
    expiry=st.floats(NOW - 10**6, NOW + 10**6),
    fetched_at=st.integers(0, 2 * 10**9),
)


def entry_bytes(entry: Entry, version: object = 1) -> bytes:
    return json.dumps({"v": version, **entry.record()}, indent=1, sort_keys=True).encode()


@st.composite
def damaged(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` cut, with bytes flipped, inserted or removed, or re-encoded."""
    how = draw(st.sampled_from(["cut", "flip", "insert", "delete", "utf16", "bom", "nest"]))
    if how == "utf16":
        return data.decode().encode("utf-16")
    if how == "bom":
        return b"\xef\xbb\xbf" + data
    if how == "nest":
        depth = draw(st.sampled_from([50, 900, 5000, 30000]))
        return data[:-1] + b', "x": ' + b"[" * depth + b"]" * depth + b"}"
    at = draw(st.integers(0, max(len(data) - 1, 0)))
    if how == "cut":
        return data[:at]
    if how == "flip":
        return data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :]
    if how == "insert":
        return data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
    return data[:at] + data[at + 2 :]


@given(
    st.one_of(
        st.binary(max_size=200),
        named.map(entry_bytes),
        named.map(entry_bytes),
        st.one_of(named, entries).map(entry_bytes).flatmap(damaged),
        st.builds(entry_bytes, entries, st.sampled_from([0, 2, "1", 1.0, True, None])),
        records().map(lambda r: json.dumps({"v": 1, **r}).encode()),
    )
)
def test_any_bytes_in_an_entry_file_read_as_an_entry_or_as_absent(
    cache_root: Path, data: bytes
) -> None:
    cache_dir = private_dir(cache_root, "bytes")
    warnings: list[str] = []
    cache = TokenCache(str(cache_dir), warn=warnings.append)
    write_entry(cache_dir / f"{NAME}.json", data)
    entry = cache.load(NAME)
    event("entry" if entry is not None else "absent")
    assert entry is None or entry.name == NAME
    listed = [e.record() for e in cache.entries()]
    assert listed == ([entry.record()] if entry is not None else [])
    assert not warnings  # the file is private: nothing to warn about


@given(entries)
def test_an_entry_written_by_hand_reads_back_the_same(cache_root: Path, entry: Entry) -> None:
    cache_dir = private_dir(cache_root, "round-trip")
    cache = TokenCache(str(cache_dir))
    path = cache_dir / f"{entry.name}.json"
    write_entry(path, entry_bytes(entry))
    try:
        loaded = cache.load(entry.name)
        assert loaded is not None and same_entry(loaded, entry)
        assert cache.store(entry)  # and stored as the cache stores it, the same again
        stored = cache.load(entry.name)
        assert stored is not None and same_entry(stored, entry)
    finally:
        path.unlink()
