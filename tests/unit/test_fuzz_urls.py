"""Property-based tests of the one loopback rule and its users (docs/design.md,
"Endpoints and environment"):

- ``hosts.is_loopback`` agrees with an independent reading of ``localhost``,
  127.0.0.0/8 and ``[::1]`` (a regular expression, and the C library's ``inet_pton``);
- ``google.endpoints.url_problem`` / ``check_url`` pass an ``http://`` URL only when the
  host a request would really connect to (requests prepares the URL, urllib3 parses
  what it sends) is loopback; every refusal is one printable line;
- ``flyteconfig.parse_endpoint`` gives a ConfigError or an Endpoint whose ``authority``
  reads back as the same host and port, and that is ``loopback`` only for those hosts.

URLs are built from parts near the edge (userinfo, ``@`` after ``#`` or ``?``, a
backslash, percent-escapes in the host, IPv6 zones, brackets, unicode digits, ports out
of range) and then mutated one character at a time.
"""

from __future__ import annotations

import re
import socket
from typing import TypeVar

import requests
from hypothesis import event, given
from hypothesis import strategies as st
from urllib3.util import parse_url

from flyte_iap.errors import ConfigError, UsageError
from flyte_iap.flyteconfig import parse_endpoint
from flyte_iap.google import check_url
from flyte_iap.google.endpoints import url_problem
from flyte_iap.hosts import in_brackets, is_loopback

T = TypeVar("T")


def mostly(common: st.SearchStrategy[T], rare: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    """``common`` three times in four, else ``rare``."""
    return st.integers(0, 3).flatmap(lambda i: rare if i == 3 else common)


def v4_loopback(host: str) -> bool:
    octet = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
    return re.fullmatch(rf"127\.{octet}\.{octet}\.{octet}", host) is not None


def v6_loopback(inner: str) -> bool:
    try:
        return socket.inet_pton(socket.AF_INET6, inner) == socket.inet_pton(socket.AF_INET6, "::1")
    except (OSError, ValueError):
        return False


def loopback_by_hand(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ``[::1]`` as literals, read without ``ipaddress``."""
    if host.lower() == "localhost" or v4_loopback(host):
        return True
    return host.startswith("[") and host.endswith("]") and v6_loopback(host[1:-1])


HOSTS = [
    "127.0.0.1", "127.255.255.254", "127.0.0.01", "127.1", "127.0.0.256", "0x7f.0.0.1",
    "2130706433", "0177.0.0.1", "localhost", "LocalHost", "localhost.", ".localhost",
    "localhost.evil", "127.0.0.1.evil.example", "127.evil.example", "evil.example",
    "0.0.0.0", "[::1]", "[::01]", "[0:0:0:0:0:0:0:1]", "[0000::0001]", "[::0:1]", "[::]",
    "[::ffff:127.0.0.1]", "[::1%25eth0]", "[::1%eth0]", "[fe80::1%25lo]", "[::1]x", "::1",
    "[", "]", "[[::1]]", "", "\u0661\u0662\u0667.0.0.1",
    "\uff11\uff12\uff17.0.0.1", "127.0.0.\u0661", "%31%32%37.0.0.1",
    "127%2e0.0.1", "127.0.0.1%00", "local%68ost", "xn--localhost", "a_b", "_", "-", "..",
]  # fmt: skip
hosts = st.one_of(st.sampled_from(HOSTS), st.text(max_size=12))


@given(hosts)
def test_is_loopback_is_the_literal_rule(host: str) -> None:
    event("loopback" if is_loopback(host) else "not")
    assert is_loopback(host) == loopback_by_hand(host)
    assert is_loopback(in_brackets(host)) == loopback_by_hand(in_brackets(host))


ODD_PATHS = [
    "\\@evil.example", "/@evil", "?x=@evil", "#@evil", "/%2e%2e/", "?", "#", "/a b", "/\t",
    "/\u00e9", ";x",
]  # fmt: skip


# --- URLs ------------------------------------------------------------------------------------
@st.composite
def urls(draw: st.DrawFn) -> str:
    scheme = draw(
        mostly(
            st.sampled_from(["http://", "https://", "HTTP://", "hTtPs://"]),
            st.sampled_from(["ftp://", "", "http:/", "http:\\\\", "//", "http:///", "https:"]),
        )
    )
    userinfo = draw(
        mostly(st.just(""), st.sampled_from(["u@", "u:p@", "@", "127.0.0.1@", "evil.example@"]))
    )
    host = draw(mostly(st.sampled_from(HOSTS[:20] + HOSTS[20:28]), hosts))
    port = draw(
        mostly(
            st.sampled_from(["", "", ":8080", ":443"]),
            st.sampled_from(
                [":", ":0", ":65535", ":65536", ":99999999", ":-1", ":\uff18\uff10", ":0x50"]
            ),
        )
    )
    path = draw(
        mostly(st.sampled_from(["", "/", "/token", "/v1/x:access"]), st.sampled_from(ODD_PATHS))
    )
    url = f"{scheme}{userinfo}{host}{port}{path}"
    if draw(st.integers(0, 3)) == 3:  # one character inserted, replaced or removed
        at = draw(st.integers(0, len(url)))
        char = draw(
            st.one_of(st.sampled_from(list("\\%@[]#?/: .\t\x00\u00e9\u0661")), st.characters())
        )
        how = draw(st.sampled_from(["insert", "replace", "remove"]))
        end = at if how == "insert" else at + 1
        url = url[:at] + (char if how != "remove" else "") + url[end:]
    return url


def connected_host(url: str) -> str | None:
    """The host a request to ``url`` goes to: requests prepares the URL, and urllib3
    parses what it then sends (None when requests would not send it at all)."""
    prepared = requests.models.PreparedRequest()
    try:
        prepared.prepare_url(url, None)
    except requests.exceptions.RequestException:
        return None
    assert prepared.url is not None
    return parse_url(prepared.url).host


@given(mostly(urls(), st.text(max_size=30)))
def test_http_is_accepted_only_to_a_loopback_host(url: str) -> None:
    problem = url_problem(url)
    try:
        checked = check_url(url, source="FLYTE_IAP_TOKEN_URI")
    except UsageError as exc:
        assert problem is not None
        message = str(exc)
        assert message.isprintable(), message  # one line, nothing that drives a terminal
        event(f"refused: {problem[:30]}")
        return
    assert problem is None and checked == url
    scheme = parse_url(url).scheme
    event(f"accepted {scheme}")
    assert scheme in ("http", "https")
    assert url.lower().startswith(f"{scheme}://")
    if scheme == "http":
        assert is_loopback(parse_url(url).host or "")
        host = connected_host(url)
        assert host is not None and loopback_by_hand(host), host


# --- admin.endpoint ---------------------------------------------------------------------------
@st.composite
def endpoints(draw: st.DrawFn) -> str:
    scheme = draw(
        mostly(
            st.sampled_from(["dns:///", "", "https://", "http://", "DNS:///"]),
            st.sampled_from(["dns://", "dns:", "grpc://", "unix://", "HTTP://"]),
        )
    )
    host = draw(mostly(st.sampled_from([*HOSTS[:28], "flyte.example.com", "a-b.c_d"]), hosts))
    port = draw(
        mostly(
            st.sampled_from(["", ":81", ":443", ":30080"]),
            st.sampled_from([":", ":0", ":65535", ":65536", ":00443", ":123456", ":٨٠"]),
        )
    )
    tail = draw(mostly(st.just(""), st.sampled_from(["/", "//", "/x", "?a", "#", "@x", "\\"])))
    return f"{scheme}{host}{port}{tail}"


@given(mostly(endpoints(), st.text(max_size=30)), st.booleans())
def test_parse_endpoint_reads_its_own_authority_back(text: str, insecure: bool) -> None:
    try:
        endpoint = parse_endpoint(text, insecure=insecure)
    except ConfigError as exc:
        event("refused")
        assert str(exc).isprintable(), str(exc)
        return
    event(f"{'loopback' if endpoint.loopback else 'remote'} {endpoint.scheme or 'bare'}")
    assert 0 < endpoint.port < 65536
    again = parse_endpoint(endpoint.authority, insecure=not endpoint.tls)
    assert (again.host, again.port, again.tls) == (endpoint.host, endpoint.port, endpoint.tls)
    assert again.loopback == endpoint.loopback
    assert endpoint.loopback == loopback_by_hand(in_brackets(endpoint.host))
    # The URL of a backend the doctor and the proxy call is judged by the same rule.
    parsed = parse_url(endpoint.base_url)
    assert parsed.port == endpoint.port
    assert is_loopback(parsed.host or "") == endpoint.loopback
