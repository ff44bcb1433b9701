"""``flyte-iap proxy``: a local reverse proxy that adds IAP's token to every request.

``tokens`` (the in-process token, single-flight), ``guard`` (what is refused before
the upstream is contacted), ``server`` (the aiohttp app and its lifecycle), ``forward``
(one request to the upstream and back), ``cluster`` (Flyte 2's SelectCluster answer).
Nothing here imports aiohttp at import time except ``server`` and ``forward``.
"""
