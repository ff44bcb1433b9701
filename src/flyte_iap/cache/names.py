"""What every file in the cache is called, decided here and nowhere else."""

from __future__ import annotations

_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.@-")
_LONGEST = 180


def entry_name(kind: str, *parts: str) -> str:
    """A readable, unambiguous file name for an identity, e.g. ``sa_ci@p.iam…_aud``.

    Characters outside ``[A-Za-z0-9.@-]`` are %-escaped (``_`` too, as it is the
    separator). Very long names fall back to a digest.
    """
    escaped = ["".join(c if c in _SAFE else f"%{ord(c):02X}" for c in part) for part in parts]
    name = "_".join([kind, *escaped])
    if len(name) > _LONGEST:
        import hashlib

        name = f"{kind}_{hashlib.sha256(name.encode()).hexdigest()[:40]}"
    return name


def user_entry_name(desktop_client_id: str, audience: str) -> str:
    """A person's login with one desktop client, for one IAP audience."""
    return entry_name("user", desktop_client_id, audience)


def service_account_entry_name(principal: str, audience: str, via: str) -> str:
    """A service account's token for one audience, obtained by ``via``.

    ``via`` names the credentials that obtained it (``adc.source_id``: a digest of the
    key file, or of this machine's metadata server), so a token is served only to the
    source and caller that got it: never one a metadata server claimed for a key
    file's account, nor an impersonated token to another caller.
    """
    return entry_name("sa", principal, audience, via)


def metadata_lock_name(via: str, audience: str) -> str:
    """The lock of a metadata-server token, taken before its account is known."""
    return entry_name("sa-metadata", via, audience)


def metadata_alias_name(via: str) -> str:
    """The entry that remembers which service account a metadata server speaks for.

    One per machine (``via`` digests the host and the machine), so two machines that
    share a home directory never read each other's account.
    """
    return entry_name("metadata", via)
