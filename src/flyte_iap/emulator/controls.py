"""The emulator's state and what a test does with it: addresses, credential files, faults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import files, routes
from .config import EmulatorConfig
from .keys import SigningKey
from .state import EmulatorState, checked_fault
from .tokens import TokenMinter


class EmulatorControls:
    """The config, state and token minter an :class:`~flyte_iap.emulator.Emulator` serves,
    and what a test does with them; every address derives from :attr:`url`, which only the
    serving subclass knows."""

    def __init__(self, config: EmulatorConfig | None, state_dir: Path | None) -> None:
        self.config = config or EmulatorConfig()
        self.state_dir = state_dir
        self._state = EmulatorState()
        self._minter = TokenMinter(self.config, self._state, SigningKey.generate("emulator"))
        self._state.add_client(self.config.desktop_client_id, self.config.desktop_client_secret)
        self._state.add_client(self.config.adc_client_id, self.config.adc_client_secret)

    # --- addresses -----------------------------------------------------------------
    @property
    def url(self) -> str:
        raise NotImplementedError("the serving subclass knows the URL")

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
