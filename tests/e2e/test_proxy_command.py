"""The installed ``flyte-iap proxy`` as a subprocess: it announces its address, keeps
tokens out of its output even with -v, finishes a request in flight on SIGTERM and
exits 0, and without aiohttp says what to install."""

from __future__ import annotations

import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from flyte_iap.emulator import Emulator

from ..cli import Cli, assert_clean_failure
from ..proxy_upstream import Upstream
from ..serving_commands import start_proxy
from ..tokens import AUD, SA, USER, user_args, verify


def test_sigterm_lets_the_request_in_flight_finish_and_no_token_is_shown(
    cli: Cli, emulator: Emulator, upstream: Upstream, home: Path
) -> None:
    key = emulator.write_service_account_key(home / "key.json")
    args = ["--webapp_client_id", AUD, "--service_account_key", str(key)]
    proc, port = start_proxy(cli, "-v", "--upstream", upstream.url, SA, *args)
    assert proc.stderr is not None
    url = f"http://localhost:{port}"
    assert requests.get(f"{url}/fast", timeout=10).status_code == 200
    said: list[str] = []
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(requests.get, f"{url}/held", timeout=60)
        assert upstream.arrived.wait(60)  # in flight: the upstream holds it
        proc.send_signal(signal.SIGTERM)
        for line in proc.stderr:  # it says it stops, and waits for the request
            said.append(line)
            if "stopping" in line:
                break
        upstream.release.set()
        assert held.result().status_code == 200
    assert proc.wait(60) == 0
    out, rest = proc.communicate(timeout=10)
    err = "".join(said) + rest
    assert out == ""
    assert "GET /held -> 200" in err and "stopping" in err
    # What reached the upstream: a token google-auth believes, for each request; none of
    # it in the output, not even with -v.
    assert [s["path"] for s in upstream.seen] == ["/fast", "/held"]
    for seen in upstream.seen:
        token = seen["headers"]["proxy-authorization"].removeprefix("Bearer ")
        verify(emulator, token, emulator.config.service_account_email)
        assert token.rsplit(".", 1)[-1] not in err
    assert "eyJ" not in err  # no JWT, not even a piece of one
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{url}/after", timeout=5)


def test_without_aiohttp_it_says_what_to_install(cli: Cli, tmp_path: Path) -> None:
    shim = tmp_path / "shim" / "aiohttp"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError('aiohttp is not installed here')\n")
    result = cli(
        "proxy", "--upstream", "https://f.example.com", SA, "--webapp_client_id", AUD,
        PYTHONPATH=str(tmp_path / "shim"),
    )  # fmt: skip
    assert result.returncode == 1
    assert (
        result.stderr
        == "flyte-iap: flyte-iap proxy needs aiohttp: pip install 'flyte-iap[proxy]'\n"
    )


def _plant_login(emu: Emulator, cache_dir: Path, refresh_token: str, lifetime: int) -> None:
    """A person's cached login, as `flyte-iap login` leaves it, whose ID token expires soon."""
    from flyte_iap.cache import TokenCache, UserEntry

    c, now = emu.config, int(time.time())
    entry = UserEntry(
        desktop_client_id=c.desktop_client_id,
        audience=c.webapp_client_id,
        email=c.user_email,
        id_token=emu.mint_id_token(iat=now, exp=now + lifetime),
        expiry=now + lifetime,
        fetched_at=now,
        refresh_token=refresh_token,
        client_secret=c.desktop_client_secret,
    )
    assert TokenCache(str(cache_dir)).store(entry)


def test_a_revoked_login_is_answered_401_saying_to_log_in(
    cli: Cli, emulator: Emulator, upstream: Upstream
) -> None:
    # A margin longer than any token lives: every request renews the person's token with
    # the refresh token, so the one after the revocation meets it.
    emulator.config.token_lifetime = 60
    refresh_token = emulator.add_refresh_token()
    _plant_login(emulator, cli.cache_dir, refresh_token, lifetime=60)
    gate = emulator.start_gate(upstream.url)
    args = [*user_args(emulator), "--refresh_margin", "3600"]
    proc, port = start_proxy(cli, "--upstream", gate, USER, *args)  # no login: it is cached
    url = f"http://localhost:{port}"
    try:
        assert requests.get(f"{url}/a", timeout=10).status_code == 200
        requests.post(emulator.revoke_uri, data={"token": refresh_token}, timeout=10)
        answers = [requests.get(f"{url}/b", timeout=10) for _ in range(2)]
        assert [a.status_code for a in answers] == [401, 401]
        assert "flyte-iap login --desktop_client_id" in answers[0].text
        # the person logs in again in a terminal: the proxy picks it up, no restart
        _plant_login(emulator, cli.cache_dir, emulator.add_refresh_token(), lifetime=60)
        assert requests.get(f"{url}/c", timeout=10).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    _, err = proc.communicate(timeout=10)
    assert err.count("run `flyte-iap login --desktop_client_id") == 1, err
    assert "eyJ" not in err
    assert [(r.path, r.verdict) for r in emulator.gate_log] == [
        ("/a", "allowed"),
        ("/c", "allowed"),
    ]


def test_a_listen_port_in_use_is_one_line(cli: Cli, emulator: Emulator, upstream: Upstream) -> None:
    """Another proxy (or anything) already on the port: a clear line, not a traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli(
            "proxy", "--upstream", upstream.url, "--listen", f"127.0.0.1:{port}",
            SA, "--webapp_client_id", AUD, timeout=30,
        )  # fmt: skip
    assert_clean_failure(result, f"cannot listen on 127.0.0.1:{port}", "in use")
    assert result.returncode == 1
    assert "unexpected" not in result.stderr
    assert upstream.seen == []
