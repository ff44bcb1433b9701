"""Values as this package writes and compares them.

Written as flow YAML: double-quoted strings (escaped where YAML reads a break or
allows no raw character), ``true``/``false``, ``[...]`` lists. Compared strictly:
type, value and key order, within a budget (aliases can make a small file huge).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from flyte_iap.errors import ConfigError

Value = str | bool | Sequence[str]
#: How many values a copy or comparison may visit.
BUDGET = 200_000


def copy_unshared(value: Any, budget: list[int]) -> Any:
    """A deep copy that shares nothing (an alias becomes its own copy), within a budget."""
    budget[0] -= 1
    if budget[0] < 0:
        raise ConfigError("it is not a Flyte config (aliases expand it beyond reason)")
    if isinstance(value, dict):
        return {k: copy_unshared(v, budget) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_unshared(v, budget) for v in value]
    return value


def same(a: Any, b: Any, budget: list[int]) -> bool:
    """Equal in type, value and key order (NaN equals NaN: a config may hold ``.nan``)."""
    budget[0] -= 1
    if budget[0] < 0 or type(a) is not type(b):
        return False
    if isinstance(a, dict):
        pairs = zip(a.items(), b.items(), strict=False)
        return len(a) == len(b) and all(
            same(ka, kb, budget) and same(va, vb, budget) for (ka, va), (kb, vb) in pairs
        )
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y, budget) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def plain(value: Value) -> Any:
    return value if isinstance(value, str | bool) else list(value)


def emit(value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return quote(value)
    return "[" + ", ".join(quote(item) for item in value) + "]"


def flow_mapping(children: list[tuple[str, str]]) -> str:
    return "{" + ", ".join(f"{quote(k)}: {v}" for k, v in children) + "}"


def quote(text: str) -> str:
    """A YAML double-quoted scalar: what YAML reads as a break or does not allow, escaped."""
    return '"' + "".join(_escaped(ch) for ch in text) + '"'


def _escaped(ch: str) -> str:
    code = ord(ch)
    if ch in '"\\':
        return "\\" + ch
    if 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD:
        return ch if code not in (0x2028, 0x2029, 0xFEFF) else f"\\u{code:04x}"
    if code > 0xFFFF:
        return ch
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def kind(value: object) -> str:
    names = {list: "a list", str: "a string", bool: "a boolean", int: "a number"}
    return names.get(type(value), f"a {type(value).__name__}")
