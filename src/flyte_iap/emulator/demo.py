"""`flyte-iap demo`: the whole flow, service account and person, against this emulator.

Runs the real command line in subprocesses, exactly as flytekit's
``proxyCommand`` would, so a newcomer sees fetch, verification and the cache
hit with no Google project.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from flyte_iap.emulator.config import EmulatorConfig
from flyte_iap.emulator.emulator import Emulator
from flyte_iap.emulator.keys import parse_jwt

SA = "generate-service-account-id-token"


def run_demo(out: TextIO) -> None:
    """Print the demo to ``out``; raises if any step does not behave as shown."""
    config = EmulatorConfig(auto_approve=True)  # the demo plays the person who clicks Allow
    with tempfile.TemporaryDirectory(prefix="flyte-iap-demo-") as scratch, Emulator(config) as emu:
        config = emu.config
        env = {**os.environ, **emu.env(), "FLYTE_IAP_CACHE_DIR": f"{scratch}/cache"}
        env.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
        key = emu.write_service_account_key(Path(scratch) / "key.json")
        audience = config.webapp_client_id

        def flyte_iap(*args: str) -> tuple[str, float]:
            start = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-m", "flyte_iap", *args],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            elapsed = time.perf_counter() - start
            if proc.returncode != 0:
                raise RuntimeError(f"flyte-iap {' '.join(args)} failed: {proc.stderr.strip()}")
            return proc.stdout.strip(), elapsed

        say = out.write
        say(f"1. A local stand-in for Google is serving on {emu.url}\n")
        say(f"   service-account key: {key}\n   IAP audience: {audience}\n\n")
        args = (SA, "--webapp_client_id", audience, "--service_account_key", str(key))
        say(
            f"2. $ flyte-iap {SA} --webapp_client_id {audience} \\\n"
            f"       --service_account_key {key}\n"
        )
        token, first = flyte_iap(*args)
        say(
            f"   -> {token[:40]}...  ({first * 1000:.0f} ms, "
            f"{emu.count('token')} request to the token endpoint)\n\n"
        )
        claims = _claims(token)
        say("3. The token's claims, and its signature checked by google-auth:\n")
        for name in ("iss", "aud", "email"):
            say(f"   {name:>5}: {claims.get(name)}\n")
        left = (int(claims["exp"]) - time.time()) / 60
        say(f"     exp: {claims['exp']} (in {left:.0f} min)\n")
        say(f"   signature: {_verify(token, audience, emu.certs_uri)}\n\n")
        before = emu.count("token")
        again, second = flyte_iap(*args)
        if again != token or emu.count("token") != before:
            raise RuntimeError("the second call did not come from the cache")
        say(
            f"4. The same command again: the same token from the cache in {second * 1000:.0f} ms,"
            " no network call.\n\n"
        )
        env["GCE_METADATA_HOST"] = emu.metadata_host
        target = config.impersonation_targets[0]
        impersonated, _ = flyte_iap(
            SA, "--webapp_client_id", audience, "--impersonate_service_account", target
        )
        meta_email = config.metadata_email
        say(
            f"5. On GKE, the metadata server's account ({meta_email})\n"
            f"   impersonating {target}:\n"
            f"   -> a token for {_claims(impersonated)['email']}\n\n"
        )
        _user_demo(emu, env, flyte_iap, say)
        say(
            "8. In ~/.flyte/config.yaml:\n"
            "   admin:\n"
            "     endpoint: dns:///flyte.example.com\n"
            f'     proxyCommand: ["flyte-iap", "{SA}", "--webapp_client_id", "<IAP client id>"]\n'
        )


def _user_demo(
    emu: Emulator,
    env: dict[str, str],
    flyte_iap: Callable[..., tuple[str, float]],
    say: Callable[[str], object],
) -> None:
    """A person's login: the emulator approves at once and the demo plays the browser."""
    import urllib.request

    config = emu.config
    args = [
        "generate-user-id-token",
        "--desktop_client_id", config.desktop_client_id,
        "--desktop_client_secret_gcp_secret_name", config.desktop_secret_name,
        "--webapp_client_id", config.webapp_client_id,
        "--project", config.project,
    ]  # fmt: skip
    say(
        "6. A person's login: $ flyte-iap generate-user-id-token --desktop_client_id ... \\\n"
        "       --desktop_client_secret_gcp_secret_name ... --webapp_client_id ... --project ...\n"
        "   The client secret comes from Secret Manager. With --no_browser the demo can play\n"
        "   the browser itself:\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "flyte_iap", *args, "--no_browser", "--timeout", "30"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    assert proc.stderr is not None
    url = next((line.strip() for line in proc.stderr if line.startswith(emu.auth_uri)), "")
    if not url:
        proc.kill()
        raise RuntimeError("flyte-iap did not print a login URL")
    say(f"   login URL: {url[:72]}...\n")
    # Consent (auto-approved), then the redirect to the loopback server, as a browser goes.
    with urllib.request.urlopen(url, timeout=30) as page:
        text = page.read().decode("utf-8", "replace")
    say(f"   the browser tab shows: {_page_text(text)!r}\n")
    out, err = proc.communicate(timeout=60)
    if proc.returncode != 0:
        raise RuntimeError(f"the login failed: {err.strip()}")
    claims = _claims(out.strip())
    say(
        f"   -> a token for {claims['email']}, aud={claims['aud']},\n"
        f"      azp={claims['azp']} (the desktop client)\n\n"
    )
    flyte_iap(*args)
    status, _ = flyte_iap("status")
    rows = "".join(f"   {row}\n" for row in status.splitlines())
    say(
        "7. The next call comes from the cache; near expiry the refresh token is used (no\n"
        "   browser).\n"
        f"   $ flyte-iap status\n{rows}\n"
    )


def _claims(token: str) -> dict[str, Any]:
    return parse_jwt(token)[1]


def _page_text(html: str) -> str:
    import re

    body = re.sub(r"(?is)<head>.*?</head>", " ", html)
    return " ".join(re.sub(r"<[^>]+>", " ", body).split())[:101]


def _verify(token: str, audience: str, certs_uri: str) -> str:
    from google.oauth2 import id_token

    id_token.verify_token(token, _fetcher(), audience=audience, certs_url=certs_uri)
    return f"valid (RS256, key from {certs_uri})"


def _fetcher() -> Any:
    """The least google-auth transport: the emulator's certs by the standard library, so
    that google-auth verifies with nothing of flyte-iap's in between."""
    import urllib.request
    from types import SimpleNamespace

    from google.auth import transport

    class Fetch(transport.Request):
        def __call__(
            self,
            url: str,
            method: str = "GET",
            body: bytes | None = None,
            headers: Any = None,
            timeout: Any = None,
            **kwargs: Any,
        ) -> Any:
            request = urllib.request.Request(url, data=body, method=method)
            with urllib.request.urlopen(request, timeout=30) as got:
                return SimpleNamespace(
                    status=got.status, headers=dict(got.headers), data=got.read()
                )

    return Fetch()
