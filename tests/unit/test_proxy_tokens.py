"""The proxy's token when fetching fails: the requests waiting for a fetch share its
failure, the next fetch waits (doubling, bounded), a login that needs the browser again is
retried at the next request, and a long run of failures does not use up the network
budget of later fetches. The clock is a fake one: waits are steps of it, not sleeps."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from flyte_iap.console import Console
from flyte_iap.emulator import Emulator
from flyte_iap.errors import FlyteIapError
from flyte_iap.proxy import LoginNeeded, Token, TokenProvider
from flyte_iap.proxy.tokens import BACKOFF_FIRST, BACKOFF_MAX

from ..proxy_upstream import Upstream
from .test_proxy import proxies


class Clock:
    """Seconds that pass only when the test says so; ``base`` in the past, so the JWTs the
    use cases sign with it are acceptable to the emulator's real clock."""

    def __init__(self, base: float) -> None:
        self.now = base

    def __call__(self) -> float:
        return self.now


class Fetches:
    """A fetch that fails (or gives ``token``) once the test lets it go, counting calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.go = threading.Event()
        self.started = threading.Event()
        self.outcome: Exception | Token = FlyteIapError("the token endpoint answered 503")

    def __call__(self, force: bool) -> Token:
        self.calls += 1
        self.started.set()
        assert self.go.wait(30)  # a hang guard
        if isinstance(self.outcome, Token):
            return self.outcome
        raise self.outcome


def provider(fetch: Fetches, clock: Clock) -> TokenProvider:
    return TokenProvider(fetch, margin=60, clock=clock, console=Console())


async def outcomes(tokens: TokenProvider, count: int, fetch: Fetches) -> list[str]:
    """``count`` requests ask at once; the fetch is let go once one of them started it."""

    async def one() -> str:
        try:
            return await tokens.get()
        except FlyteIapError as exc:
            return f"failed: {exc}"

    asking = [asyncio.ensure_future(one()) for _ in range(count)]
    await asyncio.to_thread(fetch.started.wait, 30)
    fetch.go.set()
    return await asyncio.gather(*asking)


@pytest.mark.timeout(60)  # a hang guard
def test_requests_waiting_for_a_failed_fetch_share_it_and_the_next_one_waits() -> None:
    fetch, clock = Fetches(), Clock(1000.0)
    tokens = provider(fetch, clock)

    async def scenario() -> None:
        said = await outcomes(tokens, 20, fetch)
        assert fetch.calls == 1
        assert set(said) == {"failed: the token endpoint answered 503"}
        # Within the backoff: answered at once with that failure, no fetch.
        with pytest.raises(FlyteIapError, match=re.escape("503 (next try in 1 s)")):
            await tokens.get()
        assert fetch.calls == 1
        # The waits double, and stop growing at BACKOFF_MAX.
        waits = []
        for _ in range(8):
            start = clock.now
            while fetch.calls == len(waits) + 1:
                clock.now += 0.25
                with pytest.raises(FlyteIapError):
                    await tokens.get()
            waits.append(clock.now - start)
        assert waits[:3] == [BACKOFF_FIRST, 2 * BACKOFF_FIRST, 4 * BACKOFF_FIRST]
        assert max(waits) == waits[-1] == BACKOFF_MAX
        # Once a fetch works, the token is served and failures are forgotten.
        fetch.outcome = Token("fresh", clock.now + 3600)
        clock.now += BACKOFF_MAX
        assert await tokens.get() == "fresh"
        calls = fetch.calls
        assert await tokens.get() == "fresh" and fetch.calls == calls

    asyncio.run(scenario())


@pytest.mark.timeout(60)  # a hang guard
def test_a_login_needed_is_shared_but_retried_at_the_next_request() -> None:
    """The person may log in again in a terminal any time: the next request reads the
    cache again (no network without a refresh token), no backoff."""
    fetch, clock = Fetches(), Clock(1000.0)
    fetch.outcome = LoginNeeded("run `flyte-iap login ...` in a terminal")
    tokens = provider(fetch, clock)

    async def scenario() -> None:
        said = await outcomes(tokens, 5, fetch)
        assert fetch.calls == 1 and len(set(said)) == 1 and "flyte-iap login" in said[0]
        fetch.outcome = Token("after-login", clock.now + 3600)
        assert await tokens.get() == "after-login"
        assert fetch.calls == 2

    asyncio.run(scenario())


@pytest.mark.timeout(120)  # a hang guard: one fetch at a time, each a few local calls
def test_the_token_endpoint_failing_costs_one_fetch_for_all_waiting_requests(
    emulator: Emulator, upstream: Upstream, home: Path
) -> None:
    """With the token endpoint answering 503, twenty requests at once: one fetch (its
    three tries), twenty 503s; a fetch after the backoff gets a token again."""
    emulator.config.token_lifetime = 60  # with a margin of an hour, every request fetches
    clock = Clock(time.time() - 1200)
    with proxies(emulator, home) as start:
        proxy = start(upstream.url, margin=3600, clock=clock, sleep=lambda s: None)
        before = emulator.count("token")
        emulator.fail_next("token", 503, count=3)
        answers = _at_once(proxy.url, 20)
        assert [a.status_code for a in answers] == [503] * 20
        assert all(a.text.startswith("flyte-iap proxy: could not get a token: ") for a in answers)
        assert all(a.text.count("\n") <= 2 for a in answers)  # what failed, what to do
        assert proxy.tokens.fetches == 1
        assert emulator.count("token") - before == 3
        clock.now += BACKOFF_FIRST
        assert requests.get(f"{proxy.url}/back", timeout=30).status_code == 200


@pytest.mark.timeout(300)  # a hang guard: thirty fetches of three local calls each
def test_many_failed_fetches_do_not_use_up_the_network_budget_of_later_ones(
    emulator: Emulator, upstream: Upstream, home: Path
) -> None:
    """A command's HTTP calls share one budget (tries and backoff sleeps, ~40 s); the proxy
    runs for days, so each fetch has its own: after thirty failed fetches, whose sleeps add
    up past one budget, the token endpoint is back and so is the token."""
    emulator.config.token_lifetime = 60
    clock = Clock(time.time() - 1200)
    with proxies(emulator, home) as start:
        proxy = start(upstream.url, margin=3600, clock=clock, sleep=lambda s: None)
        for _ in range(30):
            emulator.fail_next("token", 503, count=3)
            clock.now += BACKOFF_MAX
            failed = requests.get(f"{proxy.url}/down", timeout=30)
            assert failed.status_code == 503, failed.text
        clock.now += BACKOFF_MAX
        back = requests.get(f"{proxy.url}/back", timeout=30)
        assert back.status_code == 200, back.text


def _at_once(url: str, count: int) -> list[Any]:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda i: requests.get(f"{url}/x{i}", timeout=60), range(count)))
