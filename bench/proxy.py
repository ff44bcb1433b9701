"""Benchmark: small unary calls through `flyte-iap proxy`, through a minimal aiohttp
reverse proxy, and straight to the upstream, in one run.

    python bench/proxy.py [--seconds 5] [--concurrency 16] [--rounds 3]

Starts the built-in emulator (for the token), an aiohttp upstream answering a small
JSON body, a minimal aiohttp reverse proxy in front of it (the least a proxy that
streams both ways does: what flyte-iap's is held to), and the installed `flyte-iap
proxy` (no IAP gate: what is measured is the proxy), each in a process of its own, as
the load generator is (three interpreters sharing one GIL would measure the GIL).
Then, round after round, for each
target: requests per second with ``--concurrency`` keep-alive clients; and the latency
of sequential calls (p50, p99); and the CPU time each proxy process spent per request
(from /proc, where there is one: less swayed by a busy machine than a rate). Prints
medians and flyte-iap's ratio to the minimal one.
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
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from flyte_iap.emulator import Emulator

AUD = "emulator-webapp.apps.googleusercontent.com"
BODY = b'{"projects":[{"id":"flytesnacks","name":"flytesnacks"}]}'


async def _upstream() -> web.BaseRunner:
    """The upstream: a small JSON body for every request."""

    async def answer(request: web.BaseRequest) -> web.Response:
        await request.read()
        return web.Response(body=BODY, content_type="application/json")

    return web.ServerRunner(web.Server(answer, access_log=None))


async def throughput(url: str, seconds: float, concurrency: int) -> tuple[float, int]:
    """Requests per second with ``concurrency`` keep-alive clients, and how many were made."""
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
        return done / (time.monotonic() - start), done


def cpu_seconds(pid: int | None) -> float | None:
    """The CPU time (user and system) a process has used so far; None where unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


async def _minimal_proxy(upstream_url: str) -> web.BaseRunner:
    """The least reverse proxy: aiohttp's server and one pooled client, bodies streamed
    both ways, hop-by-hop headers dropped."""
    hop = {"connection", "keep-alive", "transfer-encoding", "host", "content-length"}
    session = aiohttp.ClientSession(auto_decompress=False)

    async def forward(request: web.BaseRequest) -> web.StreamResponse:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in hop}
        async with session.request(
            request.method,
            upstream_url + request.raw_path,
            headers=headers,
            data=request.content,
            allow_redirects=False,
        ) as resp:
            out = web.StreamResponse(status=resp.status)
            for name, value in resp.headers.items():
                if name.lower() not in hop:
                    out.headers[name] = value
            await out.prepare(request)
            async for chunk in resp.content.iter_any():
                await out.write(chunk)
            await out.write_eof()
            return out

    return web.ServerRunner(web.Server(forward, access_log=None))


def _serve(role: str, upstream_url: str) -> None:
    """A child process: serve ``role`` on 127.0.0.1, print its port, run until killed."""

    async def main() -> None:
        runner = await (_upstream() if role == "upstream" else _minimal_proxy(upstream_url))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print(site._server.sockets[0].getsockname()[1], flush=True)  # type: ignore[union-attr]
        await asyncio.Event().wait()

    asyncio.run(main())


def _start(role: str, upstream_url: str = "") -> tuple[subprocess.Popen[str], str]:
    """A server of ``role`` in its own process, and its URL."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", role, "--to", upstream_url],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, f"http://127.0.0.1:{int(proc.stdout.readline())}"


def compare(seconds: float, concurrency: int = 16, rounds: int = 3, calls: int = 1000) -> None:
    """Run the three targets interleaved; print the table and flyte-iap's ratio."""
    with tempfile.TemporaryDirectory() as scratch, Emulator() as emu:
        key = emu.write_service_account_key(Path(scratch) / "key.json")
        env = {**os.environ, **emu.env(), "FLYTE_IAP_CACHE_DIR": f"{scratch}/cache"}
        upstream_proc, direct = _start("upstream")
        minimal_proc, minimal = _start("minimal", direct)
        command = [sys.executable, "-m", "flyte_iap", "proxy", "--upstream", direct]
        command += ["--listen", "127.0.0.1:0", "generate-service-account-id-token"]
        command += ["--webapp_client_id", AUD, "--service_account_key", str(key)]
        proc = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
        assert proc.stderr is not None
        found = (re.search(r"listening on http://\S+:(\d+)", line) for line in proc.stderr)
        port = next(m.group(1) for m in found if m)
        pids = {"minimal aiohttp proxy": minimal_proc.pid, "flyte-iap proxy": proc.pid}
        cpu: dict[str, list[float]] = {name: [] for name in pids}
        targets = {
            "direct": direct,
            "minimal aiohttp proxy": minimal,
            "flyte-iap proxy": f"http://127.0.0.1:{port}",
        }
        path = "/flyteidl2.project.ProjectService/ListProjects"
        rps: dict[str, list[float]] = {name: [] for name in targets}
        lat: dict[str, list[float]] = {name: [] for name in targets}
        try:
            for base in targets.values():
                asyncio.run(latencies(base + path, 200))  # warm up
            for _ in range(rounds):
                for name, base in targets.items():
                    before = cpu_seconds(pids.get(name))
                    rate, done = asyncio.run(throughput(base + path, seconds, concurrency))
                    after = cpu_seconds(pids.get(name))
                    rps[name].append(rate)
                    if before is not None and after is not None:
                        cpu[name].append((after - before) / done * 1e6)
                    lat[name] += asyncio.run(latencies(base + path, max(1, calls // rounds)))
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
            for child in (upstream_proc, minimal_proc):
                child.kill()
                child.wait(20)
    print(f"proxy: {concurrency} keep-alive clients, {rounds} rounds of {seconds:g} s a target")
    print(f"{'target':24} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU us/req':>11}")
    for name in targets:
        median = statistics.median(rps[name])
        per = f"{statistics.median(cpu[name]):11.0f}" if cpu.get(name) else f"{'':11}"
        print(f"{name:24} {median:9.0f} {pct(lat[name], 50):8.2f} {pct(lat[name], 99):8.2f} {per}")
    pairs = zip(rps["flyte-iap proxy"], rps["minimal aiohttp proxy"], strict=True)
    ratios = sorted(ours / least for ours, least in pairs)
    print(
        f"flyte-iap proxy / minimal aiohttp proxy: {statistics.median(ratios):.2f}x "
        f"(rounds {ratios[0]:.2f}-{ratios[-1]:.2f})"
    )
    if cpu["flyte-iap proxy"] and cpu["minimal aiohttp proxy"]:
        ours = statistics.median(cpu["flyte-iap proxy"])
        least = statistics.median(cpu["minimal aiohttp proxy"])
        print(f"CPU per request, minimal aiohttp proxy / flyte-iap proxy: {least / ours:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--serve", choices=["upstream", "minimal"], help=argparse.SUPPRESS)
    parser.add_argument("--to", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve, args.to)
        return
    compare(args.seconds, args.concurrency, args.rounds, args.calls)


if __name__ == "__main__":
    main()
