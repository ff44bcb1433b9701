"""Property-based tests of the YAML editor behind ``configure`` (``flyteconfig.yamledit``):
on any Flyte config, ``set_admin_keys`` and ``remove_admin_keys`` give a ConfigError, or a
text that loads to exactly the old document with the intended change (key order
included) and in which every line outside the edited entries is byte-identical and in
its place; editing again with the same values changes nothing.

Configs are generated as text, not dumped: block and flow mappings (and JSON), block and
flow lists, plain, single- and double-quoted scalars, block scalars, comments on their own
lines and after values (some mentioning ``admin:``), blank lines, CRLF, document markers,
anchors, aliases and merge keys, an ``admin`` that is absent, empty, null, flow, block,
anchored or an alias, and now and then a key given twice or a tab where YAML forbids one.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, TypeVar

import yaml
from hypothesis import event, given
from hypothesis import strategies as st

from flyte_iap.errors import ConfigError
from flyte_iap.flyteconfig import MISSING, Edited, remove_admin_keys, set_admin_keys
from flyte_iap.flyteconfig.values import Value

ADMIN_KEYS = ["endpoint", "insecure", "proxyCommand", "authType", "command", "clientId"]


T = TypeVar("T")


def mostly(common: st.SearchStrategy[T], rare: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    """``common`` three times in four, else ``rare``."""
    return st.integers(0, 3).flatmap(lambda i: rare if i == 3 else common)


# --- scalars as written -------------------------------------------------------------------
# Plain words that are keys or values as they stand (a letter first, no ": " or " #").
words = st.builds(
    str.__add__,
    st.sampled_from("abcxyzABXZ"),
    st.text("abcxyz019_./:-", max_size=5).map(lambda w: w.rstrip(":")),
)
PLAIN = [
    "dns:///flyte.example.com:443", "dns:///127.0.0.1:30080", "true", "false", "yes", "off",
    "123", "0x1F", "1e3", ".nan", "-.inf", "~", "null", "2001-12-14", "ExternalCommand",
    "flyte-iap", "a b c", "127.0.0.1", "1e400", ".NaN", "0o17", "+12", "1_000", "12:30:00",
    "'it''s'", "\"\\t\"",
]  # fmt: skip
# Values YAML reads otherwise than as they stand, or not at all: a tag, the merge and value
# keys, a sequence entry.
ODD_PLAIN = ["=", "<<", "!!str 5", "!!binary aGk=", "-", "?x"]
any_text = st.text(max_size=8)
# What YAML takes raw in a quoted scalar (no C0 or C1 controls, no surrogates).
yaml_text = st.text(st.characters(exclude_categories=["Cc", "Cs"]), max_size=8)


def single_quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


clean_scalar_texts = st.one_of(
    st.sampled_from(PLAIN),
    words,
    words.map(single_quoted),
    any_text.map(lambda t: json.dumps(t)),  # double-quoted, with escapes
    yaml_text.map(single_quoted),
)
scalar_texts = st.integers(0, 11).flatmap(
    lambda i: st.sampled_from(ODD_PLAIN) if i == 11 else clean_scalar_texts
)


# --- documents ----------------------------------------------------------------------------
class Doc:
    """The text being built, line by line, and the anchors defined so far. A ``clean``
    one has no anchors, aliases, tags or values YAML reads otherwise."""

    def __init__(self, draw: st.DrawFn, unit: int, clean: bool) -> None:
        self.draw = draw
        self.unit = unit
        self.clean = clean
        self.scalars = clean_scalar_texts if clean else scalar_texts
        self.lines: list[str] = []
        self.anchors: list[str] = []  # of mappings, usable by a merge key too
        self.scalar_anchors: list[str] = []

    def comment(self, level: int) -> None:
        text = self.draw(st.sampled_from(["# c", "#", "# admin: fake", "#  - x", "# é"]))
        self.lines.append(" " * (level * self.unit) + text)

    def trailing(self) -> str:
        return self.draw(mostly(st.just(""), st.sampled_from(["  # t", " #", "   #  # ##"])))

    def anchor(self, mapping: bool) -> str:
        if self.clean or self.draw(st.integers(0, 5)) != 5:
            return ""
        name = f"a{len(self.anchors) + len(self.scalar_anchors)}"
        (self.anchors if mapping else self.scalar_anchors).append(name)
        return f"&{name} "

    def entry(self, level: int, key: str, depth: int) -> None:
        """``key:`` and a value, at ``level``, in one of the styles."""
        pad = " " * (level * self.unit)
        style = self.draw(
            st.sampled_from(
                ["scalar", "scalar", "flow list", "flow map", "block list", "block map",
                 "block scalar", "alias", "empty"]
            )
        )  # fmt: skip
        if depth >= 2 and style in ("block map", "block list"):
            style = "scalar"
        if style == "alias" and not (self.anchors or self.scalar_anchors):
            style = "scalar"
        if self.clean and depth >= 2 and style == "empty":
            # A known refusal, not a clean config: an admin value that is a block mapping
            # ending in an empty value is not replaced (its span would stop at the key).
            style = "scalar"
        if style == "scalar":
            tag = self.anchor(mapping=False)
            self.lines.append(f"{pad}{key}: {tag}{self.draw(self.scalars)}{self.trailing()}")
        elif style == "flow list":
            items = self.draw(st.lists(self.scalars.filter(_flow_safe), max_size=3))
            self.lines.append(f"{pad}{key}: [{', '.join(items)}]{self.trailing()}")
        elif style == "flow map":
            tag = self.anchor(mapping=True)
            pairs = self.draw(
                st.lists(st.tuples(words, self.scalars.filter(_flow_safe)), max_size=3)
            )
            body = ", ".join(f"{k}: {v}" for k, v in dict(pairs).items())
            self.lines.append(f"{pad}{key}: {tag}{{{body}}}{self.trailing()}")
        elif style == "block list":
            self.lines.append(f"{pad}{key}:{self.trailing()}")
            dash = pad + (" " * self.unit if self.draw(st.booleans()) else "")
            for item in self.draw(st.lists(self.scalars, min_size=1, max_size=3)):
                self.lines.append(f"{dash}- {item}")
        elif style == "block map":
            self.lines.append(f"{pad}{key}: {self.anchor(mapping=True)}".rstrip())
            keys = st.lists(words, min_size=1, max_size=3, unique=self.clean)
            self.mapping(level + 1, self.draw(keys), depth + 1)
        elif style == "block scalar":
            # Keep chomping (+) takes in the blank lines after it, which an edit may move.
            chomps = ["|", ">", "|-"] if self.clean else ["|", ">", "|-", ">+"]
            self.lines.append(f"{pad}{key}: {self.draw(st.sampled_from(chomps))}")
            for line in self.draw(st.lists(words, min_size=1, max_size=2)):
                self.lines.append(f"{pad}{' ' * self.unit}{line}")
        elif style == "alias":
            name = self.draw(st.sampled_from(self.anchors + self.scalar_anchors))
            self.lines.append(f"{pad}{key}: *{name}{self.trailing()}")
        else:
            self.lines.append(f"{pad}{key}:{self.trailing()}")

    def mapping(self, level: int, keys: list[str], depth: int) -> None:
        for key in keys:
            if self.draw(st.integers(0, 7)) == 7:
                self.comment(level)
            if self.draw(st.integers(0, 9)) == 9:
                self.lines.append("")
            self.entry(level, key, depth)


def _flow_safe(text: str) -> bool:
    """A plain scalar that does not end a flow collection early."""
    return text[:1] in "'\"" or not any(c in text for c in ",[]{}#")


def quoted_key(draw: st.DrawFn, key: str) -> str:
    return draw(st.sampled_from([key, key, key, json.dumps(key), single_quoted(key)]))


@st.composite
def block_configs(draw: st.DrawFn, clean: bool = False) -> str:
    """A config in block style; ``clean``: no anchors, aliases, merge keys, tags, doubled
    keys or tabs, and a line end at the end (configs ``configure`` must always edit)."""
    doc = Doc(draw, draw(st.sampled_from([2, 2, 4, 3])), clean)
    if not clean and draw(st.integers(0, 5)) == 5:
        doc.lines.append(draw(st.sampled_from(["---", "%YAML 1.1\n---", "--- # doc"])))
    before = draw(st.lists(words.filter(lambda w: w != "admin"), max_size=3, unique=True))
    after = draw(
        st.lists(words.filter(lambda w: w not in ("admin", *before)), max_size=2, unique=True)
    )
    doc.mapping(0, before, 0)
    hows = ["block", "block", "block", "flow", "flow lines", "null", "tilde", "empty flow"]
    how = draw(st.sampled_from(hows + ([] if clean else ["absent", "alias", "merge", "anchored"])))
    odd_heads = ["admin :"] if clean else ["admin :", "? admin\n:", "!!str admin:", '"adm\\x69n":']
    head = draw(mostly(st.just(quoted_key(draw, "admin") + ":"), st.sampled_from(odd_heads)))
    entries = draw(
        st.lists(mostly(st.sampled_from(ADMIN_KEYS), words), min_size=1, max_size=4, unique=True)
    )
    if how in ("block", "anchored", "merge"):
        tag = "&adm " if how == "anchored" else draw(mostly(st.just(""), st.just("!!map ")))
        tag = "" if clean else tag
        doc.lines.append(f"{head} {tag}{doc.trailing()}".rstrip())
        if how == "merge" and doc.anchors:
            doc.lines.append(f"{' ' * doc.unit}<<: *{draw(st.sampled_from(doc.anchors))}")
        doc.mapping(1, [quoted_key(draw, k) for k in entries], 1)
        if how == "anchored":
            doc.lines.append("mirror: *adm")
    elif how in ("flow", "flow lines"):
        values = [draw(doc.scalars.filter(_flow_safe)) for _ in entries]
        pairs = [f"{quoted_key(draw, k)}: {v}" for k, v in zip(entries, values, strict=True)]
        if how == "flow":
            doc.lines.append(f"{head} {{{', '.join(pairs)}}}{doc.trailing()}")
        else:
            pad = " " * doc.unit
            doc.lines += [
                f"{head} {{",
                *(f"{pad}{p}," for p in pairs[:-1]),
                f"{pad}{pairs[-1]}",
                "}",
            ]
    elif how == "null":
        doc.lines.append(f"{head}{doc.trailing()}")
    elif how == "tilde":
        doc.lines.append(f"{head} {draw(st.sampled_from(['~', 'null', 'Null']))}{doc.trailing()}")
    elif how == "empty flow":
        doc.lines.append(f"{head} {{}}{doc.trailing()}")
    elif how == "alias" and doc.anchors:
        doc.lines.append(f"{head} *{draw(st.sampled_from(doc.anchors))}")
    doc.mapping(0, after, 0)
    if not clean and draw(st.integers(0, 9)) == 9:  # a key twice, or a tab YAML does not allow
        doc.lines.insert(
            draw(st.integers(0, len(doc.lines))), draw(st.sampled_from(["admin: {}", "\tx: 1"]))
        )
    if draw(st.integers(0, 5)) == 5:
        doc.lines.append(draw(st.sampled_from(["...", "# the end", ""])))
    ends = ["\n", "\n\n"] if clean else ["\n", "\n", "", "\n\n"]
    return "\n".join(doc.lines) + draw(st.sampled_from(ends))


json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), any_text
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=8,
)


@st.composite
def json_configs(draw: st.DrawFn, clean: bool = False) -> str:
    """A config written as JSON (which is YAML), on one line or indented; ``clean``: ASCII
    (YAML refuses C1 controls that JSON takes raw)."""
    doc = draw(st.dictionaries(words, json_values, max_size=3))
    admin = draw(
        st.one_of(
            st.none(),
            st.dictionaries(st.sampled_from(ADMIN_KEYS) | words, json_values, max_size=4),
        )
    )
    if draw(st.booleans()):
        doc = {**doc, "admin": admin}
    indent = draw(st.sampled_from([None, None, 2, 4]))
    return json.dumps(doc, indent=indent, ensure_ascii=clean or draw(st.booleans()))


@st.composite
def configs(draw: st.DrawFn) -> str:
    text = draw(
        mostly(
            block_configs(),
            st.one_of(
                json_configs(),
                st.sampled_from(["", "\n", "# only a comment\n", "# c", "---\n", "{}", "[]", "x"]),
            ),
        )
    )
    if draw(st.integers(0, 3)) == 3:
        text = text.replace("\n", "\r\n")
    return text


@st.composite
def clean_configs(draw: st.DrawFn) -> str:
    text = draw(mostly(block_configs(clean=True), json_configs(clean=True)))
    return text.replace("\n", "\r\n") if draw(st.integers(0, 3)) == 3 else text


# --- what to set --------------------------------------------------------------------------
strings = mostly(
    st.sampled_from(["dns:///127.0.0.1:30080", "ExternalCommand", "flyte-iap", "", "x y"]),
    st.text(max_size=10),
)
values: st.SearchStrategy[Value] = st.one_of(strings, st.booleans(), st.lists(strings, max_size=3))
# The keys are configure's own (printable) names; others test the editor, not messages.
printable_text = st.text(
    st.characters(categories=["L", "M", "N", "P", "S"]) | st.just(" "),
    min_size=1,
    max_size=6,
)
keys = mostly(st.sampled_from(ADMIN_KEYS), st.one_of(words, printable_text))
settings_to_set = st.dictionaries(keys, values, min_size=1, max_size=3)


# --- the oracle ---------------------------------------------------------------------------
def unshared(value: Any) -> Any:
    """A copy in which no two places share an object (an alias becomes its own copy)."""
    if isinstance(value, dict):
        return {k: unshared(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unshared(v) for v in value]
    return value


def same(a: Any, b: Any) -> bool:
    """Equal in type, value and key order; NaN equals NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def plain(value: Value) -> Any:
    return value if isinstance(value, str | bool) else list(value)


def admin_node(text: str) -> tuple[yaml.MappingNode | None, tuple[yaml.Node, yaml.Node] | None]:
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if not isinstance(root, yaml.MappingNode):
        return None, None
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "admin":
            return root, (key, value)
    return root, None


def lines_of(node_start: yaml.Node, node_end: yaml.Node) -> set[int]:
    end = node_end.end_mark
    last = end.line - 1 if end.column == 0 and end.line > node_start.start_mark.line else end.line
    return set(range(node_start.start_mark.line, last + 1))


def edited_lines(text: str, keys: list[str]) -> set[int]:
    """The lines of ``text`` an edit of ``admin``'s ``keys`` may change: each entry's own
    lines in a block mapping; the whole mapping in a flow one; the ``admin:`` line when it
    has no mapping yet; the end of a flow root that gets an ``admin``."""
    root, pair = admin_node(text)
    if root is None:
        return set()
    if pair is None:
        if not root.flow_style:
            return set()  # appended after the last line
        return lines_of(root.value[-1][1] if root.value else root, root)
    key, admin = pair
    if not isinstance(admin, yaml.MappingNode):
        return lines_of(key, admin)
    if admin.flow_style:
        return lines_of(admin, admin)
    found: set[int] = set()
    for k, v in admin.value:
        if isinstance(k, yaml.ScalarNode) and k.value in keys:
            found |= lines_of(k, v)
    if all(isinstance(k, yaml.ScalarNode) and k.value in keys for k, _ in admin.value):
        found.add(key.start_mark.line)  # every entry removed: "admin: {}"
    return found


def kept_in_order(old: str, new: str, touched: set[int]) -> bool:
    """Every line of ``old`` outside ``touched`` is in ``new``, byte for byte (but for its
    line end: the last line may get one) and in order."""
    rest = iter(re.split(r"\r?\n", new))
    return all(
        any(line == candidate for candidate in rest)
        for number, line in enumerate(re.split(r"\r?\n", old))
        if number not in touched
    )


def check_edit(text: str, result: Edited, changes: dict[str, Any]) -> None:
    """``result`` holds exactly the old document with ``changes`` to admin (MISSING:
    removed), and ``text``'s other lines as they were."""
    old = yaml.safe_load(text)
    expected = unshared(old) if isinstance(old, dict) else {}
    if not isinstance(expected.get("admin"), dict):
        expected["admin"] = {}
    for key, value in changes.items():
        if value is MISSING:
            expected["admin"].pop(key, None)
        else:
            expected["admin"][key] = value
    new = yaml.safe_load(result.text)
    assert same(new, expected), (new, expected)
    assert same(result.admin, new["admin"])
    assert kept_in_order(text, result.text, edited_lines(text, list(changes)))
    eol_before = "\r\n" in text
    assert not eol_before or "\n" not in result.text.replace("\r\n", ""), "line ends mixed"


# --- the properties -----------------------------------------------------------------------
def admin_keys_of(text: str) -> list[str]:
    """The keys of the text's admin mapping, if it loads and has one."""
    try:
        tree = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    admin = tree.get("admin") if isinstance(tree, dict) else None
    return [k for k in admin if isinstance(k, str)] if isinstance(admin, dict) else []


def some_keys(data: st.DataObject, text: str) -> st.SearchStrategy[str]:
    """Keys the admin of ``text`` has (half the time, when it has any), else any keys."""
    present = admin_keys_of(text)
    return st.one_of(st.sampled_from(present), keys) if present else keys


def said(exc: ConfigError) -> str:
    return str(exc).split("(", 1)[0].split(":", 1)[0][:40]


@given(configs(), st.data())
def test_set_admin_keys_changes_exactly_those_keys(text: str, data: st.DataObject) -> None:
    wanted = data.draw(st.dictionaries(some_keys(data, text), values, min_size=1, max_size=3))
    try:
        result = set_admin_keys(text, wanted)
    except ConfigError as exc:
        event(f"ConfigError: {said(exc)}")
        assert str(exc).isprintable(), str(exc)
        return
    replaced = any(c.old is not MISSING for c in result.changes)
    event("replaced" if replaced else "added" if result.changes else "unchanged")
    if not result.changes:
        assert result.text == text
        return
    check_edit(text, result, {k: plain(v) for k, v in wanted.items()})
    assert {c.key for c in result.changes} <= set(wanted)
    again = set_admin_keys(result.text, wanted)  # configure run twice: the file stays
    assert again.changes == [] and again.text == result.text


@given(configs(), st.data())
def test_remove_admin_keys_removes_exactly_those_keys(text: str, data: st.DataObject) -> None:
    unwanted = data.draw(st.lists(some_keys(data, text), min_size=1, max_size=3, unique=True))
    try:
        result = remove_admin_keys(text, unwanted)
    except ConfigError as exc:
        event(f"ConfigError: {said(exc)}")
        assert str(exc).isprintable(), str(exc)
        return
    event("removed" if result.changes else "unchanged")
    if not result.changes:
        assert result.text == text
        return
    check_edit(text, result, dict.fromkeys(unwanted, MISSING))
    assert remove_admin_keys(result.text, unwanted).changes == []


@given(clean_configs(), st.data())
def test_a_config_without_anchors_or_tags_is_always_edited(text: str, data: st.DataObject) -> None:
    """What ``configure`` does (set its keys, remove ``proxyCommand``) never refuses a
    config that has no anchor, alias, merge key or tag near admin."""
    wanted = data.draw(st.dictionaries(st.sampled_from(ADMIN_KEYS), values, min_size=1))
    check_edit(text, set_admin_keys(text, wanted), {k: plain(v) for k, v in wanted.items()})
    present = admin_keys_of(text)
    event("admin has keys" if present else "admin has none")
    if present:
        key = data.draw(st.sampled_from(present))
        check_edit(text, remove_admin_keys(text, [key]), {key: MISSING})


@given(configs(), settings_to_set)
def test_keys_set_then_removed_leave_the_document_as_it_was(
    text: str, wanted: dict[str, Value]
) -> None:
    try:
        old = yaml.safe_load(text)
        admin = old.get("admin") if isinstance(old, dict) else None
        if not isinstance(admin, dict) or not admin or set(wanted) & set(admin):
            return
        added = set_admin_keys(text, wanted)
        removed = remove_admin_keys(added.text, list(wanted))
    except (ConfigError, yaml.YAMLError):
        event("refused")
        return
    event("round trip")
    assert same(yaml.safe_load(removed.text), old)
