"""``flyte-iap proxy``: a local reverse proxy that adds IAP's token to every request.

``tokens`` (the in-process token, single-flight), ``guard`` (what is refused before
the upstream is contacted), ``server`` (the aiohttp app and its lifecycle), ``forward``
(one request to the upstream and back), ``cluster`` (Flyte 2's SelectCluster answer, as
Connect frames it) and ``message`` (that message itself, protobuf or JSON).
Nothing here imports aiohttp at import time except ``server`` and ``forward``.
"""
