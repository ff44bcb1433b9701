"""The emulator's in-memory state: keys, tokens, codes, counters and faults.

Request handlers run on many threads; every method takes the one lock.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import rsa

from flyte_iap.emulator.records import (
    AccessGrant,
    AuthCode,
    AuthRequest,
    Fault,
    RefreshGrant,
    ServiceAccountKey,
)

AUTH_CODE_LIFETIME = 300.0

# Parameters whose values must never reach the request log.
_SECRET_PARAMS = frozenset(
    {
        "assertion",
        "client_secret",
        "code",
        "code_verifier",
        "refresh_token",
        "subject_token",
        "token",
        "access_token",
        "id_token",
        "payload",
    }
)


@dataclass
class EmulatorState:
    """Everything the emulator remembers between requests."""

    clock: Callable[[], float] = time.time
    lock: threading.Lock = field(default_factory=threading.Lock)
    sa_keys: dict[str, ServiceAccountKey] = field(default_factory=dict)
    clients: dict[str, str | None] = field(default_factory=dict)
    refresh_grants: dict[str, RefreshGrant] = field(default_factory=dict)
    access_grants: dict[str, AccessGrant] = field(default_factory=dict)
    auth_requests: dict[str, AuthRequest] = field(default_factory=dict)
    auth_codes: dict[str, AuthCode] = field(default_factory=dict)
    subject_tokens: set[str] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    requests_log: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    # --- service-account keys -------------------------------------------------
    def add_sa_key(self, kid: str, email: str, public_key: rsa.RSAPublicKey) -> None:
        """Accept assertions signed by this key from now on."""
        with self.lock:
            self.sa_keys[kid] = ServiceAccountKey(kid, email, public_key)

    def revoke_sa_key(self, kid: str) -> None:
        """Refuse assertions signed by this key from now on."""
        with self.lock:
            if kid not in self.sa_keys:
                raise KeyError(f"no service-account key with id {kid!r}")
            self.sa_keys[kid].revoked = True

    def verification_keys(self, kid: str, email: str) -> list[ServiceAccountKey]:
        """Active keys that may have signed an assertion: by ``kid``, else by ``iss`` email."""
        with self.lock:
            if kid:
                key = self.sa_keys.get(kid)
                return [key] if key and not key.revoked else []
            return [k for k in self.sa_keys.values() if k.email == email and not k.revoked]

    # --- OAuth clients and refresh tokens --------------------------------------
    def add_client(self, client_id: str, secret: str | None) -> None:
        """Register an OAuth client; a ``None`` secret accepts any secret."""
        with self.lock:
            self.clients[client_id] = secret

    def client_known(self, client_id: str) -> bool:
        with self.lock:
            return client_id in self.clients

    def client_secret_ok(self, client_id: str, secret: str) -> bool:
        with self.lock:
            if client_id not in self.clients:
                return False
            expected = self.clients[client_id]
            return expected is None or secrets.compare_digest(expected, secret)

    def add_refresh_grant(self, email: str, client_id: str, scope: str) -> str:
        token = "1//emu-" + secrets.token_urlsafe(32)
        with self.lock:
            self.clients.setdefault(client_id, None)
            self.refresh_grants[token] = RefreshGrant(email, client_id, scope)
        return token

    def refresh_grant(self, token: str) -> RefreshGrant | None:
        with self.lock:
            grant = self.refresh_grants.get(token)
            return grant if grant and not grant.revoked else None

    def revoke_token(self, token: str) -> bool:
        """Revoke a refresh or access token; False when it is unknown or already revoked."""
        with self.lock:
            grant = self.refresh_grants.get(token)
            if grant and not grant.revoked:
                grant.revoked = True
                return True
            return self.access_grants.pop(token, None) is not None

    # --- access tokens ---------------------------------------------------------
    def add_access_grant(self, prefix: str, email: str, lifetime: int, scope: str = "") -> str:
        token = f"ya29.{prefix}-{secrets.token_urlsafe(32)}"
        with self.lock:
            self.access_grants[token] = AccessGrant(email, self.clock() + lifetime, scope)
        return token

    def access_grant(self, token: str) -> AccessGrant | None:
        """The live grant behind a bearer token, or None when unknown or expired."""
        with self.lock:
            grant = self.access_grants.get(token)
            return grant if grant and grant.expires_at > self.clock() else None

    # --- authorization-code flow -----------------------------------------------
    def add_auth_request(self, request: AuthRequest) -> str:
        request_id = secrets.token_urlsafe(16)
        with self.lock:
            self.auth_requests[request_id] = request
        return request_id

    def pop_auth_request(self, request_id: str) -> AuthRequest | None:
        with self.lock:
            return self.auth_requests.pop(request_id, None)

    def add_auth_code(self, request: AuthRequest, email: str) -> str:
        code = "4/emu-" + secrets.token_urlsafe(32)
        with self.lock:
            self.auth_codes[code] = AuthCode(request, email, self.clock() + AUTH_CODE_LIFETIME)
        return code

    def redeem_auth_code(self, code: str) -> AuthCode | None:
        """Consume a code (on any attempt, as it is single-use); None if unknown or expired."""
        with self.lock:
            found = self.auth_codes.pop(code, None)
            return found if found and found.expires_at > self.clock() else None

    # --- workload identity federation ------------------------------------------
    def add_subject_token(self, token: str) -> None:
        with self.lock:
            self.subject_tokens.add(token)

    def subject_token_known(self, token: str) -> bool:
        with self.lock:
            return token in self.subject_tokens

    # --- observation and fault injection ---------------------------------------
    def record(self, endpoint: str, params: Mapping[str, str]) -> None:
        """Count a request and log its parameters with secrets redacted."""
        redacted = {k: ("<redacted>" if k in _SECRET_PARAMS else v) for k, v in params.items()}
        with self.lock:
            self.counts[endpoint] = self.counts.get(endpoint, 0) + 1
            self.requests_log.append((endpoint, redacted))

    def count(self, endpoint: str) -> int:
        with self.lock:
            return self.counts.get(endpoint, 0)

    def log_snapshot(self) -> list[tuple[str, dict[str, str]]]:
        with self.lock:
            return [(name, dict(params)) for name, params in self.requests_log]

    def counts_snapshot(self) -> dict[str, int]:
        with self.lock:
            return dict(self.counts)

    def add_fault(self, endpoint: str, fault: Fault) -> None:
        with self.lock:
            self.faults.setdefault(endpoint, []).append(fault)

    def take_fault(self, endpoint: str) -> Fault | None:
        """The fault to apply to this request, if one is pending."""
        with self.lock:
            queue = self.faults.get(endpoint)
            if not queue:
                return None
            fault = queue[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.pop(0)
            return fault
