"""One request through the proxy: the token added, the upstream asked, the answer relayed.

The upstream gets the client's headers as they came, minus the hop-by-hop ones, plus
the token: nothing the client did not send (no ``Accept-Encoding`` a plain client
would then get a compressed body for, no ``Accept``, no ``Content-Type``). Protocol
upgrades are not served: ``Upgrade`` and ``Connection`` are hop-by-hop and stay
behind, and an upstream that answers ``101 Switching Protocols`` anyway is answered for
with a 502 (the server closes a connection that asked for an upgrade after its answer).

Answers come back with the upstream's headers, minus the hop-by-hop ones; aiohttp's
server adds ``Date`` and ``Server`` when the upstream sent none, and ``Content-Type:
application/octet-stream`` to a body that came without a type (left so: undoing it
would mean overriding a private method of aiohttp's).

Bodies stream both ways. A request body of known length under ``REPLAY_LIMIT`` is
read first so that it can be sent again after an IAP-generated 401 with a new token,
while all the bodies kept so add up to ``REPLAY_TOTAL`` at most; a bigger or chunked
one, or one beyond that total, streams, and its 401 passes on. An answer of known
length up to ``SMALL_ANSWER`` (a unary call's) is read whole and sent in one write.
The other answer held whole is a successful ``SelectCluster`` (small, capped), whose
``cluster_endpoint`` is rewritten so that Flyte 2 keeps calling through the proxy; one
that cannot be rewritten (an encoding other than gzip, malformed, too big) is answered
502, never passed on with the public endpoint in it.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy, istr
from yarl import URL

from flyte_iap.console import Console
from flyte_iap.errors import FlyteIapError, shown
from flyte_iap.google import from_iap
from flyte_iap.proxy.cluster import (
    MAX_BODY,
    SELECT_CLUSTER_PATH,
    NotRewritable,
    rewrite_select_cluster,
)
from flyte_iap.proxy.tokens import LoginNeeded, TokenProvider

REPLAY_LIMIT = 1 << 20
#: The most bytes of request bodies kept for a retry at once, all requests together.
REPLAY_TOTAL = 16 << 20
#: An answer of known length up to this many bytes is read whole and sent in one write;
#: longer ones, and any of unknown length (a stream), are relayed as they come.
SMALL_ANSWER = 64 << 10
#: What Flyte 2 is told to use for its cluster calls: its own endpoint (the proxy).
CLUSTER_ENDPOINT = ""
# aiohttp's client adds these when a request lacks them; the proxy sends what it got.
NOT_ADDED = ("accept", "accept-encoding", "content-type", "user-agent")
# RFC 9110 7.6.1; ``host`` is the upstream's, ``proxy-authorization`` is the proxy's own.
_HOP_BY_HOP = frozenset(
    {
        "connection", "keep-alive", "proxy-connection", "proxy-authenticate",
        "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade", "host",
        "expect",
    }
)  # fmt: skip
_HOP_BY_HOP_NAMES = tuple(istr(name) for name in sorted(_HOP_BY_HOP))


class ReplayBudget:
    """How many bytes of request bodies may still be kept for a retry (all requests)."""

    def __init__(self, total: int = REPLAY_TOTAL) -> None:
        self.left = total

    def take(self, size: int) -> bool:
        """Whether ``size`` bytes may be kept; they count until :meth:`give` returns them."""
        if size > self.left:
            return False
        self.left -= size
        return True

    def give(self, size: int) -> None:
        self.left += size


@dataclass(frozen=True)
class Upstream:
    """Where requests go (``base``: scheme, host and path prefix, no trailing slash);
    ``session`` made with ``skip_auto_headers=NOT_ADDED``."""

    base: str
    session: aiohttp.ClientSession
    tokens: TokenProvider
    console: Console
    budget: ReplayBudget


def _kept(headers: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    """``headers`` without the hop-by-hop ones, and without those that ``Connection``
    names. (A copy, then removals: multidict does both in C, four times quicker than
    choosing header by header in Python, for every request and answer.)"""
    kept = CIMultiDict(headers)
    for name in _HOP_BY_HOP_NAMES:
        kept.popall(name, None)
    if "connection" in headers:
        for value in headers.getall("connection"):
            for part in value.split(","):
                kept.popall(part.strip(), None)
    return kept


async def forward(request: web.BaseRequest, up: Upstream) -> web.StreamResponse:
    """Answer ``request`` (already past the guard) from the upstream."""
    try:
        token = await up.tokens.get()
    except LoginNeeded as exc:
        return plain(401, f"flyte-iap proxy: {exc}")
    except FlyteIapError as exc:
        return plain(503, f"flyte-iap proxy: could not get a token: {exc}")
    if request.headers.get("expect", "").lower() == "100-continue":
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    length = request.content_length or 0
    chunked = "chunked" in request.headers.get("transfer-encoding", "").lower()
    # aiohttp's read() refuses a body of client_max_size (1 MiB) or more: hence "<".
    kept = length if not chunked and 0 < length < REPLAY_LIMIT and up.budget.take(length) else 0
    try:
        return await _exchange(request, up, token, replayable=not chunked and kept == length)
    finally:
        if kept:
            up.budget.give(kept)  # held until here: the body lives as long as the request


async def _exchange(
    request: web.BaseRequest, up: Upstream, token: str, *, replayable: bool
) -> web.StreamResponse:
    """The request sent with ``token`` (again with a new one after IAP's 401, when its body
    is ``replayable``: read whole first), the answer relayed."""
    headers = _kept(request.headers)
    body: object = request.content
    if replayable:
        body = await request.read() if request.content_length else None
    url = URL(up.base + request.raw_path, encoded=True)
    try:
        resp = await _send(up, request.method, url, headers, body, token)
        if resp.status == 401 and from_iap(resp.headers) and replayable:
            fresh = await up.tokens.renew(token)
            if fresh is not None:
                resp.release()
                resp = await _send(up, request.method, url, headers, body, fresh)
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        reason = shown(str(exc)) or type(exc).__name__
        if up.console.verbose:
            up.console.debug(f"{request.method} {shown(request.path)}: upstream failed: {reason}")
        return plain(502, f"flyte-iap proxy: cannot reach the upstream {up.base}: {reason}")
    except LoginNeeded as exc:
        return plain(401, f"flyte-iap proxy: {exc}")
    except FlyteIapError as exc:
        return plain(503, f"flyte-iap proxy: could not get a token: {exc}")
    if up.console.verbose:  # not even the line built otherwise: this runs for every request
        up.console.debug(f"{request.method} {shown(request.path)} -> {resp.status}")
    return await _relay(request, resp)


async def _send(
    up: Upstream,
    method: str,
    url: URL,
    headers: CIMultiDict[str],
    body: object,
    token: str,
) -> aiohttp.ClientResponse:
    headers["proxy-authorization"] = f"Bearer {token}"  # the client's own was dropped
    return await up.session.request(
        method,
        url,
        headers=headers,
        data=body,
        allow_redirects=False,
    )


async def _relay(request: web.BaseRequest, resp: aiohttp.ClientResponse) -> web.StreamResponse:
    """Send the upstream's answer back as it comes; a broken stream cuts the client."""
    out: web.StreamResponse | None = None
    try:
        if resp.status == 101:
            # The upstream's side of the connection now speaks another protocol: dropped,
            # never handed back to the pool.
            resp.close()
            return plain(502, "flyte-iap proxy: the upstream switched protocols (101); "
                         "protocol upgrades are not served")  # fmt: skip
        headers = _kept(resp.headers)
        if resp.status == 200 and request.path == SELECT_CLUSTER_PATH:
            return await _select_cluster(resp, headers)
        if resp.content_length is not None and resp.content_length <= SMALL_ANSWER:
            # A small answer of known length (a unary call's) goes out whole: head and
            # body in one write, not two.
            body = await resp.read()
            return web.Response(
                status=resp.status, reason=_reason(resp), headers=headers, body=body
            )
        out = web.StreamResponse(status=resp.status, reason=_reason(resp), headers=headers)
        await out.prepare(request)
        async for chunk in resp.content.iter_any():
            await out.write(chunk)
        await out.write_eof()
        return out
    except (TimeoutError, aiohttp.ClientError, OSError):
        if out is None:
            return plain(502, "flyte-iap proxy: the upstream broke off its answer")
        if request.transport is not None:
            request.transport.close()  # the client sees a cut, never a truncated success
        return out
    finally:
        resp.release()


async def _select_cluster(resp: aiohttp.ClientResponse, headers: CIMultiDict[str]) -> web.Response:
    body = b""
    while len(body) <= MAX_BODY and (chunk := await resp.content.readany()):
        body += chunk
    if len(body) > MAX_BODY:
        return plain(502, "flyte-iap proxy: the upstream's SelectCluster answer is too big")
    try:
        body = rewrite_select_cluster(
            body,
            content_type=resp.headers.get("content-type", ""),
            content_encoding=resp.headers.get("content-encoding"),
            endpoint=CLUSTER_ENDPOINT,
            connect_encoding=resp.headers.get("connect-content-encoding"),
        )
    except NotRewritable as exc:
        # Passed on, its public cluster_endpoint would send the SDK around the proxy,
        # to where calls go without a token.
        return plain(502, f"flyte-iap proxy: cannot rewrite the upstream's SelectCluster "
                     f"answer ({shown(str(exc))})")  # fmt: skip
    headers.popall("content-length", None)
    return web.Response(status=200, body=body, headers=headers)


def _reason(resp: aiohttp.ClientResponse) -> str | None:
    reason = resp.reason or ""
    return reason if reason.isprintable() and len(reason) < 100 else None


def plain(status: int, message: str) -> web.Response:
    """The proxy's own answer: one line of text."""
    return web.Response(status=status, text=message + "\n", content_type="text/plain")
