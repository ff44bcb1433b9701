"""``logout``: the saved login is revoked at Google and deleted here; deleted even when the
revocation fails, which the command then says (exit 1), naming the way to revoke by hand."""

from __future__ import annotations

import time
from pathlib import Path

from flyte_iap.cache import TokenCache, UserEntry, UserStore
from flyte_iap.emulator import Emulator

from ..cli import InProcessCli

DESKTOP = "456-desktop.apps.googleusercontent.com"
AUDIENCE = "123-webapp.apps.googleusercontent.com"
REFRESH = "1//refresh-token-that-must-never-be-shown"
# Nothing listens there: the revocation cannot reach Google.
DEAD_REVOKE = "http://127.0.0.1:9/revoke"


def saved_login(home: Path, refresh_token: str = REFRESH) -> TokenCache:
    cache = TokenCache(str(home / "cache"))
    UserStore(cache, "file", print).save(
        UserEntry(
            desktop_client_id=DESKTOP,
            audience=AUDIENCE,
            email="person@example.com",
            id_token="header.payload.signature",
            expiry=time.time() + 3600,
            fetched_at=int(time.time()),
            refresh_token=refresh_token,
            client_secret="desktop-secret",
        )
    )
    assert [e.name for e in cache.entries()] == [f"user_{DESKTOP}_{AUDIENCE}"]
    return cache


def logout(run_cli: InProcessCli, **env: str) -> tuple[int, str, str]:
    result = run_cli(
        "logout", "--desktop_client_id", DESKTOP, "--webapp_client_id", AUDIENCE, **env
    )
    return result.returncode, result.stdout, result.stderr


def test_a_failed_revocation_still_deletes_the_login(home: Path, run_cli: InProcessCli) -> None:
    cache = saved_login(home)
    code, out, err = logout(run_cli, FLYTE_IAP_REVOKE_URI=DEAD_REVOKE)
    assert (code, out) == (1, "")
    assert err.startswith("flyte-iap: deleted the saved login of person@example.com, but ")
    assert "could not reach the revoke endpoint at 127.0.0.1:9" in err
    assert "https://myaccount.google.com/permissions" in err
    assert list(cache.entries()) == []
    assert REFRESH not in err and "desktop-secret" not in err


def test_a_revocation_that_works_deletes_it_too(
    home: Path, run_cli: InProcessCli, emulator: Emulator
) -> None:
    cache = saved_login(home, emulator.add_refresh_token())
    code, out, err = logout(run_cli)  # the emulator's revoke endpoint
    assert (code, out) == (0, ""), err
    assert err == (
        "flyte-iap: logged out person@example.com (refresh token revoked, cache deleted)\n"
    )
    assert list(cache.entries()) == []
    assert emulator.count("revoke") == 1


def test_no_saved_login_is_said_and_not_an_error(home: Path, run_cli: InProcessCli) -> None:
    code, _, err = logout(run_cli)
    assert code == 0
    assert err == f"flyte-iap: no saved login for {DESKTOP} / {AUDIENCE}\n"
