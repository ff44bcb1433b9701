"""The :class:`Emulator`: a local stand-in for Google's auth endpoints, on one port."""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType

from .config import EmulatorConfig
from .controls import EmulatorControls
from .gate import Expectations, Gate, GateLimits, GateRecord
from .server import EmulatorHTTPServer
from .wire import Context


class Emulator(EmulatorControls):
    """Serves Google's token, consent, revoke, STS, certs, Secret Manager, IAM Credentials
    and metadata-server endpoints on ``127.0.0.1``, issuing real RS256-signed tokens.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. ``port=0`` picks a
    free port. Relative paths given to the ``write_*`` helpers resolve under ``state_dir``.
    With ``iap_upstream`` (``http://HOST:PORT``) :meth:`start` also starts the IAP gate in
    front of it (see :meth:`start_gate`).
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        port: int = 0,
        state_dir: Path | None = None,
        *,
        iap_upstream: str | None = None,
    ) -> None:
        super().__init__(config, state_dir)
        self._port = port
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._iap_upstream = iap_upstream
        self._gate: Gate | None = None

    # --- lifecycle ---------------------------------------------------------------
    def start(self) -> Emulator:
        """Bind the port and serve on a daemon thread."""
        if self._server is not None:
            return self
        server = EmulatorHTTPServer(self._port)
        base_url = f"http://127.0.0.1:{server.server_port}"
        server.ctx = Context(self.config, self._state, self._minter, base_url)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.02},  # how soon stop() returns
            name="google-emulator",
            daemon=True,
        )
        self._thread.start()
        if self._iap_upstream is not None and self._gate is None:
            try:
                self.start_gate(self._iap_upstream)
            except BaseException:
                self.stop()
                raise
        return self

    def stop(self) -> None:
        """Stop serving (the IAP gate too) and release the ports."""
        self.stop_gate()
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server, self._thread = None, None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the server stops or ``timeout`` seconds pass."""
        if self._thread is not None:
            self._thread.join(timeout)

    # --- addresses -----------------------------------------------------------------
    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``; only once started."""
        if self._server is None or self._server.ctx is None:
            raise RuntimeError("the emulator is not started; call start() first")
        return self._server.ctx.base_url

    def env(self) -> dict[str, str]:
        """Environment variables that point flyte-iap and google-auth at this emulator."""
        return {
            "FLYTE_IAP_TOKEN_URI": self.token_uri,
            "FLYTE_IAP_AUTH_URI": self.auth_uri,
            "FLYTE_IAP_REVOKE_URI": self.revoke_uri,
            "FLYTE_IAP_CERTS_URI": self.certs_uri,
            "FLYTE_IAP_SECRET_MANAGER_URI": self.secret_manager_uri,
            "FLYTE_IAP_IAM_CREDENTIALS_URI": self.iam_credentials_uri,
            "GCE_METADATA_HOST": self.metadata_host,
            "GCE_METADATA_IP": self.metadata_host,
            **({"FLYTE_IAP_GATE_URL": self._gate.url} if self._gate is not None else {}),
        }

    # --- the IAP gate ------------------------------------------------------------------
    def start_gate(
        self,
        upstream: str,
        *,
        check: bool = True,
        audience: str | None = None,
        port: int = 0,
        limits: GateLimits | None = None,
    ) -> str:
        """Serve Identity-Aware Proxy in front of ``upstream`` on another 127.0.0.1 port;
        return its base URL. It lets in requests whose ``proxy-authorization`` (else
        ``authorization``) bearer is signed by this emulator, issued by Google, for
        ``audience`` (default: the webapp client) and not expired, and answers the others
        as IAP does (401, ``x-goog-iap-generated-response: true``). ``check=False``: it
        lets everything through, like a load balancer without IAP. ``GateConfigError``
        for an upstream that is not ``http://HOST[:PORT][/PREFIX]``."""
        if self._gate is not None:
            raise RuntimeError(f"the IAP gate already serves on {self._gate.url}")
        key = self._minter.issuer_key
        expect = Expectations(
            keys=lambda: {key.kid: key.public_key},
            audience=audience or self.config.webapp_client_id,
            clock=self._state.clock,
        )
        gate = Gate(upstream, expect if check else None, port=port, limits=limits)
        self._gate = gate.start()
        return gate.url

    def stop_gate(self) -> None:
        """Stop the IAP gate (if any), cutting its open connections."""
        if self._gate is not None:
            self._gate.stop()
            self._gate = None

    @property
    def gate_url(self) -> str:
        """``http://127.0.0.1:GPORT``; only once the gate is started."""
        if self._gate is None:
            raise RuntimeError("the IAP gate is not started; call start_gate(upstream) first")
        return self._gate.url

    @property
    def gate_log(self) -> list[GateRecord]:
        """(method, path, verdict, claims or reason) of each request the gate saw."""
        return self._gate.log if self._gate is not None else []
