"""Where a composed YAML node's text lies, and the edits that replace or add entries there."""

from __future__ import annotations

from collections.abc import Sequence

import yaml

from flyte_iap.errors import ConfigError
from flyte_iap.flyteconfig.values import flow_mapping, quote

_STR = "tag:yaml.org,2002:str"

Edit = tuple[int, int, str]  # replace text[start:end] with the string


def insert(
    text: str,
    mapping: yaml.MappingNode,
    entries: Sequence[tuple[str, str | None]],
    children: list[tuple[str, str]] | None,
    eol: str,
) -> Edit:
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
    at = content_end(mapping)
    if text[at - 1 : at] == "\n":  # a block scalar's text ends with its line break
        return (at, at, block + eol)
    line_end = text.find("\n", at)
    if line_end == -1:
        return (len(text), len(text), eol + block)
    if text[line_end - 1] == "\r":
        line_end -= 1
    return (line_end, line_end, eol + block)  # after a comment on that line, if any


def replace(
    text: str, parent: yaml.MappingNode, key: yaml.Node, value: yaml.Node, new: str, eol: str
) -> Edit:
    start, end = _value_span(text, parent, key, value)
    if start == end or text[start - 1] == ":":
        new = " " + new
    return (start, end, new + (eol if text[end - 1 : end] == "\n" else ""))


def _value_span(
    text: str, parent: yaml.MappingNode, key: yaml.Node, value: yaml.Node
) -> tuple[int, int]:
    """Where a value's text is: on the key's line (or in a flow mapping) from its first
    character, else from just after the key's colon (a block list on the next lines)."""
    not_an_alias(key, value)
    if empty(value) or not (parent.flow_style or value.start_mark.line == key.end_mark.line):
        start = colon_end(text, key)
        return start, (start if empty(value) else content_end(value))
    return value.start_mark.index, content_end(value)


def not_an_alias(key: yaml.Node, value: yaml.Node) -> None:
    # The composer gives an alias the node it names, with that node's place in the text.
    if value.start_mark.index < key.end_mark.index:
        raise ConfigError(f"the value of {key.value} is an alias (*name): set it by hand")


def colon_end(text: str, key: yaml.Node) -> int:
    at = key.end_mark.index
    while text[at : at + 1] in (" ", "\t"):
        at += 1
    if text[at : at + 1] != ":":
        raise ConfigError(f"the key {key.value} is not written as 'key: value'")
    return at + 1


def content_end(node: yaml.Node, inside: tuple[yaml.Node, ...] = ()) -> int:
    """Where a node's own text ends: a block collection's end mark lies past the comments
    and blank lines after it, so it is the end of its last item instead. ``inside``: the
    collections it is the last item of (an alias back to one of them never ends)."""
    if any(node is outer for outer in inside):
        raise ConfigError("it ends a mapping with an alias (*name) where a line must be added")
    if not isinstance(node, yaml.CollectionNode) or node.flow_style or not node.value:
        end = node.end_mark.index
    elif isinstance(node, yaml.SequenceNode):
        end = content_end(node.value[-1], (*inside, node))
    else:
        key, value = node.value[-1]
        end = content_end(key if empty(value) else value, (*inside, node))
    if end < node.start_mark.index:
        raise ConfigError("it ends a mapping with an alias (*name) where a line must be added")
    return end


def entry(mapping: yaml.MappingNode, name: str) -> tuple[yaml.Node, yaml.Node] | None:
    found = [
        (k, v)
        for k, v in mapping.value
        if isinstance(k, yaml.ScalarNode) and k.tag == _STR and k.value == name
    ]
    if len(found) > 1:
        lines = " and ".join(str(k.start_mark.line + 1) for k, _ in found)
        raise ConfigError(f"it has the key {name} twice (lines {lines}): remove one")
    return found[0] if found else None


def empty(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.start_mark.index == node.end_mark.index
