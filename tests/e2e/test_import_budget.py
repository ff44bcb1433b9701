"""What each token command loads, read from a real run's ``sys.modules``: every heavy
import stays behind the path that needs it (issue #18). The import-linter contract
checks the fast path's modules statically; these runs check what a process really
loaded, lazy imports included. Times are measured by bench/speed.py, not here."""

from __future__ import annotations

import ast
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flyte_iap.cache import TokenCache, UserEntry
from flyte_iap.emulator import Emulator

from ..cli import Cli
from ..tokens import USER, sa_args, user_args, verify, verify_user_token

#: A probe that runs the command line in process and then lists, on stderr, the
#: modules of ``WATCHED`` that the run loaded.
PROBE = """\
import sys
from flyte_iap.cli import main
code = main(sys.argv[2:])
watched = set(sys.argv[1].split(","))
loaded = sorted(m for m in sys.modules if m in watched or m.split(".")[0] in watched)
print("LOADED", loaded, file=sys.stderr)
raise SystemExit(code)
"""

#: Never on any token command's path (they need no browser, click, or third-party HTTP).
NEVER = ["click", "requests", "urllib3", "aiohttp", "yaml", "keyring", "asyncio", "webbrowser"]
NEVER += ["http.server", "socketserver", "tempfile", "flyte_iap.login.loopback"]
#: The cached answer: not even the standard library's parsers or the HTTP stack.
CACHED = [*NEVER, "google", "cryptography", "http", "ssl", "socket", "json", "re", "enum"]
CACHED += ["shlex", "dataclasses", "typing", "pathlib", "flyte_iap.transport"]
#: A first fetch with a key file: cryptography signs, http.client posts; google-auth is
#: for the protocols it alone carries (federation, impersonation, the metadata server).
FIRST_FETCH = [*NEVER, "google", "flyte_iap.login", "flyte_iap.google.verify", "dataclasses"]
FIRST_FETCH += ["cryptography.hazmat.primitives.serialization", "cryptography.x509"]
#: A person's refresh: the refresh-token grant, no key to sign with.
REFRESH = [*NEVER, "google", "cryptography", "dataclasses", "typing", "flyte_iap.google.verify"]


def _loaded(
    cli: Cli, tmp_path: Path, watched: list[str], *args: str, before: str = ""
) -> tuple[str, list[str]]:
    """Run the command line in a probe (``before``: code the probe runs first); what it
    printed on stdout (a token) and the watched modules it loaded."""
    probe = tmp_path / "probe.py"
    probe.write_text(before + PROBE)
    proc = subprocess.run(
        [sys.executable, "-P", str(probe), ",".join(watched), *args],
        env=cli.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    marker = [line for line in proc.stderr.splitlines() if line.startswith("LOADED ")]
    assert len(marker) == 1, proc.stderr
    return proc.stdout.strip(), ast.literal_eval(marker[0][len("LOADED ") :])


def test_a_cached_token_loads_nothing_heavy(cli: Cli, key: Path, tmp_path: Path) -> None:
    first = cli(*sa_args(key=key)).token
    token, loaded = _loaded(cli, tmp_path, CACHED, *sa_args(key=key))
    assert token == first
    assert loaded == []


def test_a_first_fetch_loads_only_what_signing_and_posting_need(
    cli: Cli, emulator: Emulator, key: Path, tmp_path: Path
) -> None:
    token, loaded = _loaded(cli, tmp_path, [*FIRST_FETCH, "cryptography"], *sa_args(key=key))
    verify(emulator, token, emulator.config.service_account_email)
    assert emulator.count("token") == 1  # it did fetch
    assert loaded and all(m.startswith("cryptography.") or m == "cryptography" for m in loaded)
    assert not [m for m in loaded if m.startswith(tuple(FIRST_FETCH))]


def test_a_persons_refresh_loads_no_browser_and_no_signer(
    cli: Cli, emulator: Emulator, tmp_path: Path
) -> None:
    c, now = emulator.config, int(time.time())
    expired = UserEntry(
        desktop_client_id=c.desktop_client_id,
        audience=c.webapp_client_id,
        email=c.user_email,
        id_token=emulator.mint_id_token(iat=now - 3600, exp=now - 1),
        expiry=now - 1,
        fetched_at=now - 3600,
        refresh_token=emulator.add_refresh_token(),
        client_secret=c.desktop_client_secret,
    )
    assert TokenCache(str(cli.cache_dir)).store(expired)
    token, loaded = _loaded(cli, tmp_path, REFRESH, USER, *user_args(emulator))
    assert token != expired.id_token
    verify_user_token(emulator, token)
    assert loaded == []


@pytest.mark.parametrize("module", ["asyncio", "click", "cryptography"])
def test_the_watch_sees_a_module_that_was_loaded(cli: Cli, tmp_path: Path, module: str) -> None:
    """A control for the probe itself: ``--help`` goes through click, and a module
    imported before the run is listed, so an empty list above means "not loaded"."""
    _, loaded = _loaded(cli, tmp_path, [module, "json"], "--help", before=f"import {module}\n")
    assert loaded[:1] == [module]
