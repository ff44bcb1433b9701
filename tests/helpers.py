"""What the tests share: the CLI run as users run it (a subprocess) or in-process,
the emulator's identities, google-auth's verdict on a token, and a scripted HTTP server.

Constants come from the package (the emulator's own configuration, the CLI's own
command names), never re-declared here.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import google.auth.transport.requests
import requests
from google.oauth2 import id_token

from flyte_iap.cli.app import run
from flyte_iap.cli.options import SERVICE_ACCOUNT_TOKEN_COMMAND, USER_TOKEN_COMMAND
from flyte_iap.cli.wiring import Wiring
from flyte_iap.emulator import Emulator, EmulatorConfig
from flyte_iap.emulator.keys import SigningKey
from flyte_iap.errors import FlyteIapError, LoginError
from flyte_iap.login import LoopbackServer

from .browsers import browser_env, read_log

CONFIG = EmulatorConfig()
AUD = CONFIG.webapp_client_id
SA = SERVICE_ACCOUNT_TOKEN_COMMAND
USER = USER_TOKEN_COMMAND
GOOGLE_ISSUER = "https://accounts.google.com"

# Variables that would leak the developer's own Google setup into a test.
SCRUB = (
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GCE_METADATA_HOST",
    "GCE_METADATA_IP",
    "CLOUDSDK_CONFIG",
    "XDG_CACHE_HOME",
    "BROWSER",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "FLYTE_IAP_DESKTOP_CLIENT_SECRET",
    "PYTHON_KEYRING_BACKEND",
    "FLYTECTL_CONFIG",
)
# Where nothing listens: a metadata server that refuses at once, never Google's real one.
DEAD = "127.0.0.1:9"


# --- command lines ------------------------------------------------------------------------
def sa_args(
    *extra: str, key: Path | str | None = None, impersonate: str | None = None
) -> list[str]:
    """``generate-service-account-id-token --webapp_client_id AUD [--service_account_key K]
    [--impersonate_service_account E] EXTRA...``."""
    args = [SA, "--webapp_client_id", AUD]
    if key is not None:
        args += ["--service_account_key", str(key)]
    if impersonate is not None:
        args += ["--impersonate_service_account", impersonate]
    return [*args, *extra]


def user_args(emu: Emulator, *extra: str) -> list[str]:
    """The options of a person's login with the emulator's clients and secret."""
    c = emu.config
    return [
        "--desktop_client_id",
        c.desktop_client_id,
        "--desktop_client_secret_gcp_secret_name",
        c.desktop_secret_name,
        "--webapp_client_id",
        c.webapp_client_id,
        "--project",
        c.project,
        *extra,
    ]


def user_grants(emu: Emulator) -> list[str]:
    """grant_type of each request to the token endpoint made for the person (not the ADC)."""
    kinds = ("authorization_code", "refresh_token")
    return [
        p["grant_type"]
        for name, p in emu.requests_log
        if name == "token" and p.get("grant_type") in kinds
    ]


# --- verdicts -------------------------------------------------------------------------------
def verify(
    emu: Emulator,
    token: str,
    email: str | None = None,
    *,
    audience: str = AUD,
    azp: str | None = None,
) -> dict[str, Any]:
    """google-auth's check of ``token`` (signature against the emulator's certs, expiry,
    audience), then Google's issuer and, when given, the email and azp; the claims."""
    claims = id_token.verify_token(
        token, google.auth.transport.requests.Request(), audience=audience, certs_url=emu.certs_uri
    )
    assert claims["aud"] == audience
    assert claims["iss"] == GOOGLE_ISSUER
    if email is not None:
        assert claims["email"] == email
    if azp is not None:
        assert claims["azp"] == azp
    return dict(claims)


def verify_user_token(emu: Emulator, token: str) -> dict[str, Any]:
    """A person's token: for the webapp client, authorized by the desktop client."""
    c = emu.config
    return verify(emu, token, c.user_email, audience=c.webapp_client_id, azp=c.desktop_client_id)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str

    @property
    def token(self) -> str:
        assert self.returncode == 0, self.stderr
        assert self.stdout.endswith("\n") and self.stdout.count("\n") == 1, repr(self.stdout)
        return self.stdout[:-1]


def assert_clean_failure(result: Result, *needles: str) -> None:
    """A failure as docs/design.md ("Output") wants it: non-zero, no stdout, 1-2 lines,
    no traceback, and each needle in the message."""
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)


def assert_login_failure(result: Result, *needles: str) -> None:
    """assert_clean_failure, after dropping the login instructions shown before the failure
    (and the warning that a secret given on the command line is visible to ``ps``)."""
    lines = [
        line
        for line in result.stderr.splitlines()
        if not line.startswith("warning: --desktop_client_secret can be read")
    ]
    if lines and lines[0].startswith("flyte-iap: log in in the browser"):
        lines = lines[2:]
    assert_clean_failure(Result(result.returncode, result.stdout, "\n".join(lines)), *needles)


# --- the CLI ---------------------------------------------------------------------------------
def flyte_iap_command() -> list[str]:
    """The installed console script (what users run); `python -m` if not on PATH."""
    script = shutil.which("flyte-iap")
    return [script] if script else [sys.executable, "-m", "flyte_iap"]


def isolated_env(home: Path, env: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without the developer's Google setup, plus ``env``."""
    base = {k: v for k, v in os.environ.items() if k not in SCRUB}
    base.update(HOME=str(home), FLYTE_IAP_CACHE_DIR=str(home / "cache"), GCE_METADATA_HOST=DEAD)
    base.update(env)
    return base


class Cli:
    """Runs `flyte-iap` in a subprocess with an isolated HOME, cache and Google env.

    A keyword argument set to "" removes that variable for the one run.
    """

    def __init__(self, home: Path, env: Mapping[str, str]) -> None:
        self.home = home
        self.cache_dir = home / "cache"
        self.env = isolated_env(home, env)

    def __call__(self, *args: str, timeout: float = 60, **env: str) -> Result:
        proc = subprocess.run(
            [*flyte_iap_command(), *args],
            env=_with(self.env, env),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
            # No controlling terminal: /dev/tty is absent, as under flytekit in CI,
            # and a developer's own terminal is never written to or read from.
            start_new_session=True,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)


class InProcessCli(Cli):
    """The same command line run in this process through ``run`` and a test ``Wiring``:
    no interpreter start, and backoff sleeps recorded instead of slept."""

    def __init__(self, home: Path, env: Mapping[str, str]) -> None:
        super().__init__(home, env)
        self.sleeps: list[float] = []

    def __call__(self, *args: str, timeout: float = 60, **env: str) -> Result:
        out, err = io.StringIO(), io.StringIO()
        wiring = Wiring(_with(self.env, env), sleep=self.sleeps.append)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = run(list(args), wiring)
        return Result(code, out.getvalue(), err.getvalue())


def _with(base: Mapping[str, str], changes: Mapping[str, str]) -> dict[str, str]:
    env = {**base, **changes}
    for key, value in changes.items():
        if value == "":
            env.pop(key, None)
    return env


def run_manifests(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    """``flyte-iap manifests ARGS`` in process, as the main command line reports it:
    (exit code, stdout, stderr); a FlyteIapError becomes 'flyte-iap: msg' and its code."""
    from click.testing import CliRunner

    from flyte_iap.cli.manifests import manifests

    result = CliRunner().invoke(manifests, list(args), input=stdin)
    if isinstance(result.exception, FlyteIapError):
        return result.exception.exit_code, result.stdout, f"flyte-iap: {result.exception}\n"
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


class UserCli(Cli):
    """A Cli whose ADC (for Secret Manager) is the emulator's key and whose browser is scripted."""

    def __init__(self, home: Path, emu: Emulator, kind: str = "http", action: str = "allow"):
        key = emu.write_service_account_key(home / "adc-key.json")
        self.browser_log = home / "browser.jsonl"
        super().__init__(
            home,
            {
                **emu.env(),
                "GOOGLE_APPLICATION_CREDENTIALS": str(key),
                **browser_env(kind, action, self.browser_log),
            },
        )
        self.emu = emu

    def browser_visits(self, expected: int, timeout: float = 30) -> list[dict[str, object]]:
        return read_log(self.browser_log, timeout=timeout, count=expected)

    def cache_entry(self) -> dict[str, object]:
        (path,) = self.cache_dir.glob("user_*.json")
        return dict(json.loads(path.read_text()))


# --- tokens signed by a key of the test's own --------------------------------------------
def signed(key: SigningKey, **changes: Any) -> str:
    """A token as Google would sign it for AUD, with ``changes`` to its claims (None drops one)."""
    now = int(time.time())
    claims = {"iss": GOOGLE_ISSUER, "aud": AUD, "iat": now, "exp": now + 3600, **changes}
    return key.sign_jwt({k: v for k, v in claims.items() if v is not None})


def v1_certs(*keys: SigningKey) -> Reply:
    """What https://www.googleapis.com/oauth2/v1/certs answers: {kid: x509 PEM}."""
    return Reply.json({k.kid: k.certificate_pem() for k in keys})


# --- a scripted HTTP server -----------------------------------------------------------------
@dataclass
class Reply:
    """One scripted answer: status, headers, body, and a delay before it."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0

    @classmethod
    def json(cls, payload: Any, status: int = 200, **headers: str) -> Reply:
        body = json.dumps(payload).encode()
        return cls(status, body, {"Content-Type": "application/json", **headers})

    @classmethod
    def html(cls, text: str, status: int = 200) -> Reply:
        return cls(status, text.encode(), {"Content-Type": "text/html; charset=utf-8"})


class StubServer:
    """Answers every request on 127.0.0.1 with the next scripted :class:`Reply` (the last
    one again when the script runs out) and records what was asked. Stops on exit of the
    ``with`` block, and by itself after ``lifetime`` seconds at the latest."""

    def __init__(self, *replies: Reply, lifetime: float = 60.0) -> None:
        self.replies = list(replies) or [Reply()]
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with stub._lock:
                    stub.requests.append((self.command, self.path, dict(self.headers), body))
                    reply = stub.replies.pop(0) if len(stub.replies) > 1 else stub.replies[0]
                time.sleep(reply.delay)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._timer = threading.Timer(lifetime, self.close)
        self._timer.daemon = True

    def __enter__(self) -> StubServer:
        self._thread.start()
        self._timer.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._timer.cancel()
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()


# --- the loopback server ---------------------------------------------------------------------
STATE = "the-state-of-this-login"
#: What a person reads on the terminal when they choose Deny.
DENIED = (
    "the login was denied in the browser (access_denied); run the command again and choose Allow"
)


def callback(srv: LoopbackServer, **params: str) -> requests.Response:
    """The browser's redirect to the loopback server, with these query parameters."""
    return requests.get(srv.redirect_uri, params=params, timeout=10)


def in_background(get: str) -> Future[requests.Response]:
    """A browser tab GETting ``get`` on a thread of its own: the loopback server holds a
    callback with a code until the login reports how the code's exchange went."""
    page: Future[requests.Response] = Future()

    def fetch() -> None:
        try:
            page.set_result(requests.get(get, timeout=30))
        except BaseException as exc:
            page.set_exception(exc)

    threading.Thread(target=fetch, daemon=True).start()
    return page


def open_tab(srv: LoopbackServer, **params: str) -> Future[requests.Response]:
    """:func:`callback` in a tab of its own (see :func:`in_background`)."""
    query = urllib.parse.urlencode(params)
    return in_background(f"{srv.redirect_uri}?{query}")


def port_of(srv: LoopbackServer) -> int:
    port = urllib.parse.urlsplit(srv.redirect_uri).port
    assert port is not None
    return port


def still_waiting(srv: LoopbackServer) -> bool:
    try:
        srv.wait(0.3)
    except LoginError as exc:
        return "no login within" in str(exc)
    return False
