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


# Peak memory is read in a small launcher process: a child forked from this
# benchmark (which holds the emulator) would report this process's pages.
LAUNCHER = (
    "import os, resource, sys\n"
    "pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ)\n"
    "os.waitpid(pid, 0)\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def wall_time(argv: list[str], env: dict[str, str]) -> float:
    """Seconds for one run; exits on failure."""
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{shlex.join(argv)} failed ({proc.returncode}): {proc.stderr.decode().strip()}")
    return elapsed


def peak_rss_mib(argv: list[str], env: dict[str, str]) -> float:
    """Max RSS of one run, in MiB (Linux reports KiB, macOS bytes)."""
    out = subprocess.run(
        [sys.executable, "-I", "-S", "-c", LAUNCHER, *argv],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    value = int(out.strip().splitlines()[-1])
    return value / (1024 * 1024) if sys.platform == "darwin" else value / 1024


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
        wall_time(cached, env)  # the one real fetch, filling the cache
        fetches = emulator.count("token")
        wall_time(cached, env)
        if emulator.count("token") != fetches:
            sys.exit("the cached path went to the network: nothing to measure")
        commands = {"python -c pass": [sys.executable, "-c", "pass"], "flyte-iap (cached)": cached}
        for text in options.compare:
            argv = shlex.split(text.replace("{key}", key).replace("{aud}", AUD))
            argv[0] = shutil.which(argv[0]) or argv[0]
            commands[text] = argv
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(options.runs):  # interleaved, so drift hits every command alike
            for name, argv in commands.items():
                samples[name].append(wall_time(argv, env))
        peaks = {name: peak_rss_mib(argv, env) for name, argv in commands.items()}
        network = emulator.count("token") - fetches
    base = statistics.median(samples["python -c pass"])
    print(f"{'command':<40} {'median ms':>10} {'x python':>9} {'peak MiB':>9}")
    for name in commands:
        median = statistics.median(samples[name])
        print(f"{name[:40]:<40} {median * 1000:>10.1f} {median / base:>9.2f} {peaks[name]:>9.1f}")
    print(
        f"({options.runs} runs each, interleaved; targets: cached < 2.5x, < 25 MiB; "
        f"token requests made by the compared commands: {network})"
    )


if __name__ == "__main__":
    main()
