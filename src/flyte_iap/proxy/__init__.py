"""``flyte-iap proxy``: a local reverse proxy that adds IAP's token to every request.

- ``server``: :class:`ProxyServer` (aiohttp on loopback sockets, one pooled client to
  the upstream) and :func:`serve`, the command's whole life, for :class:`ProxySettings`;
  :func:`tls_context` verifies the upstream;
- ``listen``: the loopback sockets, and the one address the proxy may print
  (:data:`LOCALHOST` is both loopback addresses on one port);
- ``connections``: how many client connections at once (below the descriptor limit),
  their deadlines, and how they end when the proxy stops;
- ``guard``: what is refused (403) before the upstream is contacted;
- ``forward``: one request to the upstream and back, the token added, nothing else;
- ``tokens``: the in-process token (:class:`TokenProvider`, one fetch at a time) and
  :func:`token_source`, the fetches a token command's request stands for;
- ``cluster``: Flyte 2's SelectCluster answer, its ``cluster_endpoint`` rewritten
  (:func:`rewrite_select_cluster`).

Needs aiohttp (``pip install 'flyte-iap[proxy]'``): the command line checks that it is
installed before it imports this package.
"""

from flyte_iap.proxy.cluster import (
    MAX_BODY,
    SELECT_CLUSTER_PATH,
    NotRewritable,
    rewrite_select_cluster,
)
from flyte_iap.proxy.listen import LOCALHOST
from flyte_iap.proxy.server import ProxyServer, ProxySettings, serve, tls_context
from flyte_iap.proxy.tokens import LoginNeeded, Token, TokenProvider, token_source

__all__ = [
    "LOCALHOST",
    "MAX_BODY",
    "SELECT_CLUSTER_PATH",
    "LoginNeeded",
    "NotRewritable",
    "ProxyServer",
    "ProxySettings",
    "Token",
    "TokenProvider",
    "rewrite_select_cluster",
    "serve",
    "tls_context",
    "token_source",
]
