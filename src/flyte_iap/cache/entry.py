"""The two kinds of cache entry, typed: a service account's token and a person's login;
each written as a record (:meth:`Entry.record`) and read back from one
(:func:`entry_from_record`).

The file format (docs/design.md, "Cache") is a JSON object, read leniently: a field of
the wrong type reads as absent. Plain classes, not dataclasses: this module is on the
fast path, where importing ``dataclasses`` would cost more than the whole lookup.
"""

from __future__ import annotations

from flyte_iap.cache.names import service_account_entry_name, user_entry_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

SECRET_FIELDS = ("refresh_token", "client_secret")


class Entry:
    """An ID token for one audience, and when it expires (seconds since the epoch)."""

    __slots__ = ("audience", "expiry", "fetched_at", "id_token")
    kind = ""

    audience: str
    id_token: str
    expiry: float
    fetched_at: int

    def is_fresh(self, margin: float, now: float) -> bool:
        """True if the token has more than ``margin`` seconds left at ``now``."""
        return bool(self.id_token) and self.expiry - margin > now

    @property
    def name(self) -> str:
        """The entry's file name in the cache (without ``.json``)."""
        raise NotImplementedError

    @property
    def who(self) -> str:
        """The identity, for a person to read."""
        raise NotImplementedError

    def record(self) -> dict[str, object]:
        """The JSON object written to the entry's file."""
        return {
            "kind": self.kind,
            "audience": self.audience,
            "id_token": self.id_token,
            "expiry": self.expiry,
            "fetched_at": self.fetched_at,
        }

    def __repr__(self) -> str:  # never the token
        return f"<{type(self).__name__} {self.name} expiry={self.expiry}>"


class ServiceAccountEntry(Entry):
    """A service account's ID token; ``source`` says where it came from (for messages),
    ``via`` which credentials obtained it (part of its name)."""

    __slots__ = ("principal", "source", "via")
    kind = "service_account"

    principal: str
    source: str
    via: str

    def __init__(
        self,
        *,
        audience: str,
        principal: str,
        id_token: str,
        expiry: float,
        fetched_at: int,
        via: str,
        source: str = "",
    ) -> None:
        self.audience = audience
        self.principal = principal
        self.via = via
        self.id_token = id_token
        self.expiry = expiry
        self.fetched_at = fetched_at
        self.source = source

    @property
    def name(self) -> str:
        return service_account_entry_name(self.principal, self.audience, self.via)

    @property
    def who(self) -> str:
        return self.principal or "?"

    def record(self) -> dict[str, object]:
        return {
            **super().record(),
            "principal": self.principal,
            "source": self.source,
            "via": self.via,
        }


class UserEntry(Entry):
    """A person's login: the ID token, and the refresh token and client secret that renew it.

    ``secrets_in`` is ``"keyring"`` when those two live in the OS keyring, not the file.
    """

    __slots__ = ("client_secret", "desktop_client_id", "email", "refresh_token", "secrets_in")
    kind = "user"

    desktop_client_id: str
    email: str
    refresh_token: str
    client_secret: str
    secrets_in: str

    def __init__(
        self,
        *,
        desktop_client_id: str,
        audience: str,
        email: str,
        id_token: str,
        expiry: float,
        fetched_at: int,
        refresh_token: str = "",
        client_secret: str = "",
        secrets_in: str = "",
    ) -> None:
        self.desktop_client_id = desktop_client_id
        self.audience = audience
        self.email = email
        self.id_token = id_token
        self.expiry = expiry
        self.fetched_at = fetched_at
        self.refresh_token = refresh_token
        self.client_secret = client_secret
        self.secrets_in = secrets_in

    @property
    def name(self) -> str:
        return user_entry_name(self.desktop_client_id, self.audience)

    @property
    def who(self) -> str:
        return self.email or "?"

    def secrets(self) -> dict[str, str]:
        """The refresh token and client secret, those that are set."""
        return {k: v for k, v in ((k, getattr(self, k)) for k in SECRET_FIELDS) if v}

    def public_record(self) -> dict[str, object]:
        """The record without the secrets (and without saying where they are)."""
        return {
            **super().record(),
            "desktop_client_id": self.desktop_client_id,
            "email": self.email,
        }

    def record(self) -> dict[str, object]:
        record = {**self.public_record(), **self.secrets()}
        if self.secrets_in:
            record["secrets_in"] = self.secrets_in
        return record

    def with_secrets(self, *, refresh_token: str, client_secret: str) -> UserEntry:
        """A copy holding these secrets (read from the keyring, or one revoked)."""
        return UserEntry(
            desktop_client_id=self.desktop_client_id,
            audience=self.audience,
            email=self.email,
            id_token=self.id_token,
            expiry=self.expiry,
            fetched_at=self.fetched_at,
            refresh_token=refresh_token,
            client_secret=client_secret,
            secrets_in=self.secrets_in,
        )

    def without_refresh_token(self) -> UserEntry:
        """A copy that no longer offers its refresh token (revoked at Google)."""
        return self.with_secrets(refresh_token="", client_secret=self.client_secret)


def entry_from_record(record: Mapping[str, object]) -> Entry | None:
    """The entry a record describes; None if it is neither kind (an alias, a stranger)."""
    kind = record.get("kind")
    if kind == ServiceAccountEntry.kind:
        return ServiceAccountEntry(
            audience=_text(record, "audience"),
            principal=_text(record, "principal"),
            id_token=_text(record, "id_token"),
            expiry=_number(record, "expiry"),
            fetched_at=_whole(record, "fetched_at"),
            via=_text(record, "via"),
            source=_text(record, "source"),
        )
    if kind == UserEntry.kind:
        return UserEntry(
            desktop_client_id=_text(record, "desktop_client_id"),
            audience=_text(record, "audience"),
            email=_text(record, "email"),
            id_token=_text(record, "id_token"),
            expiry=_number(record, "expiry"),
            fetched_at=_whole(record, "fetched_at"),
            refresh_token=_text(record, "refresh_token"),
            client_secret=_text(record, "client_secret"),
            secrets_in=_text(record, "secrets_in"),
        )
    return None


def _text(record: Mapping[str, object], key: str) -> str:
    value = record.get(key)
    return value if isinstance(value, str) else ""


def _whole(record: Mapping[str, object], key: str) -> int:
    return int(_number(record, key))


def _number(record: Mapping[str, object], key: str) -> float:
    """A plausible time in seconds, else 0: not a bool, NaN, an infinity (which would keep
    a token fresh forever), or an integer too large for arithmetic with a float."""
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return value if -_LONGEST_TIME < value < _LONGEST_TIME else 0


# About 3e10 years; json reads 1e400 as infinity and a 400-digit number as an int.
_LONGEST_TIME = 1e18
