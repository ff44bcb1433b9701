"""Benchmark: small unary calls through `flyte-iap proxy` against the same calls made
directly to the upstream, in one run.

    python bench/proxy.py [--seconds 5] [--concurrency 16]

Starts the built-in emulator (for the token), an aiohttp upstream answering a small
JSON body, and the installed `flyte-iap proxy` in front of it (no IAP gate: what is
measured is the proxy). Then, for each target: requests per second with
``--concurrency`` keep-alive clients, and the latency of sequential calls (p50, p99).
Prints both and what the proxy adds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from flyte_iap.emulator import Emulator

AUD = "emulator-webapp.apps.googleusercontent.com"
BODY = b'{"projects":[{"id":"flytesnacks","name":"flytesnacks"}]}'


def upstream() -> int:
    """An aiohttp upstream on its own thread; its port."""
    ready: list[int] = []

    async def answer(request: web.BaseRequest) -> web.Response:
        await request.read()
        return web.Response(body=BODY, content_type="application/json")

    async def main() -> None:
        runner = web.ServerRunner(web.Server(answer, access_log=None))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        ready.append(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        await asyncio.Event().wait()

    threading.Thread(target=asyncio.run, args=(main(),), daemon=True).start()
    while not ready:
        time.sleep(0.01)
    return ready[0]


async def throughput(url: str, seconds: float, concurrency: int) -> float:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as s:
        done, end = 0, time.monotonic() + seconds

        async def worker() -> None:
            nonlocal done
            while time.monotonic() < end:
                async with s.post(url, data=b"{}") as r:
                    await r.read()
                    assert r.status == 200, r.status
                done += 1

        start = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.monotonic() - start)


async def latencies(url: str, count: int) -> list[float]:
    async with aiohttp.ClientSession() as s:
        out = []
        for _ in range(count):
            start = time.perf_counter()
            async with s.post(url, data=b"{}") as r:
                await r.read()
            out.append(time.perf_counter() - start)
        return out


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch, Emulator() as emu:
        key = emu.write_service_account_key(Path(scratch) / "key.json")
        env = {**os.environ, **emu.env(), "FLYTE_IAP_CACHE_DIR": f"{scratch}/cache"}
        direct = f"http://127.0.0.1:{upstream()}"
        proc = subprocess.Popen(
            [sys.executable, "-m", "flyte_iap", "proxy", "--upstream", direct,
             "generate-service-account-id-token", "--webapp_client_id", AUD,
             "--service_account_key", str(key)],
            env=env, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert proc.stderr is not None
        found = (re.search(r"localhost:(\d+)", line) for line in proc.stderr)
        port = next(m.group(1) for m in found if m)
        proxied = f"http://127.0.0.1:{port}"
        try:
            path = "/flyteidl2.project.ProjectService/ListProjects"
            rows = {}
            for name, base in (("direct", direct), ("proxy", proxied)):
                asyncio.run(latencies(base + path, 200))  # warm up
                rps = asyncio.run(throughput(base + path, args.seconds, args.concurrency))
                lat = asyncio.run(latencies(base + path, args.calls))
                rows[name] = (rps, pct(lat, 50), pct(lat, 99))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
    print(f"{os.cpu_count()} cores, concurrency {args.concurrency}, {args.seconds:g} s per target")
    print(f"{'target':8} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for name, (rps, p50, p99) in rows.items():
        print(f"{name:8} {rps:9.0f} {p50:8.2f} {p99:8.2f}")
    (d_rps, d50, d99), (p_rps, p50, p99) = rows["direct"], rows["proxy"]
    print(f"proxy/direct throughput {p_rps / d_rps:.2f}x; added p50 {p50 - d50:.2f} ms, "
          f"p99 {p99 - d99:.2f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
