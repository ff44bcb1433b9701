"""The transport behind a corporate proxy, as requests and curl go through one: http_proxy
for http:// (the absolute URL sent to the proxy), https_proxy for https:// (a CONNECT
tunnel), the proxy URL's user and password as Basic credentials, no_proxy and loopback
going direct. The proxy is a stand-in on 127.0.0.1 that notes what it was asked."""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Iterator

import pytest

from flyte_iap.errors import TransportError
from flyte_iap.transport import HttpClient

from ..stub_server import Reply, StubServer


class FakeProxy:
    """Reads one request head per connection, notes its first line and headers, and
    answers 200 with a body (a plain request) or 403 (a CONNECT: no tunnel is opened)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(30)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.heads: list[tuple[str, dict[str, str]]] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(10)
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                lines = data.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
                headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
                self.heads.append((lines[0], {k.lower(): v for k, v in headers.items()}))
                if lines[0].startswith("CONNECT"):
                    conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                else:
                    body = b"via the proxy"
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
                        % (len(body), body)
                    )

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def proxy() -> Iterator[FakeProxy]:
    stand_in = FakeProxy()
    yield stand_in
    stand_in.close()


def client(env: dict[str, str]) -> HttpClient:
    return HttpClient(timeout=5.0, tries=1, env=env)


def test_http_goes_through_http_proxy_with_the_absolute_url(proxy: FakeProxy) -> None:
    answer = client({"http_proxy": proxy.url}).request(
        "GET", "http://flyte.example.com/x?y=1", what="the endpoint"
    )
    assert (answer.status, answer.body) == (200, b"via the proxy")
    ((line, headers),) = proxy.heads
    assert line == "GET http://flyte.example.com/x?y=1 HTTP/1.1"
    assert headers["host"] == "flyte.example.com"


def test_https_is_tunnelled_with_the_proxys_credentials(proxy: FakeProxy) -> None:
    authority = proxy.url.removeprefix("http://")
    with pytest.raises(TransportError) as caught:
        client({"HTTPS_PROXY": f"http://me:s%40cret@{authority}"}).request(
            "GET", "https://oauth2.example.com/token", what="the token endpoint"
        )
    assert "s@cret" not in str(caught.value) and "cret" not in str(caught.value)
    ((line, headers),) = proxy.heads
    assert line == "CONNECT oauth2.example.com:443 HTTP/1.0"
    expected = base64.b64encode(b"me:s@cret").decode()
    assert headers["proxy-authorization"] == f"Basic {expected}"


@pytest.mark.parametrize("listed", ["example.com", ".example.com", "*", "other.org, example.com"])
def test_no_proxy_goes_direct(proxy: FakeProxy, listed: str) -> None:
    with pytest.raises(TransportError, match=r"host name not found|connection"):
        client({"https_proxy": proxy.url, "no_proxy": listed}).request(
            "GET", "https://flyte.example.com/", what="the endpoint"
        )
    assert proxy.heads == []


def test_loopback_never_goes_through_a_proxy(proxy: FakeProxy) -> None:
    with StubServer(Reply.json({"direct": True})) as stub:
        answer = client({"http_proxy": proxy.url}).request("GET", stub.url, what="the stub")
    assert answer.json() == {"direct": True}
    assert proxy.heads == []


def test_a_cgi_script_ignores_http_proxy(proxy: FakeProxy) -> None:
    """httpoxy: in a CGI script, HTTP_PROXY is a request header a client chose."""
    env = {"HTTP_PROXY": proxy.url, "REQUEST_METHOD": "GET"}
    with pytest.raises(TransportError):
        client(env).request("GET", "http://flyte.example.com/", what="the endpoint")
    assert proxy.heads == []
