"""`flyte-iap demo`: the whole service-account flow against the built-in emulator.

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
from pathlib import Path
from typing import TextIO

from flyte_iap.emulator import Emulator
from flyte_iap.jwt_claims import unverified_claims

SA = "generate-service-account-id-token"


def run_demo(out: TextIO) -> None:
    """Print the demo to ``out``; raises if any step does not behave as shown."""
    with tempfile.TemporaryDirectory(prefix="flyte-iap-demo-") as scratch, Emulator() as emu:
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
        claims = unverified_claims(token, "the emulator")
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
            f"   -> a token for {unverified_claims(impersonated, 'the emulator')['email']}\n\n"
        )
        say(
            "6. In ~/.flyte/config.yaml:\n"
            "   admin:\n"
            "     endpoint: dns:///flyte.example.com\n"
            f'     proxyCommand: ["flyte-iap", "{SA}", "--webapp_client_id", "<IAP client id>"]\n'
        )


def _verify(token: str, audience: str, certs_uri: str) -> str:
    import google.auth.transport.requests
    from google.oauth2 import id_token

    id_token.verify_token(
        token, google.auth.transport.requests.Request(), audience=audience, certs_url=certs_uri
    )
    return f"valid (RS256, key from {certs_uri})"
