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

from collections.abc import Mapping, Sequence
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
_MERGED = "admin.{key} comes from a merge key (<<: *name); remove it by hand"


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


#: The old value of a key that was not there, and the new value of one removed.
MISSING: Any = _Missing()


@dataclass(frozen=True)
class Change:
    """``admin.<key>`` went from ``old`` (``MISSING`` when absent; as parsed) to ``new``
    (``MISSING`` when the key was removed)."""

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


def remove_admin_keys(text: str, keys: Sequence[str]) -> Edited:
    """``text`` without the keys ``admin.<key>`` that are there: each entry's lines (its
    comments with it) in a block mapping, or the entry and its comma in a flow one.
    Parsed again and compared, as :func:`set_admin_keys` does."""
    tree, root = _parse(text)
    old = _admin_of(tree)
    changes = [Change(key, old[key], MISSING) for key in keys if key in old]
    if not changes or root is None:
        return Edited(text, [], old)
    pair = entry(root, ADMIN)
    if pair is None:  # admin itself comes from a merge key
        raise ConfigError(_MERGED.format(key=changes[0].key))
    admin_key, admin = pair
    not_an_alias(admin_key, admin)
    assert isinstance(admin, yaml.MappingNode)
    edits = []
    for change in changes:
        found = entry(admin, change.key)
        if found is None:  # from a merge key: admin has no line of its own to remove
            raise ConfigError(_MERGED.format(key=change.key))
        edits.append(_removal(text, admin, *found))
    if not admin.flow_style and len(edits) == len(admin.value):
        at = colon_end(text, admin_key)  # "admin:" alone would read as null, not as {}
        edits.append((at, at, " {}"))
    edited = _apply(text, edits)
    return Edited(edited, changes, _check(edited, tree, changes))


def _removal(text: str, mapping: yaml.MappingNode, key: yaml.Node, value: yaml.Node) -> Edit:
    not_an_alias(key, value)
    end = content_end(value) if not empty(value) else colon_end(text, key)
    if mapping.flow_style:
        after = end
        while text[after : after + 1] in (" ", "\t"):
            after += 1
        if text[after : after + 1] == ",":  # "key: v, next": up to the next entry
            after += 1
            while text[after : after + 1] in (" ", "\t"):
                after += 1
            return (key.start_mark.index, after, "")
        before = key.start_mark.index  # the last entry: from the comma before it
        while before > 0 and text[before - 1] in (" ", "\t"):
            before -= 1
        if text[before - 1 : before] == ",":
            before -= 1
        return (before, end, "")
    line_start = text.rfind("\n", 0, key.start_mark.index) + 1
    if text[line_start : key.start_mark.index].strip():
        raise ConfigError(f"the key {key.value} does not start its line: remove it by hand")
    if text[end - 1 : end] == "\n":  # a block scalar's text ends with its line break
        return (line_start, end, "")
    line_end = text.find("\n", end)
    return (line_start, len(text) if line_end == -1 else line_end + 1, "")


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
    # From the end backwards; two edits at one place land in the order they are listed
    # (an empty last value replaced, then the new entries on the lines after it).
    for i in sorted(range(len(edits)), key=lambda i: (edits[i][0], i), reverse=True):
        start, end, new = edits[i]
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
        if change.new is MISSING:
            expected[ADMIN].pop(change.key, None)
        else:
            expected[ADMIN][change.key] = plain(change.new)
    if not isinstance(new, dict) or not isinstance(new.get(ADMIN), dict):
        raise ConfigError(_NOT_EXACT.format(key=key))
    if not same(new, expected, [BUDGET]):
        raise ConfigError(_NOT_EXACT.format(key=key))
    return dict(new[ADMIN])
