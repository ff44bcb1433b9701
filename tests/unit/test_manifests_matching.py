"""The parsers under `manifests check`'s Flyte 2 rules, as properties: Istio's first-match
route order, its string matches, and the durations its resources carry."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flyte_iap.manifests.matching import (
    Destination,
    destinations,
    duration_seconds,
    first_route,
    uri_matches,
)

PATH_CHARS = st.sampled_from("/.aAbB-_0%")
PATHS = st.text(PATH_CHARS, max_size=12)


@given(path=PATHS, literal=PATHS)
def test_prefix_and_exact_are_literal_and_case_sensitive(path: str, literal: str) -> None:
    assert uri_matches({"prefix": literal}, path) == path.startswith(literal)
    assert uri_matches({"exact": literal}, path) == (path == literal)
    assert uri_matches({"prefix": literal}, path, ignore_case=True) == path.lower().startswith(
        literal.lower()
    )


@given(path=PATHS, literal=PATHS)
def test_a_regex_must_match_the_whole_path(path: str, literal: str) -> None:
    assert uri_matches({"regex": re.escape(literal)}, path) == (path == literal)
    assert uri_matches({"regex": re.escape(literal) + ".*"}, path) == path.startswith(literal)


def test_what_cannot_be_read_is_taken_to_match() -> None:
    """Errs towards "this path is taken": a regex Python cannot compile, no condition."""
    assert uri_matches({"regex": "(unclosed"}, "/anything")
    assert uri_matches(None, "/anything") and uri_matches({}, "/anything")


MATCH = st.fixed_dictionaries(
    {
        "uri": st.one_of(
            st.builds(lambda p: {"prefix": p}, PATHS), st.builds(lambda p: {"exact": p}, PATHS)
        )
    }
)
ROUTES = st.lists(
    st.fixed_dictionaries({}, optional={"match": st.lists(MATCH, max_size=3)}), max_size=6
)


@given(routes=ROUTES, path=PATHS)
def test_the_first_route_is_the_first_whose_match_list_holds(
    routes: list[dict[str, Any]], path: str
) -> None:
    def holds(route: dict[str, Any]) -> bool:
        if not route.get("match"):
            return True  # no match list, or an empty one: every request
        for match in route["match"]:
            uri = match["uri"]
            if path == uri.get("exact") or ("prefix" in uri and path.startswith(uri["prefix"])):
                return True
        return False

    expected = next((i for i, route in enumerate(routes) if holds(route)), None)
    assert first_route(routes, path) == expected


def test_destinations_include_mirrors_and_resolve_short_names() -> None:
    route = {
        "route": [
            {"destination": {"host": "api-http", "port": {"number": 8090}}, "weight": 90},
            {"destination": {"host": "canary-http.other.svc.cluster.local"}},
        ],
        "mirror": {"host": "shadow-http.flyte"},
        "mirrors": [{"destination": {"host": "copy", "port": {"number": True}}}],
    }
    assert list(destinations(route, "flyte")) == [
        Destination("api-http", "flyte", 8090),
        Destination("canary-http", "other", None),
        Destination("shadow-http", "flyte", None),
        Destination("copy", "flyte", None),
    ]


UNITS = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


@given(
    parts=st.lists(
        st.tuples(st.integers(0, 10_000), st.sampled_from(sorted(UNITS))), min_size=1, max_size=4
    )
)
def test_durations_in_gos_form_add_up(parts: list[tuple[int, str]]) -> None:
    text = "".join(f"{amount}{unit}" for amount, unit in parts)
    expected = sum(amount * UNITS[unit] for amount, unit in parts)
    parsed = duration_seconds(text)
    assert parsed is not None and parsed == pytest.approx(expected)


@given(seconds=st.integers(0, 10**7), nanos=st.integers(0, 999_999_999))
def test_durations_in_protobufs_form_read_back(seconds: int, nanos: int) -> None:
    """protobuf's JSON form of a Duration: seconds with up to nine fractional digits."""
    text = f"{seconds}.{nanos:09d}s"
    assert duration_seconds(text) == pytest.approx(seconds + nanos / 1e9, rel=1e-12, abs=1e-12)


@given(value=st.one_of(st.text(max_size=8), st.integers(), st.none(), st.floats()))
def test_anything_else_is_no_duration_and_no_crash(value: object) -> None:
    parsed = duration_seconds(value)
    if parsed is not None:
        assert isinstance(value, str) and re.fullmatch(r"([0-9.]+(ns|us|µs|μs|ms|s|m|h))+|0", value)


@pytest.mark.parametrize("text", ["", "1", "s", "1d", "-1s", "1s ", "1 s", "1.2.3s", "1hm"])
def test_not_durations(text: str) -> None:
    assert duration_seconds(text) is None
