"""The token cache: its on-disk records, locks, directory choice, and fresh-or-fetch."""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from flyte_iap.cache import (
    Entry,
    FileLock,
    NoLock,
    ServiceAccountEntry,
    TokenCache,
    UserEntry,
    UserStore,
    default_cache_dir,
    entry_from_record,
    entry_name,
    metadata_alias_name,
)
from flyte_iap.errors import CacheError
from flyte_iap.tokens import CacheKey, fresh_or_fetch

NOW = 1_700_000_000.0
MARGIN = 300.0
PRINCIPAL = "ci@project.iam.gserviceaccount.com"
AUDIENCE = "123-abc.apps.googleusercontent.com"
CLIENT_ID = "456-desktop.apps.googleusercontent.com"
VIA = "0123456789abcdef"

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


def clock() -> float:
    return NOW


def sa_entry(
    *,
    id_token: str = "sa-token",
    expiry: float = NOW + 3600,
    principal: str = PRINCIPAL,
    audience: str = AUDIENCE,
    source: str = "",
    via: str = VIA,
) -> ServiceAccountEntry:
    return ServiceAccountEntry(
        audience=audience,
        principal=principal,
        via=via,
        id_token=id_token,
        expiry=expiry,
        fetched_at=int(NOW),
        source=source,
    )


def user_entry(
    *,
    id_token: str = "user-token",
    expiry: float = NOW + 3600,
    refresh_token: str = "",
    client_secret: str = "",
    secrets_in: str = "",
) -> UserEntry:
    return UserEntry(
        desktop_client_id=CLIENT_ID,
        audience=AUDIENCE,
        email="ada@example.com",
        id_token=id_token,
        expiry=expiry,
        fetched_at=int(NOW),
        refresh_token=refresh_token,
        client_secret=client_secret,
        secrets_in=secrets_in,
    )


def write_raw(cache: TokenCache, name: str, text: str) -> None:
    """Put ``text`` in the file of entry ``name``, as another program (or a bug) might,
    with the modes this user's own writes have (0700 directory, 0600 file)."""
    os.makedirs(cache.directory, mode=0o700, exist_ok=True)
    path = Path(cache.path(name))
    path.write_text(text, encoding="utf-8")
    path.chmod(0o600)


def with_raw_field(entry: Entry, key: str, literal: str) -> str:
    """The entry's file text with ``key`` set to a raw JSON literal (NaN, 1e400, ...)."""
    return json.dumps({"v": 1, **entry.record(), key: "@@"}).replace('"@@"', literal)


def on_disk(cache: TokenCache, name: str) -> dict[str, object]:
    record: dict[str, object] = json.loads(Path(cache.path(name)).read_text(encoding="utf-8"))
    return record


@pytest.fixture
def cache(tmp_path: Path) -> TokenCache:
    return TokenCache(str(tmp_path / "cache"))


# --- records on disk -------------------------------------------------------------------------


def test_service_account_entry_round_trips_with_its_exact_record(cache: TokenCache) -> None:
    entry = sa_entry(source="key file /k.json")

    assert cache.store(entry) is True

    assert on_disk(cache, entry.name) == {
        "v": 1,
        "kind": "service_account",
        "audience": AUDIENCE,
        "principal": PRINCIPAL,
        "via": VIA,
        "id_token": "sa-token",
        "expiry": NOW + 3600,
        "fetched_at": int(NOW),
        "source": "key file /k.json",
    }
    loaded = cache.load(entry.name)
    assert isinstance(loaded, ServiceAccountEntry)
    assert loaded.record() == entry.record()
    assert loaded.name == entry.name


def test_user_entry_round_trips_with_its_secrets(cache: TokenCache) -> None:
    entry = user_entry(refresh_token="rt-1", client_secret="cs-1")

    assert cache.store(entry) is True

    assert on_disk(cache, entry.name) == {
        "v": 1,
        "kind": "user",
        "audience": AUDIENCE,
        "desktop_client_id": CLIENT_ID,
        "email": "ada@example.com",
        "id_token": "user-token",
        "expiry": NOW + 3600,
        "fetched_at": int(NOW),
        "refresh_token": "rt-1",
        "client_secret": "cs-1",
    }
    loaded = cache.load(entry.name)
    assert isinstance(loaded, UserEntry)
    assert loaded.record() == entry.record()
    assert (loaded.refresh_token, loaded.client_secret, loaded.secrets_in) == ("rt-1", "cs-1", "")


def test_user_entry_without_secrets_omits_their_keys_and_names_the_keyring_only_when_set(
    cache: TokenCache,
) -> None:
    bare = user_entry()
    cache.store(bare)
    assert set(on_disk(cache, bare.name)) == {
        "v",
        "kind",
        "audience",
        "desktop_client_id",
        "email",
        "id_token",
        "expiry",
        "fetched_at",
    }

    cache.store(user_entry(secrets_in="keyring"))
    record = on_disk(cache, bare.name)
    assert record["secrets_in"] == "keyring"
    assert "refresh_token" not in record
    assert "client_secret" not in record
    loaded = cache.load(bare.name)
    assert isinstance(loaded, UserEntry)
    assert loaded.secrets_in == "keyring"


@posix_only
def test_entry_is_0600_in_an_existing_directory_left_as_it_was(tmp_path: Path) -> None:
    directory = tmp_path / "cache"
    directory.mkdir()
    os.chmod(directory, 0o755)  # a directory of ours that others may read, not write
    cache = TokenCache(str(directory))
    entry = sa_entry()

    assert cache.store(entry)
    assert cache.store(sa_entry(id_token="second"))  # a rewrite replaces, leaves nothing

    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o755  # never chmod-ed
    assert stat.S_IMODE(os.stat(cache.path(entry.name)).st_mode) == 0o600
    assert os.listdir(directory) == [entry.name + ".json"]
    loaded = cache.load(entry.name)
    assert loaded is not None
    assert loaded.id_token == "second"


@posix_only
def test_a_missing_directory_is_created_0700(tmp_path: Path) -> None:
    directory = tmp_path / "a" / "cache"
    cache = TokenCache(str(directory))

    assert cache.store(sa_entry())

    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700


def test_entry_file_names_are_readable_escaped_and_bounded() -> None:
    assert sa_entry().name == f"sa_{PRINCIPAL}_{AUDIENCE}_{VIA}"
    assert user_entry().name == f"user_{CLIENT_ID}_{AUDIENCE}"
    assert entry_name("sa", "a_b", "c/d") == "sa_a%5Fb_c%2Fd"  # "_" separates, so is escaped
    assert entry_name("sa", "a_b", "c") != entry_name("sa", "a", "b_c")
    long = entry_name("user", "x" * 200, AUDIENCE)
    assert long.startswith("user_")
    assert len(long) == len("user_") + 40
    assert long == entry_name("user", "x" * 200, AUDIENCE)


# --- what load refuses -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(None, id="missing"),
        pytest.param('{"v": 1, "kind": "service_account", ', id="invalid-json"),
        pytest.param("", id="empty-file"),
        pytest.param('[{"v": 1, "kind": "service_account"}]', id="json-list"),
        pytest.param('"v"', id="json-string"),
        pytest.param("{v2}", id="another-version"),
        pytest.param("{nov}", id="no-version"),
        pytest.param("{kind}", id="unknown-kind"),
        pytest.param("{nokind}", id="no-kind"),
    ],
)
def test_load_returns_none_for_what_is_not_an_entry(cache: TokenCache, text: str | None) -> None:
    entry = sa_entry()
    good = {"v": 1, **entry.record()}
    variants = {
        "{v2}": {**good, "v": 2},
        "{nov}": {k: v for k, v in good.items() if k != "v"},
        "{kind}": {**good, "kind": "robot"},
        "{nokind}": {k: v for k, v in good.items() if k != "kind"},
    }
    if text is None:
        os.makedirs(cache.directory)
    else:
        write_raw(cache, entry.name, json.dumps(variants[text]) if text in variants else text)

    assert cache.load(entry.name) is None
    assert list(cache.entries()) == []


def test_an_entry_copied_under_another_identitys_name_is_not_served(cache: TokenCache) -> None:
    mine = sa_entry(principal="mine@p.iam.gserviceaccount.com", id_token="mine")
    theirs = sa_entry(principal="theirs@p.iam.gserviceaccount.com", id_token="theirs")
    cache.store(theirs)
    shutil.copyfile(cache.path(theirs.name), cache.path(mine.name))

    assert cache.load(mine.name) is None
    still = cache.load(theirs.name)
    assert still is not None
    assert still.id_token == "theirs"
    assert [e.name for e in cache.entries()] == [theirs.name]


@pytest.mark.parametrize(
    "expiry", ['"soon"', "true", "false", "null", '{"at": 1}', "[1]", "NaN", "-Infinity"]
)
def test_an_expiry_of_the_wrong_kind_is_never_fresh(cache: TokenCache, expiry: str) -> None:
    entry = sa_entry()
    write_raw(cache, entry.name, with_raw_field(entry, "expiry", expiry))

    loaded = cache.load(entry.name)

    assert loaded is not None
    assert loaded.id_token == "sa-token"
    assert not loaded.is_fresh(MARGIN, NOW)
    assert not loaded.is_fresh(0.0, 0.0)


@pytest.mark.parametrize(
    "fetched_at", ["1e400", "-1e400", "NaN", "Infinity", "1" + "0" * 40, "1e30", '"x"', "true"]
)
def test_a_huge_or_bad_fetched_at_reads_as_zero(cache: TokenCache, fetched_at: str) -> None:
    entry = sa_entry()
    write_raw(cache, entry.name, with_raw_field(entry, "fetched_at", fetched_at))

    loaded = cache.load(entry.name)

    assert loaded is not None
    assert loaded.fetched_at == 0
    assert loaded.is_fresh(MARGIN, NOW)  # the rest of the entry is still good
    json.dumps(loaded.record(), allow_nan=False)  # and writes back as plain JSON


def test_text_fields_of_the_wrong_type_read_as_empty() -> None:
    record = {**sa_entry().record(), "id_token": 42, "principal": ["x"], "source": None}

    entry = entry_from_record(record)

    assert isinstance(entry, ServiceAccountEntry)
    assert (entry.id_token, entry.principal, entry.source) == ("", "", "")
    assert not entry.is_fresh(MARGIN, NOW)


@pytest.mark.parametrize("raw", ["1" + "0" * 400, "1e400", "Infinity"])
def test_an_expiry_too_large_reads_as_stale_not_as_a_crash_or_forever(
    cache: TokenCache, raw: str
) -> None:
    entry = sa_entry()
    write_raw(cache, entry.name, with_raw_field(entry, "expiry", raw))

    loaded = cache.load(entry.name)

    assert loaded is not None
    assert not loaded.is_fresh(300, NOW)
    assert not loaded.is_fresh(MARGIN, NOW)


# --- is_fresh ------------------------------------------------------------------------------


def test_is_fresh_needs_strictly_more_than_the_margin_left() -> None:
    entry = sa_entry(expiry=NOW + MARGIN)

    assert not entry.is_fresh(MARGIN, NOW)  # exactly at the boundary
    assert entry.is_fresh(MARGIN, NOW - 0.001)
    assert entry.is_fresh(MARGIN - 1, NOW)
    assert not entry.is_fresh(MARGIN, NOW + 1)
    assert not entry.is_fresh(0.0, NOW + MARGIN)  # expired at its expiry, even with no margin
    assert entry.is_fresh(0.0, NOW + MARGIN - 0.5)


def test_an_empty_id_token_is_never_fresh() -> None:
    assert not sa_entry(id_token="", expiry=NOW + 10**6).is_fresh(0.0, NOW)
    assert not user_entry(id_token="", expiry=NOW + 10**6, refresh_token="rt").is_fresh(0.0, NOW)


def test_repr_never_shows_the_token() -> None:
    entry = user_entry(id_token="SECRET-ID", refresh_token="SECRET-RT", client_secret="SECRET-CS")

    assert "SECRET" not in repr(entry)
    assert entry.name in repr(entry)


# --- entries() -------------------------------------------------------------------------------


def test_entries_yields_only_token_entries(cache: TokenCache) -> None:
    sa, user = sa_entry(), user_entry(refresh_token="rt")
    cache.store(sa)
    cache.store(user)
    cache.remember_metadata_email("metadata.google.internal", PRINCIPAL)
    with cache.lock(sa.name, 1.0):
        pass
    directory = Path(cache.directory)
    stray = sa_entry(principal="stray@p.iam.gserviceaccount.com")
    (directory / f".{stray.name}.abc123.tmp").write_text(
        json.dumps({"v": 1, **stray.record()}), encoding="utf-8"
    )
    (directory / "sa_broken.json").write_text("{", encoding="utf-8")

    found = sorted(e.name for e in cache.entries())

    assert found == sorted([sa.name, user.name])
    files = set(os.listdir(directory))
    assert {metadata_alias_name("metadata.google.internal") + ".json", sa.name + ".lock"} <= files
    assert cache.metadata_email("metadata.google.internal") == PRINCIPAL
    assert cache.metadata_email("other-host") is None


def test_the_metadata_alias_is_not_an_entry(cache: TokenCache) -> None:
    cache.remember_metadata_email("169.254.169.254", PRINCIPAL)
    alias = metadata_alias_name("169.254.169.254")

    assert on_disk(cache, alias) == {"v": 1, "email": PRINCIPAL}
    assert cache.load(alias) is None
    assert list(cache.entries()) == []


def test_every_method_tolerates_a_missing_directory(tmp_path: Path) -> None:
    cache = TokenCache(str(tmp_path / "absent"))

    assert cache.load("sa_x") is None
    assert cache.read("sa_x") is None
    assert list(cache.entries()) == []
    assert cache.delete("sa_x") is False
    assert cache.metadata_email("host") is None
    assert not (tmp_path / "absent").exists()


def test_delete_returns_true_then_false(cache: TokenCache) -> None:
    entry = sa_entry()
    cache.store(entry)

    assert cache.delete(entry.name) is True
    assert cache.delete(entry.name) is False
    assert cache.load(entry.name) is None


# --- an unwritable cache -------------------------------------------------------------------------


def test_an_unwritable_cache_warns_once_and_locks_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory", encoding="utf-8")
    directory = blocker / "cache"
    messages: list[str] = []
    cache = TokenCache(str(directory), warn=messages.append)

    assert cache.store(sa_entry()) is False
    assert cache.store(user_entry()) is False
    cache.remember_metadata_email("host", PRINCIPAL)
    lock = cache.lock("sa_x", 1.0)

    assert isinstance(lock, NoLock)
    with lock as held:
        assert held is lock
    assert len(messages) == 1
    assert str(directory) in messages[0]
    assert "FLYTE_IAP_CACHE_DIR" in messages[0]
    assert cache.load(sa_entry().name) is None
    assert list(cache.entries()) == []


def test_without_a_warn_callback_an_unwritable_cache_is_quiet(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")

    cache = TokenCache(str(blocker / "cache"))

    assert cache.store(sa_entry()) is False
    assert isinstance(cache.lock("sa_x", 1.0), NoLock)


# --- FileLock --------------------------------------------------------------------------------


def test_a_second_lock_on_the_same_name_times_out_then_succeeds(cache: TokenCache) -> None:
    first = cache.lock("sa_x", 1.0)
    second = cache.lock("sa_x", 0.2)
    assert isinstance(first, FileLock)
    assert isinstance(second, FileLock)
    lock_path = os.path.join(cache.directory, "sa_x.lock")

    with first:
        started = time.monotonic()
        with pytest.raises(CacheError) as info, second:
            pytest.fail("the second lock was granted while the first was held")
        waited = time.monotonic() - started

    assert waited >= 0.2
    message = str(info.value)
    assert lock_path in message
    assert "for 0.2 s" in message
    with second:
        assert os.path.exists(lock_path)
    with first:  # and the first can be taken again once the second let go
        pass


def test_a_lock_waits_for_its_holder_to_let_go(tmp_path: Path) -> None:
    """The holder (another process, played by a timer) lets go after 0.1 s; the second
    lock waits for that, within its 30 s (a hang guard: it raises when they pass)."""
    path = str(tmp_path / "sa_y.lock")
    first = FileLock(path, 1.0)
    first.__enter__()
    releaser = threading.Timer(0.1, first.__exit__, (None, None, None))
    started = time.monotonic()
    releaser.start()
    try:
        with FileLock(path, 30.0, poll=0.01):
            waited = time.monotonic() - started
    finally:
        releaser.join()

    assert waited >= 0.09  # it was held until the holder let go (load only adds to it)


def test_locks_on_different_names_do_not_block_each_other(cache: TokenCache) -> None:
    with cache.lock("sa_a", 0.2), cache.lock("sa_b", 0.2):
        assert {"sa_a.lock", "sa_b.lock"} <= set(os.listdir(cache.directory))


# --- default_cache_dir ----------------------------------------------------------------------


@posix_only
def test_flyte_iap_cache_dir_wins_with_its_tilde_expanded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    env = {"FLYTE_IAP_CACHE_DIR": "~/tokens", "XDG_CACHE_HOME": str(tmp_path / "xdg")}

    assert default_cache_dir(env) == str(tmp_path / "home" / "tokens")
    assert default_cache_dir({"FLYTE_IAP_CACHE_DIR": "/abs/dir"}) == "/abs/dir"


@posix_only
def test_an_absolute_xdg_cache_home_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))

    assert default_cache_dir({"XDG_CACHE_HOME": str(tmp_path / "xdg")}) == str(
        tmp_path / "xdg" / "flyte-iap"
    )
    assert default_cache_dir(
        {"FLYTE_IAP_CACHE_DIR": "", "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    ) == str(tmp_path / "xdg" / "flyte-iap")


@posix_only
@pytest.mark.parametrize(
    "env",
    [{}, {"XDG_CACHE_HOME": "relative/cache"}, {"XDG_CACHE_HOME": ""}],
    ids=["nothing-set", "relative-xdg", "empty-xdg"],
)
def test_otherwise_the_cache_is_under_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))

    assert default_cache_dir(env) == str(tmp_path / "home" / ".cache" / "flyte-iap")


# --- fresh_or_fetch --------------------------------------------------------------------------


class Planner:
    """A ``plan`` that counts its calls and returns a fetch recording what it was given."""

    def __init__(self, fetch: Callable[[Entry | None], Entry]) -> None:
        self.plans = 0
        self.given: list[Entry | None] = []
        self._fetch = fetch
        self._guard = threading.Lock()

    def plan(self) -> Callable[[Entry | None], Entry]:
        with self._guard:
            self.plans += 1
        return self.fetch

    def fetch(self, current: Entry | None) -> Entry:
        with self._guard:
            self.given.append(current)
        return self._fetch(current)


def unchanged(current: Entry | None) -> Entry:
    """A fetch that hands back what the cache held (a refresh that found nothing to do)."""
    assert current is not None
    return current


def same_key(name: str) -> Callable[[], CacheKey]:
    return lambda: CacheKey(name, name)


def test_a_fresh_entry_is_served_without_planning(cache: TokenCache) -> None:
    entry = sa_entry(id_token="cached")
    cache.store(entry)
    planner = Planner(lambda current: sa_entry(id_token="new"))
    debug: list[str] = []

    got = fresh_or_fetch(
        cache,
        same_key(entry.name),
        margin=MARGIN,
        clock=clock,
        wait=1.0,
        plan=planner.plan,
        debug=debug.append,
    )

    assert got.id_token == "cached"
    assert planner.plans == 0
    assert planner.given == []
    assert any(cache.path(entry.name) in line for line in debug)


def test_a_stale_entry_is_planned_once_fetched_with_and_stored(cache: TokenCache) -> None:
    stale = sa_entry(id_token="stale", expiry=NOW + MARGIN)  # exactly at the margin: stale
    cache.store(stale)
    planner = Planner(lambda current: sa_entry(id_token="new"))

    got = fresh_or_fetch(
        cache, same_key(stale.name), margin=MARGIN, clock=clock, wait=1.0, plan=planner.plan
    )

    assert got.id_token == "new"
    assert planner.plans == 1
    assert len(planner.given) == 1
    given = planner.given[0]
    assert given is not None
    assert given.id_token == "stale"
    stored = cache.load(stale.name)
    assert stored is not None
    assert stored.id_token == "new"


def test_an_empty_cache_fetches_with_none(cache: TokenCache) -> None:
    planner = Planner(lambda current: sa_entry(id_token="new"))

    got = fresh_or_fetch(
        cache, same_key(sa_entry().name), margin=MARGIN, clock=clock, wait=1.0, plan=planner.plan
    )

    assert got.id_token == "new"
    assert planner.given == [None]
    assert cache.load(sa_entry().name) is not None


def test_an_entry_the_fetch_hands_back_unchanged_is_not_written_again(cache: TokenCache) -> None:
    stale = sa_entry(id_token="stale", expiry=NOW - 1)
    cache.store(stale)
    path = cache.path(stale.name)
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    before = os.stat(path)
    planner = Planner(unchanged)

    got = fresh_or_fetch(
        cache, same_key(stale.name), margin=MARGIN, clock=clock, wait=1.0, plan=planner.plan
    )

    after = os.stat(path)
    assert got.id_token == "stale"
    assert got is planner.given[0]
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_load_and_save_overrides_are_used_under_the_lock(cache: TokenCache) -> None:
    held = user_entry(id_token="old", expiry=NOW - 1, refresh_token="rt")
    loads: list[str] = []
    saves: list[Entry] = []

    def load(name: str) -> Entry | None:
        loads.append(name)
        return held

    same = fresh_or_fetch(
        cache,
        same_key(held.name),
        margin=MARGIN,
        clock=clock,
        wait=1.0,
        plan=Planner(unchanged).plan,
        load=load,
        save=saves.append,
    )
    assert same is held
    assert saves == []

    renewed = user_entry(id_token="renewed")
    planner = Planner(lambda current: renewed)
    got = fresh_or_fetch(
        cache,
        same_key(held.name),
        margin=MARGIN,
        clock=clock,
        wait=1.0,
        plan=planner.plan,
        load=load,
        save=saves.append,
    )

    assert got is renewed
    assert planner.given == [held]
    assert saves == [renewed]
    assert loads == [held.name, held.name]
    assert cache.load(held.name) is None  # the override saved it, not the file cache


def test_force_fetches_even_when_fresh(cache: TokenCache) -> None:
    fresh = sa_entry(id_token="fresh")
    cache.store(fresh)
    planner = Planner(lambda current: sa_entry(id_token="forced"))

    got = fresh_or_fetch(
        cache,
        same_key(fresh.name),
        margin=MARGIN,
        clock=clock,
        wait=1.0,
        plan=planner.plan,
        force=True,
    )

    assert got.id_token == "forced"
    assert planner.plans == 1
    assert len(planner.given) == 1
    given = planner.given[0]
    assert given is not None
    assert given.id_token == "fresh"  # the fetch still sees what the cache holds
    stored = cache.load(fresh.name)
    assert stored is not None
    assert stored.id_token == "forced"


def test_the_key_is_asked_again_under_the_lock(cache: TokenCache) -> None:
    entry = sa_entry(id_token="fetched-by-another")
    cache.store(entry)
    keys = iter([CacheKey(None, "lock"), CacheKey(entry.name, "lock")])
    planner = Planner(lambda current: sa_entry(id_token="should-not-fetch"))

    got = fresh_or_fetch(
        cache, lambda: next(keys), margin=MARGIN, clock=clock, wait=1.0, plan=planner.plan
    )

    assert got.id_token == "fetched-by-another"
    assert planner.plans == 1  # the first look had no name: a miss
    assert planner.given == []  # but under the lock the entry was found fresh
    assert "lock.lock" in os.listdir(cache.directory)  # the first key's lock was taken
    assert next(keys, None) is None  # asked exactly twice


def test_concurrent_callers_make_one_fetch_between_them(cache: TokenCache) -> None:
    """All eight miss the cache and go for the lock before the first fetch ends (it waits
    for that): the one fetch is shared by all, found under the lock by the others."""
    callers = 8
    name = sa_entry().name
    fetches: list[int] = []
    guard = threading.Lock()
    all_missed = threading.Event()

    def plan() -> Callable[[Entry | None], Entry]:
        fetch = planner.plan()
        if planner.plans == callers:
            all_missed.set()
        return fetch

    def fetch_once_all_missed(current: Entry | None) -> Entry:
        with guard:
            fetches.append(len(fetches) + 1)
            number = len(fetches)
        assert all_missed.wait(10), "not every caller missed the cache"  # a hang guard
        return sa_entry(id_token=f"fetched-{number}")

    planner = Planner(fetch_once_all_missed)
    barrier = threading.Barrier(callers)
    results: list[str] = []
    errors: list[BaseException] = []

    def call() -> None:
        try:
            barrier.wait(timeout=10)
            entry = fresh_or_fetch(
                cache, same_key(name), margin=MARGIN, clock=clock, wait=30.0, plan=plan
            )
            with guard:
                results.append(entry.id_token)
        except BaseException as exc:
            with guard:
                errors.append(exc)

    threads = [threading.Thread(target=call) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert fetches == [1]
    assert results == ["fetched-1"] * callers
    assert planner.plans == callers
    stored = cache.load(name)
    assert stored is not None
    assert stored.id_token == "fetched-1"


# --- UserStore, file backend ------------------------------------------------------------------


def test_user_store_file_backend_keeps_secrets_in_the_file(cache: TokenCache) -> None:
    messages: list[str] = []
    store = UserStore(cache, "file", warn=messages.append)
    entry = user_entry(refresh_token="rt-1", client_secret="cs-1")

    store.save(entry)

    record = on_disk(cache, entry.name)
    assert (record["refresh_token"], record["client_secret"]) == ("rt-1", "cs-1")
    assert "secrets_in" not in record
    loaded = store.load(entry.name)
    assert loaded is not None
    assert (loaded.refresh_token, loaded.client_secret, loaded.secrets_in) == ("rt-1", "cs-1", "")
    assert loaded.id_token == "user-token"
    assert messages == []


def test_without_refresh_token_keeps_the_client_secret(cache: TokenCache) -> None:
    store = UserStore(cache, "file", warn=lambda message: None)
    entry = user_entry(refresh_token="rt-1", client_secret="cs-1", secrets_in="keyring")

    revoked = entry.without_refresh_token()

    assert revoked.refresh_token == ""
    assert revoked.client_secret == "cs-1"
    assert revoked.secrets_in == "keyring"
    assert revoked.public_record() == entry.public_record()
    assert revoked.secrets() == {"client_secret": "cs-1"}

    store.save(user_entry(refresh_token="rt-1", client_secret="cs-1").without_refresh_token())
    record = on_disk(cache, entry.name)
    assert "refresh_token" not in record
    assert record["client_secret"] == "cs-1"
    loaded = store.load(entry.name)
    assert loaded is not None
    assert (loaded.refresh_token, loaded.client_secret) == ("", "cs-1")


def test_user_store_delete_returns_true_then_false(cache: TokenCache) -> None:
    store = UserStore(cache, "file", warn=lambda message: None)
    entry = user_entry(refresh_token="rt-1")
    store.save(entry)

    assert store.delete(entry.name) is True
    assert store.delete(entry.name) is False
    assert store.load(entry.name) is None


def test_user_store_does_not_serve_a_service_account_entry(cache: TokenCache) -> None:
    store = UserStore(cache, "file", warn=lambda message: None)
    entry = sa_entry()
    cache.store(entry)

    assert store.load(entry.name) is None


def test_an_entry_that_cannot_be_removed_is_a_cache_error_not_a_crash(cache: TokenCache) -> None:
    entry = sa_entry()
    os.makedirs(cache.path(entry.name))  # what logout finds there is a directory

    with pytest.raises(CacheError, match="cannot remove"):
        cache.delete(entry.name)
