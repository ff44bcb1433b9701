"""The fast path's JSON (``flyte_iap.flatjson``) held to the ``json`` module: what it reads
it reads as ``json.loads`` does, and what it writes is what ``json.dumps(sort_keys=True)``
writes; anything else it declines (None), and the caller asks ``json``."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from flyte_iap.flatjson import dumps_sorted, loads

TEXT = st.text(max_size=30)
PLAIN = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
FLAT = st.dictionaries(TEXT, PLAIN, max_size=12)
ANY_JSON = st.recursive(
    PLAIN, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3)
)


def same(a: Any, b: Any) -> bool:
    """Equal, and of the same types (json reads 1 and 1.0 differently)."""
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return type(a) is type(b) and a == b


@given(FLAT, st.booleans(), st.booleans())
def test_a_flat_object_json_writes_reads_back_as_json_reads_it(
    obj: dict[str, Any], indent: bool, ascii_only: bool
) -> None:
    text = json.dumps(obj, indent=1 if indent else None, ensure_ascii=ascii_only, sort_keys=True)
    got = loads(text)
    assert got is not None
    assert same(got, json.loads(text))
    assert same(loads(text.encode()), json.loads(text))


@given(st.text(max_size=80))
def test_any_text_reads_as_json_reads_it_or_not_at_all(text: str) -> None:
    got = loads(text)
    if got is None:
        return
    assert same(got, json.loads(text))


@given(ANY_JSON)
def test_nested_or_odd_documents_are_left_to_json(value: Any) -> None:
    text = json.dumps(value)
    got = loads(text)
    if got is not None:
        assert same(got, json.loads(text))
        assert all(not isinstance(v, dict | list) for v in got.values())
    if isinstance(value, dict) and any(isinstance(v, dict | list) for v in value.values()):
        assert got is None


@given(st.binary(max_size=60))
def test_any_bytes_are_read_or_declined(data: bytes) -> None:
    got = loads(data)
    if got is not None:
        assert same(got, json.loads(data))


@given(st.dictionaries(TEXT, PLAIN | st.floats(), max_size=12))
def test_dumps_sorted_writes_what_json_writes(obj: dict[str, Any]) -> None:
    assert dumps_sorted(obj) == json.dumps(obj, sort_keys=True)


@given(st.dictionaries(TEXT, st.lists(st.integers()) | st.dictionaries(TEXT, TEXT), min_size=1))
def test_dumps_sorted_declines_what_is_not_flat(obj: dict[str, Any]) -> None:
    assert dumps_sorted(obj) is None


def test_examples() -> None:
    assert loads('{"a": "\\ud83d\\ude00", "b": -0, "c": 1.5e3}') == {
        "a": "\U0001f600",
        "b": 0,
        "c": 1500.0,
    }
    assert loads('{"a": 1, "a": 2}') is None  # json keeps the last: its reader decides
    assert loads('{"a": NaN}') is None and loads("\ufeff{}") is None
    assert loads('{"a": "\u0001"}') is None  # a raw control character
    assert (
        dumps_sorted({"b": "é\n", "a": 1.0, "c": None})
        == '{"a": 1.0, "b": "\\u00e9\\n", "c": null}'
    )
