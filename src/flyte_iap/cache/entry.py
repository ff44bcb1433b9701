"""A cache entry read back from its record; entries and their names re-exported.

An entry is a service account's token or a person's login (the classes are in
:mod:`.kinds`, the file names in :mod:`.names`); callers import all of it from here.

The file format (docs/design.md, "Cache") is a JSON object; :func:`entry_from_record`
reads one leniently (a field of the wrong type reads as absent) and ``Entry.record``
writes one.
"""

from __future__ import annotations

from flyte_iap.cache.kinds import SECRET_FIELDS as SECRET_FIELDS
from flyte_iap.cache.kinds import Entry as Entry
from flyte_iap.cache.kinds import ServiceAccountEntry as ServiceAccountEntry
from flyte_iap.cache.kinds import UserEntry as UserEntry
from flyte_iap.cache.names import entry_name as entry_name
from flyte_iap.cache.names import metadata_alias_name as metadata_alias_name
from flyte_iap.cache.names import metadata_lock_name as metadata_lock_name
from flyte_iap.cache.names import service_account_entry_name as service_account_entry_name
from flyte_iap.cache.names import user_entry_name as user_entry_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping


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
