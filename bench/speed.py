"""Benchmark: every path a user waits on, side by side with a bare interpreter start.

    python bench/speed.py [--runs 30] [--proxy-seconds 3] [--plugin PATH] [--no-gcloud]

Starts the built-in emulator and, in one interleaved run (round after round, each
command once per round, so that drift hits them all alike), times:

- ``python -c pass`` from the same interpreter: the floor every ratio is to;
- a cached service-account token, by the console script and by the command that
  ``flyte-iap configure`` writes (this interpreter, ``-P -c``);
- a first fetch: a service-account key file, the token endpoint on loopback, an empty
  cache each time;
- a person's refresh: a cached login whose ID token has expired, refreshed with its
  refresh token (no browser);
- ``status`` and ``decode TOKEN``;
- when installed: gcloud's ``auth print-identity-token`` for the same key (a scratch
  CLOUDSDK_CONFIG; it fetches on every call), and the reference plugin (``--plugin``:
  its ``flyte-iap`` script, in its own venv; it caches nothing).

Prints the median wall time of each, its ratio to the floor, and that ratio's spread
(the 10th to 90th percentile of the per-round ratios). Then the proxy's throughput at
16 keep-alive connections against a minimal aiohttp reverse proxy on the same upstream
(bench/proxy.py), as a ratio too. The README quotes this script; no test asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from flyte_iap.cli import LAUNCH
from flyte_iap.emulator import Emulator

sys.path.insert(0, str(Path(__file__).parent))
import proxy as proxy_bench

Setup = Callable[[], dict[str, str]]  # run before each timed run: its extra environment


def timed(argv: list[str], env: dict[str, str]) -> float:
    """Seconds for one run; exits the benchmark when the command fails."""
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{argv[:3]} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--proxy-seconds", type=float, default=3.0)
    parser.add_argument("--plugin", metavar="PATH", help="the reference plugin's flyte-iap")
    parser.add_argument("--no-gcloud", action="store_true")
    options = parser.parse_args()
    python = sys.executable
    script = str(Path(python).with_name("flyte-iap"))
    launcher = [python, *LAUNCH]
    with tempfile.TemporaryDirectory() as scratch, Emulator() as emu:
        home = Path(scratch)
        key = str(emu.write_service_account_key(home / "key.json"))
        aud = emu.config.webapp_client_id
        base = {**os.environ, **emu.env(), "FLYTE_IAP_CACHE_DIR": f"{scratch}/cache"}
        sa = ["generate-service-account-id-token", "--webapp_client_id", aud]
        sa += ["--service_account_key", key]
        token = subprocess.run(
            [*launcher, *sa], env=base, capture_output=True, text=True, check=True
        ).stdout.strip()
        fresh = iter(range(10**6))

        def empty_cache() -> dict[str, str]:
            return {"FLYTE_IAP_CACHE_DIR": f"{scratch}/first-{next(fresh)}"}

        person = _person(emu, home, base)
        commands: dict[str, tuple[list[str], Setup]] = {
            "python -c pass": ([python, "-c", "pass"], dict),
            "cached token, console script": ([script, *sa], dict),
            "cached token, configured command": ([*launcher, *sa], dict),
            "first fetch, key file": ([*launcher, *sa], empty_cache),
            "person's refresh": person,
            "status": ([*launcher, "status"], dict),
            "decode TOKEN": ([*launcher, "decode", token], dict),
        }
        if not options.no_gcloud and shutil.which("gcloud"):
            commands["gcloud print-identity-token"] = _gcloud(emu, home, key, aud)
        if options.plugin:
            plugin = [options.plugin, "generate-service-account-id-token"]
            plugin += ["--webapp_client_id", aud, "--service_account_key", key]
            commands["reference plugin"] = (plugin, dict)
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(options.runs):
            for name, (argv, setup) in commands.items():
                samples[name].append(timed(argv, {**base, **setup()}))
    floor = samples["python -c pass"]
    print(f"{os.cpu_count()} cores, {options.runs} interleaved rounds, {python}")
    print(f"{'path':34} {'median ms':>9} {'x python':>8} {'spread (p10-p90)':>17}")
    for name, times in samples.items():
        ratios = sorted(t / f for t, f in zip(times, floor, strict=True))
        low, high = ratios[len(ratios) // 10], ratios[(len(ratios) * 9) // 10 - 1]
        median = statistics.median(times)
        spread = f"{low:.2f}-{high:.2f}"
        print(
            f"{name:34} {median * 1000:9.1f} {median / statistics.median(floor):8.2f} {spread:>17}"
        )
    proxy_bench.compare(options.proxy_seconds)


def _person(emu: Emulator, home: Path, base: dict[str, str]) -> tuple[list[str], Setup]:
    """A person's token command whose cached ID token has expired but whose refresh token
    is good: each run refreshes (the entry is put back as it was before each)."""
    c = emu.config
    argv = [sys.executable, *LAUNCH, "generate-user-id-token", "--desktop_client_id"]
    argv += [c.desktop_client_id, "--webapp_client_id", c.webapp_client_id]
    argv += ["--desktop_client_secret_gcp_secret_name", c.desktop_secret_name]
    argv += ["--project", c.project]
    cache = home / "person"
    name = f"user_{c.desktop_client_id}_{c.webapp_client_id}.json"
    record = {
        "v": 1,
        "kind": "user",
        "desktop_client_id": c.desktop_client_id,
        "audience": c.webapp_client_id,
        "email": c.user_email,
        "id_token": emu.mint_id_token(),
        "expiry": time.time() - 1,
        "fetched_at": int(time.time()) - 3600,
        "refresh_token": emu.add_refresh_token(),
        "client_secret": c.desktop_client_secret,
    }

    def expired() -> dict[str, str]:
        cache.mkdir(mode=0o700, exist_ok=True)
        path = cache / name
        path.write_text(json.dumps(record))
        path.chmod(0o600)
        return {"FLYTE_IAP_CACHE_DIR": str(cache)}

    return argv, expired


def _gcloud(emu: Emulator, home: Path, key: str, aud: str) -> tuple[list[str], Setup]:
    """gcloud's own service-account ID token for the same key, against the emulator (it
    honours the key's token_uri), in a scratch configuration."""
    config = home / "gcloud"
    env = {**os.environ, "CLOUDSDK_CONFIG": str(config), "CLOUDSDK_CORE_DISABLE_PROMPTS": "1"}
    subprocess.run(
        ["gcloud", "auth", "activate-service-account", "--key-file", key],
        env=env,
        capture_output=True,
        check=True,
    )
    argv = ["gcloud", "auth", "print-identity-token", f"--audiences={aud}"]
    return argv, lambda: {"CLOUDSDK_CONFIG": str(config)}


if __name__ == "__main__":
    main()
