"""The :class:`GateLimits`: every bound of the gate, in one place."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GateLimits:
    """Every bound of the gate, in bytes, seconds and connections."""

    head_bytes: int = 64 * 1024  # request line and headers together
    max_headers: int = 100
    head_seconds: float = 10.0  # from a request's first byte to the end of its head
    idle_seconds: float = 30.0  # a kept-alive connection waiting for its next request
    body_idle_seconds: float = 60.0  # the longest pause inside a request body
    connect_seconds: float = 5.0  # connecting to the upstream
    upstream_idle_seconds: float = 300.0  # the longest pause in the upstream's answer
    send_seconds: float = 60.0  # handing one piece to a slow reader
    drain_bytes: int = 4 * 1024 * 1024  # body read and dropped after a refusal
    max_connections: int = 64
