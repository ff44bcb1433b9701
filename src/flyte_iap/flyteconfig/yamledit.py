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

from flyte_iap.flyteconfig.errors import ConfigError
from flyte_iap.flyteconfig.values import (
    BUDGET,
    Value,
    copy_unshared,
    emit,
    flow_mapping,
    kind,
    plain,
    quote,
    same,
)

ADMIN = "admin"
_STR = "tag:yaml.org,2002:str"
_NOT_EXACT = (
    "it could not be edited without changing other settings (an anchor, alias or merge "
    "key near admin?); set admin.{key} by hand"
)

_Edit = tuple[int, int, str]  # replace text[start:end] with the string


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
    admin = tree.get(ADMIN) if isinstance(tree, dict) else None
    if admin is not None and not isinstance(admin, dict):
        raise ConfigError(f"its admin is {kind(admin)}, not a mapping of settings")
    old = admin or {}
    changes = [
        Change(key, old.get(key, MISSING), value)
        for key, value in values.items()
        if not same(old.get(key, MISSING), plain(value), [BUDGET])
    ]
    if not changes:
        return Edited(text, [], old)
    edited = _apply(text, _edits(text, root, changes))
    return Edited(edited, changes, _check(edited, tree, changes))


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


def _edits(text: str, root: yaml.MappingNode | None, changes: list[Change]) -> list[_Edit]:
    eol = "\r\n" if "\r\n" in text else "\n"
    children = [(c.key, emit(c.new)) for c in changes]
    if root is None:  # empty, or only comments
        lead = eol if text and not text.endswith("\n") else ""
        lines = [f"{ADMIN}:", *(f"  {key}: {value}" for key, value in children)]
        return [(len(text), len(text), lead + eol.join(lines) + eol)]
    pair = _entry(root, ADMIN)
    if pair is None:
        return [_insert(text, root, [(ADMIN, None)], children, eol)]
    key, admin = pair
    _not_an_alias(key, admin)
    if not isinstance(admin, yaml.MappingNode):  # null: admin with nothing under it yet
        if root.flow_style:
            return [_replace(text, root, key, admin, flow_mapping(children), eol)]
        indent = " " * (root.value[0][0].start_mark.column + 2)
        block = "".join(f"{eol}{indent}{k}: {v}" for k, v in children)
        start = _colon_end(text, key)
        return [(start, start if _empty(admin) else _content_end(admin), block)]
    edits, new = [], []
    for (name, value), change in zip(children, changes, strict=True):
        found = _entry(admin, change.key)
        if found is None:
            new.append((name, value))
        else:
            edits.append(_replace(text, admin, *found, value, eol))
    if new:
        edits.append(_insert(text, admin, new, None, eol))
    return edits


def _insert(
    text: str,
    mapping: yaml.MappingNode,
    entries: Sequence[tuple[str, str | None]],
    children: list[tuple[str, str]] | None,
    eol: str,
) -> _Edit:
    """New entries after the mapping's last one; ``children``: the value of a new mapping."""
    if mapping.flow_style:
        flow = ", ".join(f"{quote(k)}: {v or flow_mapping(children or [])}" for k, v in entries)
        if mapping.value:
            at = mapping.value[-1][1].end_mark.index
            return (at, at, ", " + flow)
        at = text.index("{", mapping.start_mark.index) + 1
        return (at, at, flow)
    indent = " " * mapping.value[0][0].start_mark.column
    lines = []
    for key, value in entries:
        lines.append(f"{indent}{key}: {value}" if value else f"{indent}{key}:")
        if value is None:
            lines += [f"{indent}  {k}: {v}" for k, v in children or []]
    block = eol.join(lines)
    at = _content_end(mapping)
    if text[at - 1 : at] == "\n":  # a block scalar's text ends with its line break
        return (at, at, block + eol)
    line_end = text.find("\n", at)
    if line_end == -1:
        return (len(text), len(text), eol + block)
    if text[line_end - 1] == "\r":
        line_end -= 1
    return (line_end, line_end, eol + block)  # after a comment on that line, if any


def _replace(
    text: str, parent: yaml.MappingNode, key: yaml.Node, value: yaml.Node, new: str, eol: str
) -> _Edit:
    start, end = _value_span(text, parent, key, value)
    if start == end or text[start - 1] == ":":
        new = " " + new
    return (start, end, new + (eol if text[end - 1 : end] == "\n" else ""))


def _value_span(
    text: str, parent: yaml.MappingNode, key: yaml.Node, value: yaml.Node
) -> tuple[int, int]:
    """Where a value's text is: on the key's line (or in a flow mapping) from its first
    character, else from just after the key's colon (a block list on the next lines)."""
    _not_an_alias(key, value)
    if _empty(value) or not (parent.flow_style or value.start_mark.line == key.end_mark.line):
        start = _colon_end(text, key)
        return start, (start if _empty(value) else _content_end(value))
    return value.start_mark.index, _content_end(value)


def _not_an_alias(key: yaml.Node, value: yaml.Node) -> None:
    # The composer gives an alias the node it names, with that node's place in the text.
    if value.start_mark.index < key.end_mark.index:
        raise ConfigError(f"the value of {key.value} is an alias (*name): set it by hand")


def _colon_end(text: str, key: yaml.Node) -> int:
    at = key.end_mark.index
    while text[at : at + 1] in (" ", "\t"):
        at += 1
    if text[at : at + 1] != ":":
        raise ConfigError(f"the key {key.value} is not written as 'key: value'")
    return at + 1


def _content_end(node: yaml.Node) -> int:
    """Where a node's own text ends: a block collection's end mark lies past the comments
    and blank lines after it, so it is the end of its last item instead."""
    if not isinstance(node, yaml.CollectionNode) or node.flow_style or not node.value:
        end = node.end_mark.index
    elif isinstance(node, yaml.SequenceNode):
        end = _content_end(node.value[-1])
    else:
        key, value = node.value[-1]
        end = _content_end(key if _empty(value) else value)
    if end < node.start_mark.index:
        raise ConfigError("it ends a mapping with an alias (*name) where a line must be added")
    return end


def _entry(mapping: yaml.MappingNode, name: str) -> tuple[yaml.Node, yaml.Node] | None:
    found = [
        (k, v)
        for k, v in mapping.value
        if isinstance(k, yaml.ScalarNode) and k.tag == _STR and k.value == name
    ]
    if len(found) > 1:
        lines = " and ".join(str(k.start_mark.line + 1) for k, _ in found)
        raise ConfigError(f"it has the key {name} twice (lines {lines}): remove one")
    return found[0] if found else None


def _empty(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.start_mark.index == node.end_mark.index


def _apply(text: str, edits: list[_Edit]) -> str:
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
