"""Set keys of a Flyte config's ``admin`` mapping by editing its text, not by re-dumping.

PyYAML's composer gives every node its start and end in the text. A key that exists
has exactly its value's text replaced; new keys are inserted as lines after the
mapping's last entry, with its indentation (or as ``, "key": value`` in a flow
mapping, so a JSON config stays JSON). Every comment, key order and quoting outside
the changed lines is left as it was. Values are written as flow YAML: double-quoted
strings (escaped where YAML needs it), ``true``/``false``, ``[...]`` lists.

The result is parsed again and compared with the old document plus the intended
changes (key order included); anything else (an alias or merge key that the edit
reached, a construct this module misjudged) is refused rather than written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from flyte_iap.errors import ConfigError
from flyte_iap.flyteconfig.spans import (
    Edit,
    colon_end,
    content_end,
    empty,
    entry,
    insert,
    not_an_alias,
    replace,
)
from flyte_iap.flyteconfig.values import (
    BUDGET,
    Value,
    copy_unshared,
    emit,
    flow_mapping,
    kind,
    plain,
    same,
)

ADMIN = "admin"
_NOT_EXACT = (
    "it could not be edited without changing other settings (an anchor, alias or merge "
    "key near admin?); set admin.{key} by hand"
)


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


#: The old value of a key that was not there.
MISSING: Any = _Missing()


@dataclass(frozen=True)
class Change:
    """``admin.<key>`` went from ``old`` (``MISSING`` when absent; as parsed) to ``new``."""

    key: str
    old: object
    new: Value


@dataclass(frozen=True)
class Edited:
    """The new text, what changed (nothing: the text is the old one), the new ``admin``."""

    text: str
    changes: list[Change]
    admin: dict[Any, Any]


def set_admin_keys(text: str, values: Mapping[str, Value]) -> Edited:
    """``text`` with ``admin.<key>`` set to each of ``values``."""
    tree, root = _parse(text)
    old = _admin_of(tree)
    changes = [
        Change(key, old.get(key, MISSING), value)
        for key, value in values.items()
        if not same(old.get(key, MISSING), plain(value), [BUDGET])
    ]
    if not changes:
        return Edited(text, [], old)
    edited = _apply(text, _edits(text, root, changes))
    return Edited(edited, changes, _check(edited, tree, changes))


def read_admin(text: str) -> dict[Any, Any]:
    """The ``admin`` mapping of a config's text ({} when there is none); a ConfigError
    when the text is not YAML, not a mapping, or its ``admin`` is not a mapping."""
    return _admin_of(_parse(text)[0])


def _admin_of(tree: dict[Any, Any] | None) -> dict[Any, Any]:
    admin = tree.get(ADMIN) if isinstance(tree, dict) else None
    if admin is not None and not isinstance(admin, dict):
        raise ConfigError(f"its admin is {kind(admin)}, not a mapping of settings")
    return admin or {}


def _parse(text: str) -> tuple[dict[Any, Any] | None, yaml.MappingNode | None]:
    try:
        tree = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        what = "; ".join(part for part in (exc.context, exc.problem) if part)
        raise ConfigError(f"it is not valid YAML ({where}{what})") from None
    except yaml.YAMLError:
        raise ConfigError("it is not valid YAML (characters YAML does not allow)") from None
    except RecursionError:
        raise ConfigError("it is not a Flyte config (nested too deeply)") from None
    if tree is None:
        return None, None
    if not isinstance(tree, dict) or not isinstance(root, yaml.MappingNode):
        raise ConfigError(f"it holds {kind(tree)}, not a mapping of settings")
    return tree, root


def _edits(text: str, root: yaml.MappingNode | None, changes: list[Change]) -> list[Edit]:
    eol = "\r\n" if "\r\n" in text else "\n"
    children = [(c.key, emit(c.new)) for c in changes]
    if root is None:  # empty, or only comments
        lead = eol if text and not text.endswith("\n") else ""
        lines = [f"{ADMIN}:", *(f"  {key}: {value}" for key, value in children)]
        return [(len(text), len(text), lead + eol.join(lines) + eol)]
    pair = entry(root, ADMIN)
    if pair is None:
        return [insert(text, root, [(ADMIN, None)], children, eol)]
    key, admin = pair
    not_an_alias(key, admin)
    if not isinstance(admin, yaml.MappingNode):  # null: admin with nothing under it yet
        if root.flow_style:
            return [replace(text, root, key, admin, flow_mapping(children), eol)]
        indent = " " * (root.value[0][0].start_mark.column + 2)
        block = "".join(f"{eol}{indent}{k}: {v}" for k, v in children)
        start = colon_end(text, key)
        return [(start, start if empty(admin) else content_end(admin), block)]
    edits, new = [], []
    for (name, value), change in zip(children, changes, strict=True):
        found = entry(admin, change.key)
        if found is None:
            new.append((name, value))
        else:
            edits.append(replace(text, admin, *found, value, eol))
    if new:
        edits.append(insert(text, admin, new, None, eol))
    return edits


def _apply(text: str, edits: list[Edit]) -> str:
    for start, end, new in sorted(edits, reverse=True):
        text = text[:start] + new + text[end:]
    return text


def _check(edited: str, old: dict[Any, Any] | None, changes: list[Change]) -> dict[Any, Any]:
    """The new ``admin``, if ``edited`` holds exactly ``old`` with the ``changes``."""
    key = changes[-1].key
    try:
        new = yaml.safe_load(edited)
        expected = copy_unshared(old or {}, [BUDGET])
    except (yaml.YAMLError, RecursionError):
        raise ConfigError(_NOT_EXACT.format(key=key)) from None
    if not isinstance(expected.get(ADMIN), dict):
        expected[ADMIN] = {}
    for change in changes:
        expected[ADMIN][change.key] = plain(change.new)
    if not same(new, expected, [BUDGET]):
        raise ConfigError(_NOT_EXACT.format(key=key))
    return dict(new[ADMIN])
