"""The :class:`Emulator`: a local stand-in for Google's auth endpoints, on one port, and
what a test does with it (addresses, credential files, faults, the IAP gate)."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from flyte_iap.emulator import files, routes
from flyte_iap.emulator.config import EmulatorConfig
from flyte_iap.emulator.gate import (
    Expectations,
    Gate,
    GateCertificates,
    GateLimits,
    GateRecord,
    SignedHeader,
)
from flyte_iap.emulator.keys import Es256Key, SigningKey
from flyte_iap.emulator.records import checked_fault
from flyte_iap.emulator.server import EmulatorHTTPServer
from flyte_iap.emulator.state import EmulatorState
from flyte_iap.emulator.statedir import StateDirError
from flyte_iap.emulator.tokens import TokenMinter
from flyte_iap.emulator.wire import Context

#: The IAP gate's CA certificate, in the state directory (when there is one).
GATE_CA_FILE_NAME = "iap-gate-ca.pem"


class Emulator:
    """Serves Google's token, consent, revoke, STS, certs, Secret Manager, IAM Credentials
    and metadata-server endpoints on ``127.0.0.1``, issuing real RS256-signed tokens.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. ``port=0`` picks a
    free port. Relative paths given to the ``write_*`` helpers resolve under ``state_dir``.
    With ``iap_upstream`` (``http://HOST:PORT``) :meth:`start` also starts the IAP gate in
    front of it (over HTTPS with ``iap_tls``; see :meth:`start_gate`). ``clock`` (seconds
    since the epoch) is the emulator's time: what it issues expires by it, and what it is
    shown is judged by it (a test moves its own on, rather than wait for a token to
    expire).
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        port: int = 0,
        state_dir: Path | None = None,
        *,
        iap_upstream: str | None = None,
        iap_tls: bool = False,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config or EmulatorConfig()
        self.state_dir = state_dir
        self._state = EmulatorState(clock=clock)
        self._minter = TokenMinter(self.config, self._state, SigningKey.generate("emulator"))
        self._state.add_client(self.config.desktop_client_id, self.config.desktop_client_secret)
        self._state.add_client(self.config.adc_client_id, self.config.adc_client_secret)
        self._port = port
        self._server: EmulatorHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._iap_key = Es256Key.generate()  # signs the gate's assertions, as IAP's own key
        self._iap_upstream = iap_upstream
        self._iap_tls = iap_tls
        self._gate: Gate | None = None
        self._gate_ca_file: Path | None = None
        self._gate_ca_dir: Path | None = None  # made for the CA when there is no state_dir

    # --- lifecycle ---------------------------------------------------------------
    def start(self) -> Emulator:
        """Bind the port and serve on a daemon thread."""
        if self._server is not None:
            return self
        server = EmulatorHTTPServer(self._port)
        base_url = f"http://127.0.0.1:{server.server_port}"
        server.ctx = Context(self.config, self._state, self._minter, self._iap_key, base_url)
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
                self.start_gate(self._iap_upstream, tls=self._iap_tls)
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

    @property
    def metadata_host(self) -> str:
        return self.url.removeprefix("http://")

    @property
    def token_uri(self) -> str:
        return self.url + "/token"

    @property
    def certs_uri(self) -> str:
        return self.url + "/oauth2/v1/certs"

    @property
    def iap_public_key_uri(self) -> str:
        """IAP's assertion keys as {kid: PEM} (``https://www.gstatic.com/iap/verify/public_key``)."""
        return self.url + "/iap/verify/public_key"

    @property
    def iap_jwk_uri(self) -> str:
        """IAP's assertion keys as a JWK set (``.../iap/verify/public_key-jwk``)."""
        return self.url + "/iap/verify/public_key-jwk"

    @property
    def auth_uri(self) -> str:
        return self.url + "/o/oauth2/v2/auth"

    @property
    def revoke_uri(self) -> str:
        return self.url + "/revoke"

    @property
    def sts_uri(self) -> str:
        return self.url + "/sts/v1/token"

    @property
    def secret_manager_uri(self) -> str:
        """Base URL: ``/v1/projects/...:access`` is appended by clients."""
        return self.url

    @property
    def iam_credentials_uri(self) -> str:
        """Base URL: ``/v1/projects/-/serviceAccounts/...`` is appended by clients."""
        return self.url

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
            **({"FLYTE_IAP_GATE_CA_FILE": str(self._gate_ca_file)} if self._gate_ca_file else {}),
        }

    # --- credential files ------------------------------------------------------------
    def _resolve(self, path: Path) -> Path:
        path = Path(path)
        if not path.is_absolute() and self.state_dir is not None:
            path = self.state_dir / path
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        return path

    def write_service_account_key(self, path: Path, email: str | None = None) -> Path:
        """Write a new ``service_account`` key file whose key the token endpoint accepts."""
        email = email or self.config.service_account_email
        key = SigningKey.generate(email)
        self._state.add_sa_key(key.kid, email, key.public_key)
        info = files.service_account_key(key, email, self.config.project, self.url)
        return files.write_json(self._resolve(path), info)

    def write_authorized_user_file(self, path: Path) -> Path:
        """Write a person's ADC file (as ``gcloud auth application-default login`` does)."""
        cfg = self.config
        refresh_token = self.add_refresh_token(client_id=cfg.adc_client_id)
        info = files.authorized_user(
            cfg.adc_client_id, cfg.adc_client_secret, refresh_token, self.token_uri
        )
        return files.write_json(self._resolve(path), info)

    def write_external_account_file(
        self, path: Path, *, impersonation_email: str | None = None
    ) -> Path:
        """Write a workload-identity-federation file and, beside it, its subject token."""
        path = self._resolve(path)
        claims = files.subject_token_claims(int(self._state.clock()), self.config.token_lifetime)
        subject_token = self._minter.issuer_key.sign_jwt(claims)
        self._state.add_subject_token(subject_token)
        token_path = path.with_name(path.stem + ".subject-token")
        files.write_private(token_path, subject_token)
        impersonation_url = None
        if impersonation_email:
            impersonation_url = (
                f"{self.iam_credentials_uri}/v1/projects/-/serviceAccounts/"
                f"{impersonation_email}:generateAccessToken"
            )
        info = files.external_account(token_path, self.sts_uri, impersonation_url)
        return files.write_json(path, info)

    # --- control -----------------------------------------------------------------------
    def revoke_service_account_key(self, key_id: str) -> None:
        """Refuse assertions signed with this key (its ``private_key_id``) from now on."""
        self._state.revoke_sa_key(key_id)

    def add_refresh_token(self, email: str | None = None, client_id: str | None = None) -> str:
        """Mint a refresh token for ``email`` (the user) issued to ``client_id`` (desktop)."""
        return self._state.add_refresh_grant(
            email or self.config.user_email,
            client_id or self.config.desktop_client_id,
            "openid https://www.googleapis.com/auth/userinfo.email",
        )

    def fail_next(
        self,
        endpoint: str,
        status: int,
        count: int = 1,
        *,
        delay: float = 0.0,
        body: dict[str, Any] | None = None,
    ) -> None:
        """Make the next ``count`` requests to ``endpoint`` answer ``status`` after ``delay``
        seconds (status 0: drop the connection unanswered; status 200: answer normally, only
        after the delay). ``ValueError`` for an unknown endpoint or a delay outside
        0..``MAX_FAULT_DELAY`` (60 s)."""
        if endpoint not in routes.ENDPOINT_NAMES:
            raise ValueError(
                f"unknown endpoint {endpoint!r}; known: {', '.join(sorted(routes.ENDPOINT_NAMES))}"
            )
        self._state.add_fault(endpoint, checked_fault(status, count, delay, body))

    def mint_id_token(self, **claims: Any) -> str:
        """An ID token signed with the key the certs endpoint publishes: for the webapp
        client and the user, unless ``claims`` say otherwise (a claim set to None is left
        out): ``exp=0`` makes an expired one, ``iss=...`` one from another issuer."""
        cfg = self.config
        base = self._minter.claims(
            audience=cfg.webapp_client_id, email=cfg.user_email, azp=cfg.desktop_client_id
        )
        merged = {name: value for name, value in {**base, **claims}.items() if value is not None}
        return self._minter.issuer_key.sign_jwt(merged)

    def count(self, endpoint: str) -> int:
        """How many requests reached ``endpoint`` (including failed and injected ones)."""
        return self._state.count(endpoint)

    @property
    def requests_log(self) -> list[tuple[str, dict[str, str]]]:
        """A copy of (endpoint, parameters with secrets redacted), in arrival order."""
        return self._state.log_snapshot()

    # --- the IAP gate ------------------------------------------------------------------
    def start_gate(
        self,
        upstream: str,
        *,
        check: bool = True,
        audience: str | None = None,
        port: int = 0,
        limits: GateLimits | None = None,
        tls: bool = False,
    ) -> str:
        """Serve Identity-Aware Proxy in front of ``upstream`` on another 127.0.0.1 port;
        return its base URL.

        It lets in requests whose bearer (``Proxy-Authorization``, else ``Authorization``:
        see :func:`~flyte_iap.emulator.gate.admit`) is signed by this emulator, issued by
        Google, for ``audience`` (default: the webapp client) and not expired, and answers
        the others as IAP does (401, ``x-goog-iap-generated-response: true``). The allowed
        ones reach the upstream with IAP's identity headers, among them
        ``X-Goog-IAP-JWT-Assertion`` signed (ES256) for the config's
        ``signed_header_audience``, verifiable with the keys at :attr:`iap_jwk_uri`.
        ``check=False``: it lets everything through, like a load balancer without IAP.

        ``tls=True``: HTTPS, with a certificate for localhost, 127.0.0.1 and ::1 from a CA
        made for this gate, whose certificate is written to :attr:`gate_ca_file` (in
        ``state_dir``, else a temporary directory removed with the gate).
        ``GateConfigError`` for an upstream that is not ``http://HOST[:PORT][/PREFIX]``;
        :class:`StateDirError` when the CA certificate cannot be written."""
        if self._gate is not None:
            raise RuntimeError(f"the IAP gate already serves on {self._gate.url}")
        key = self._minter.issuer_key
        expect = Expectations(
            keys=lambda: {key.kid: key.public_key},
            audience=audience or self.config.webapp_client_id,
            clock=self._state.clock,
        )
        signed = SignedHeader(self._iap_key, self.config.signed_header_audience, self._state.clock)
        certificates = GateCertificates.generate() if tls else None
        gate = Gate(
            upstream,
            expect if check else None,
            port=port,
            limits=limits,
            signed=signed,
            tls=certificates.server_context() if certificates else None,
        )
        if certificates is not None:
            self._gate_ca_file = self._write_gate_ca(certificates.ca_pem)
        try:
            self._gate = gate.start()
        except BaseException:
            self._forget_gate_ca()
            raise
        return gate.url

    def _write_gate_ca(self, pem: str) -> Path:
        if self.state_dir is not None:
            directory = self.state_dir
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        else:
            directory = self._gate_ca_dir = Path(tempfile.mkdtemp(prefix="flyte-iap-gate-"))
        try:
            return files.write_public(directory / GATE_CA_FILE_NAME, pem)
        except OSError as exc:
            self._forget_gate_ca()
            raise StateDirError(
                f"{str(directory)!r}: cannot write the IAP gate's CA certificate: "
                f"{exc.strerror or exc}"
            ) from exc

    def _forget_gate_ca(self) -> None:
        if self._gate_ca_dir is not None:
            shutil.rmtree(self._gate_ca_dir, ignore_errors=True)
        self._gate_ca_file = self._gate_ca_dir = None

    def stop_gate(self) -> None:
        """Stop the IAP gate (if any), cutting its open connections."""
        if self._gate is not None:
            self._gate.stop()
            self._gate = None
        self._forget_gate_ca()

    @property
    def gate_url(self) -> str:
        """``http://127.0.0.1:GPORT`` (``https://`` over TLS); only once the gate is started."""
        if self._gate is None:
            raise RuntimeError("the IAP gate is not started; call start_gate(upstream) first")
        return self._gate.url

    @property
    def gate_ca_file(self) -> Path:
        """The CA certificate (PEM) a client trusts to reach the gate over HTTPS (for
        ``admin.caCertFilePath``); only while a gate started with ``tls=True`` serves."""
        if self._gate_ca_file is None:
            raise RuntimeError("the IAP gate does not serve HTTPS; call start_gate(..., tls=True)")
        return self._gate_ca_file

    @property
    def gate_log(self) -> list[GateRecord]:
        """(method, path, verdict, claims or reason) of each request the gate saw."""
        return self._gate.log if self._gate is not None else []
