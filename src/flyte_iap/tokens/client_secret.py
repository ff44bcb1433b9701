"""The desktop client's secret, read only when Google's token endpoint needs it."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from flyte_iap.errors import OAuthError, UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing only for the type checker: a person's refresh loads this module
    from typing import TypeVar

    T = TypeVar("T")


def explicit_secret(client_secret: str | None, env: Mapping[str, str]) -> str | None:
    """The secret given by ``--desktop_client_secret`` or FLYTE_IAP_DESKTOP_CLIENT_SECRET."""
    return client_secret or env.get("FLYTE_IAP_DESKTOP_CLIENT_SECRET") or None


def require_a_source(explicit: str | None, secret_name: str | None, project: str | None) -> None:
    """A UsageError unless the secret is given or named in Secret Manager (checked before
    anything else: the token endpoint will need it)."""
    if not explicit and not (secret_name and project):
        raise _no_source()


def _no_source() -> UsageError:
    return UsageError(
        "give --desktop_client_secret_gcp_secret_name and --project (the secret in Secret "
        "Manager), or --desktop_client_secret"
    )


class ClientSecret:
    """Where the secret comes from, in order: ``--desktop_client_secret`` /
    FLYTE_IAP_DESKTOP_CLIENT_SECRET (``explicit``), the copy cached beside the
    refresh token, Secret Manager (``fetch(project, name)``).
    """

    def __init__(
        self,
        *,
        explicit: str | None,
        cached: str | None,
        secret_name: str | None,
        project: str | None,
        fetch: Callable[[str, str], str],
    ) -> None:
        self.explicit = explicit
        self._cached = cached
        self._secret_name = secret_name
        self._project = project
        self._fetch = fetch
        self.value: str | None = None
        self._reread = False

    @property
    def cacheable(self) -> str | None:
        """The secret to cache beside the refresh token: not one given explicitly, which
        stays the caller's to keep (docs/design.md, "Cache")."""
        return None if self.explicit else self.value

    def get(self) -> str:
        if self.value is None:
            self.value = self.explicit or self._cached or self._from_secret_manager()
        return self.value

    def use(self, call: Callable[[str], T]) -> T:
        """Run ``call`` with the secret; after ``invalid_client``, re-read it once and retry."""
        try:
            return call(self.get())
        except OAuthError as exc:
            if exc.error != "invalid_client":
                raise
            if self._reread_from_secret_manager():
                return call(self.get())
            raise exc.reworded(
                f"{exc}\nThe desktop client secret does not belong to the desktop client id: "
                "check both (and the Secret Manager secret)."
            ) from exc

    def _reread_from_secret_manager(self) -> bool:
        """Fetch again (a rotated secret); False if that cannot change anything."""
        if self.explicit or self._reread or not self._secret_name:
            return False
        self._reread = True
        self.value = self._from_secret_manager()
        return True

    def _from_secret_manager(self) -> str:
        name, project = self._secret_name, self._project
        if not name or not project:
            raise _no_source()
        return self._fetch(project, name)
