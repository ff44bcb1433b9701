"""Benchmark: the cached-token path against a bare interpreter start, side by side.

    python bench/startup.py [--runs 30] [--compare "CMD ..."]...

Starts the built-in emulator, fills a scratch cache with one real fetch,
then times, in one interleaved run: `python -c pass`, the cached
`flyte-iap generate-service-account-id-token`, and every `--compare`
command (e.g. the reference plugin installed in another venv; the string
"{key}" in it is replaced by the emulator's key file, "{aud}" by the
audience). Prints the median wall time, the ratio to `python -c pass`
and the peak memory (max RSS) of each.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from flyte_iap.emulator import Emulator

AUD = "emulator-webapp.apps.googleusercontent.com"


def measure(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one run; exits on failure."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        sys.exit(f"{shlex.join(argv)} failed ({proc.returncode}): {err.strip()}")
    if proc.stderr:
        proc.stderr.close()
    rss = usage.ru_maxrss if sys.platform != "darwin" else usage.ru_maxrss // 1024
    return elapsed, rss


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--compare", action="append", default=[], metavar="CMD")
    options = parser.parse_args()
    tool = shutil.which("flyte-iap") or sys.exit("flyte-iap is not on PATH: pip install . first")
    with tempfile.TemporaryDirectory() as scratch, Emulator() as emulator:
        key = str(emulator.write_service_account_key(Path(scratch) / "key.json"))
        env = {**os.environ, **emulator.env(), "FLYTE_IAP_CACHE_DIR": f"{scratch}/cache"}
        cached = [
            tool,
            "generate-service-account-id-token",
            "--webapp_client_id",
            AUD,
            "--service_account_key",
            key,
        ]
        measure(cached, env)  # the one real fetch, filling the cache
        fetches = emulator.count("token")
        commands = {"python -c pass": [sys.executable, "-c", "pass"], "flyte-iap (cached)": cached}
        for text in options.compare:
            commands[text] = shlex.split(text.replace("{key}", key).replace("{aud}", AUD))
        samples: dict[str, list[float]] = {name: [] for name in commands}
        peaks: dict[str, int] = dict.fromkeys(commands, 0)
        for _ in range(options.runs):  # interleaved, so drift hits every command alike
            for name, argv in commands.items():
                elapsed, rss = measure(argv, env)
                samples[name].append(elapsed)
                peaks[name] = max(peaks[name], rss)
        assert emulator.count("token") == fetches, "the cached path went to the network"
    base = statistics.median(samples["python -c pass"])
    print(f"{'command':<40} {'median ms':>10} {'x python':>9} {'peak MiB':>9}")
    for name in commands:
        median = statistics.median(samples[name])
        print(
            f"{name[:40]:<40} {median * 1000:>10.1f} {median / base:>9.2f} "
            f"{peaks[name] / 1024:>9.1f}"
        )
    print(f"({options.runs} runs each, interleaved; targets: cached < 2.5x, < 25 MiB)")


if __name__ == "__main__":
    main()
