"""The cached-token fast path in process: which command lines it answers from the cache,
which it hands to the full command line, and that both agree on the entry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flyte_iap.cache import ServiceAccountEntry, TokenCache, UserEntry
from flyte_iap.cli.fastpath import cached_token
from flyte_iap.cli.options import SERVICE_ACCOUNT_OPTIONS, parse_simple
from flyte_iap.emulator import Emulator
from flyte_iap.google import source_id

from ..cli import InProcessCli
from ..tokens import AUD, SA, USER, sa_args

NOW = 1_900_000_000.0
KEY_EMAIL = "ci@p.iam.gserviceaccount.com"
KEY_INFO = {"type": "service_account", "client_email": KEY_EMAIL}
#: Who obtained a token: the key file above, or the metadata server of this machine.
KEY_VIA = source_id(KEY_INFO, {})


def metadata_via(host: str = "metadata.google.internal") -> str:
    return source_id(None, {"GCE_METADATA_HOST": host})


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def key(tmp_path: Path) -> Path:
    """A key file the fast path reads only for its client_email (no signing here)."""
    path = tmp_path / "key.json"
    path.write_text(json.dumps(KEY_INFO))
    return path


def cache_with(cache_dir: Path, *entries: ServiceAccountEntry | UserEntry) -> TokenCache:
    cache = TokenCache(str(cache_dir))
    for entry in entries:
        assert cache.store(entry)
    return cache


def sa_entry(
    principal: str = KEY_EMAIL, expiry: float = NOW + 3600, via: str = KEY_VIA
) -> ServiceAccountEntry:
    return ServiceAccountEntry(
        audience=AUD, principal=principal, id_token=f"token-of-{principal}", expiry=expiry,
        fetched_at=int(NOW), via=via,
    )  # fmt: skip


def ask(args: list[str], cache_dir: Path, **env: str) -> str | None:
    return cached_token(args, {"FLYTE_IAP_CACHE_DIR": str(cache_dir), **env}, clock=lambda: NOW)


def test_a_fresh_key_file_entry_is_answered(cache_dir: Path, key: Path) -> None:
    cache_with(cache_dir, sa_entry())
    assert ask(sa_args(key=key), cache_dir) == f"token-of-{KEY_EMAIL}"
    assert ask(sa_args(), cache_dir, GOOGLE_APPLICATION_CREDENTIALS=str(key)) == (
        f"token-of-{KEY_EMAIL}"
    )
    dashed = [SA, "--webapp-client-id", AUD, f"--service-account-key={key}"]
    assert ask(dashed, cache_dir) == f"token-of-{KEY_EMAIL}"


@pytest.mark.parametrize(
    ("left", "margin", "answered"),
    [
        (3600, None, True),
        (301, None, True),
        (299, None, False),
        (100, "60", True),
        (59, "60", False),
    ],
)
def test_the_refresh_margin_against_the_clock(
    cache_dir: Path, key: Path, left: int, margin: str | None, answered: bool
) -> None:
    cache_with(cache_dir, sa_entry(expiry=NOW + left))
    extra = ("--refresh_margin", margin) if margin else ()
    assert (ask(sa_args(*extra, key=key), cache_dir) is not None) is answered


@pytest.mark.parametrize(
    "extra",
    [
        ("-v",),
        ("--verbose",),
        ("--help",),
        ("--bogus",),
        ("positional",),
        ("--refresh_margin", "-1"),
        ("--refresh_margin", "nan"),
        ("--refresh_margin",),
        ("--webapp_client_id", AUD),  # given twice
    ],
)
def test_anything_unusual_goes_to_the_full_command_line(
    cache_dir: Path, key: Path, extra: tuple[str, ...]
) -> None:
    cache_with(cache_dir, sa_entry())
    assert ask(sa_args(*extra, key=key), cache_dir) is None


def test_other_commands_and_no_command_are_not_answered(cache_dir: Path) -> None:
    assert ask([], cache_dir) is None
    assert ask(["status"], cache_dir) is None
    assert ask([SA], cache_dir) is None  # the required audience is missing


def test_the_metadata_server_entry_is_found_through_its_remembered_email(
    cache_dir: Path,
) -> None:
    email = "gke@p.iam.gserviceaccount.com"
    host = "127.0.0.1:8089"
    cache = cache_with(cache_dir, sa_entry(principal=email, via=metadata_via(host)))
    assert ask(sa_args(), cache_dir, GCE_METADATA_HOST=host) is None  # never asked before
    cache.remember_metadata_email(metadata_via(host), email)
    assert ask(sa_args(), cache_dir, GCE_METADATA_HOST=host) == f"token-of-{email}"
    assert ask(sa_args(), cache_dir, GCE_METADATA_HOST="127.0.0.1:8090") is None


def test_impersonation_is_keyed_by_the_target_and_the_caller(cache_dir: Path, key: Path) -> None:
    target = "deployer@p.iam.gserviceaccount.com"
    cache_with(cache_dir, sa_entry(principal=target, via=metadata_via()))
    assert ask(sa_args(impersonate=target), cache_dir) == f"token-of-{target}"
    # Another caller (a key file, not the metadata server) does not get that token.
    assert ask(sa_args(key=key, impersonate=target), cache_dir) is None


def test_a_person_entry_is_answered_by_desktop_client_and_audience(cache_dir: Path) -> None:
    entry = UserEntry(
        desktop_client_id="desk", audience=AUD, email="ada@example.com", id_token="user-token",
        expiry=NOW + 3600, fetched_at=int(NOW), refresh_token="r",
    )  # fmt: skip
    cache_with(cache_dir, entry)
    args = [USER, "--desktop_client_id", "desk", "--webapp_client_id", AUD, "--no_browser"]
    assert ask(args, cache_dir) == "user-token"
    assert ask([*args[:2], "other", *args[3:]], cache_dir) is None


def test_an_entry_planted_under_another_identity_is_not_served(cache_dir: Path, key: Path) -> None:
    cache = cache_with(cache_dir, sa_entry(principal="someone-else@p.iam.gserviceaccount.com"))
    (planted,) = Path(cache.directory).glob("sa_*.json")
    planted.rename(cache.path(sa_entry().name))
    assert ask(sa_args(key=key), cache_dir) is None


def test_parse_simple_fills_defaults_with_their_types() -> None:
    values = parse_simple(["--webapp_client_id", AUD], SERVICE_ACCOUNT_OPTIONS)
    assert values == {"webapp_client_id": AUD, "refresh_margin": 300.0}


def test_the_full_command_line_serves_the_same_entry(
    home: Path, emulator: Emulator, tmp_path: Path
) -> None:
    """What the fast path answers is what the use case would: one naming of entries."""
    real_key = emulator.write_service_account_key(tmp_path / "real.json")
    run_cli = InProcessCli(home, emulator.env())
    fetched = run_cli(*sa_args(key=real_key)).token  # the full command line, in process
    assert cached_token(sa_args(key=real_key), run_cli.env) == fetched
    assert run_cli(*sa_args("-v", key=real_key)).token == fetched
    assert emulator.count("token") == 1
