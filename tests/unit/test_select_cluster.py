"""``rewrite_select_cluster``: real ``SelectClusterResponse`` messages built and read back with
flyteidl2's protobuf classes (binary and JSON, gzip or not, unary and envelope form), answers
from the real connect-python server, and bodies that must be refused."""

from __future__ import annotations

import asyncio
import gzip
import json
import random
import zlib
from typing import Any

import pytest
from connectrpc.code import Code
from connectrpc.errors import ConnectError
from connectrpc.request import RequestContext
from flyteidl2.cluster import service_pb2
from flyteidl2.cluster.payload_pb2 import SelectClusterRequest, SelectClusterResponse
from flyteidl2.cluster.service_connect import ClusterServiceASGIApplication
from google.protobuf import json_format

from flyte_iap.proxy import MAX_BODY, SELECT_CLUSTER_PATH, NotRewritable, rewrite_select_cluster

PUBLIC = "https://flyte.example.com"
PROXY = "http://localhost:8123"
PROTO = "application/proto"
JSON = "application/json"


def varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes([*out, value])


def field(number: int, wire: int, payload: bytes) -> bytes:
    """One encoded field; ``payload`` is the value as it goes on the wire (length added for 2)."""
    if wire == 2:
        payload = varint(len(payload)) + payload
    return varint(number << 3 | wire) + payload


def parse(body: bytes) -> SelectClusterResponse:
    message = SelectClusterResponse()
    message.ParseFromString(body)
    return message


def without_endpoint(body: bytes) -> bytes:
    """The message serialized with field 1 cleared: everything else, unknown fields included."""
    message = parse(body)
    message.ClearField("cluster_endpoint")
    return message.SerializeToString(deterministic=True)


def rewrite(body: bytes, endpoint: str, content_type: str = PROTO, **kw: Any) -> bytes:
    kw.setdefault("content_encoding", None)
    return rewrite_select_cluster(body, content_type=content_type, endpoint=endpoint, **kw)


def frame(data: bytes, flags: int = 0) -> bytes:
    return bytes([flags]) + len(data).to_bytes(4, "big") + data


UNKNOWN = (
    field(7, 0, varint(300))
    + field(8, 1, b"\x01" * 8)
    + field(9, 5, b"\x02" * 4)
    + field(536870911, 2, b"\x0a\x03abc")  # the largest field number; looks like a field 1 inside
)


def sample() -> bytes:
    known = SelectClusterResponse(cluster_endpoint=PUBLIC, cluster="dp-1").SerializeToString()
    return known + UNKNOWN


def test_the_path_is_flyteidl2s() -> None:
    service = service_pb2.DESCRIPTOR.services_by_name["ClusterService"]
    method = service.methods_by_name["SelectCluster"]
    assert f"/{service.full_name}/{method.name}" == SELECT_CLUSTER_PATH
    assert method.output_type.full_name == "flyteidl2.cluster.SelectClusterResponse"
    number = SelectClusterResponse.DESCRIPTOR.fields_by_name["cluster_endpoint"].number
    assert number == SelectClusterResponse.CLUSTER_ENDPOINT_FIELD_NUMBER == 1


@pytest.mark.parametrize("endpoint", [PROXY, ""])
@pytest.mark.parametrize("encoding", [None, "identity", "gzip", " GZip "])
def test_binary_endpoint_replaced_all_else_kept(endpoint: str, encoding: str | None) -> None:
    body = sample()
    sent = gzip.compress(body, mtime=0) if encoding and "zip" in encoding.lower() else body
    out = rewrite(sent, endpoint, content_encoding=encoding)
    raw = gzip.decompress(out) if sent is not body else out
    assert parse(raw).cluster_endpoint == endpoint
    assert parse(raw).cluster == "dp-1"
    assert without_endpoint(raw) == without_endpoint(body)
    assert PUBLIC.encode() not in raw


def test_binary_other_fields_byte_for_byte() -> None:
    before = field(2, 2, b"dp-1") + field(7, 0, varint(1))
    after = field(9, 5, b"\xff" * 4)
    body = before + field(1, 2, PUBLIC.encode()) + after
    assert rewrite(body, "") == before + after
    assert rewrite(body, PROXY) == before + field(1, 2, PROXY.encode()) + after
    repeated = field(1, 2, b"x") + before + field(1, 2, PUBLIC.encode()) + after
    assert rewrite(repeated, PROXY) == field(1, 2, PROXY.encode()) + before + after


@pytest.mark.parametrize("proto_names", [False, True])
@pytest.mark.parametrize("endpoint", [PROXY, ""])
@pytest.mark.parametrize("encoding", [None, "gzip"])
def test_json(proto_names: bool, endpoint: str, encoding: str | None) -> None:
    message = SelectClusterResponse(cluster_endpoint=PUBLIC, cluster="dp-1")
    text = json_format.MessageToJson(message, preserving_proto_field_name=proto_names).encode()
    assert (b"cluster_endpoint" in text) == proto_names
    sent = gzip.compress(text, mtime=0) if encoding else text
    out = rewrite(sent, endpoint, JSON, content_encoding=encoding)
    back = json_format.Parse(gzip.decompress(out) if encoding else out, SelectClusterResponse())
    assert back == SelectClusterResponse(cluster_endpoint=endpoint, cluster="dp-1")


def test_json_keeps_every_other_member() -> None:
    body = json.dumps({"a": [1, {"b": None}], "clusterEndpoint": PUBLIC, "z": "é", "n": 1.5})
    out = json.loads(rewrite(body.encode(), PROXY, JSON + "; charset=utf-8"))
    assert out == {"a": [1, {"b": None}], "clusterEndpoint": PROXY, "z": "é", "n": 1.5}
    assert list(out) == ["a", "clusterEndpoint", "z", "n"]


@pytest.mark.parametrize("codec", ["proto", "json"])
@pytest.mark.parametrize("compressed", [False, True])
def test_envelope_form(codec: str, compressed: bool) -> None:
    message = SelectClusterResponse(cluster_endpoint=PUBLIC, cluster="dp-1")
    data = message.SerializeToString() if codec == "proto" else json_format.MessageToJson(message)
    data = data if isinstance(data, bytes) else data.encode()
    trailer = frame(b'{"metadata":{"x":["1"]}}', flags=0x02)
    first = frame(gzip.compress(data, mtime=0), 0x01) if compressed else frame(data)
    out = rewrite(
        first + trailer,
        PROXY,
        f"application/connect+{codec}",
        connect_encoding="gzip" if compressed else None,
    )
    assert out.endswith(trailer)
    flags, size = out[0], int.from_bytes(out[1:5], "big")
    assert flags == (0x01 if compressed else 0) and len(out) == 5 + size + len(trailer)
    payload = gzip.decompress(out[5 : 5 + size]) if compressed else out[5 : 5 + size]
    back = parse(payload) if codec == "proto" else json_format.Parse(payload, parse(b""))
    assert back == SelectClusterResponse(cluster_endpoint=PROXY, cluster="dp-1")


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (SelectClusterResponse(cluster="dp-1").SerializeToString() + UNKNOWN, PROTO),
        (b"", PROTO),
        (b'{"cluster": "dp-1"}', JSON),
        (frame(b'{"cluster":"dp-1"}') + frame(b"{}", 0x02), "application/connect+json"),
    ],
)
@pytest.mark.parametrize("encoding", [None, "gzip"])
def test_no_endpoint_no_change(body: bytes, content_type: str, encoding: str | None) -> None:
    sent = gzip.compress(body, mtime=12345) if encoding else body
    assert rewrite(sent, PROXY, content_type, content_encoding=encoding) == sent


@pytest.mark.parametrize("content_type", [PROTO, JSON])
@pytest.mark.parametrize("encoding", [None, "gzip"])
def test_idempotent(content_type: str, encoding: str | None) -> None:
    message = SelectClusterResponse(cluster_endpoint=PUBLIC, cluster="dp-1")
    body = message.SerializeToString() if content_type == PROTO else b'{"clusterEndpoint":"x"}'
    sent = gzip.compress(body, mtime=0) if encoding else body
    for endpoint in (PROXY, ""):
        once = rewrite(sent, endpoint, content_type, content_encoding=encoding)
        assert once != sent
        assert rewrite(once, endpoint, content_type, content_encoding=encoding) == once


def random_field(rng: random.Random) -> bytes:
    number = rng.choice([1, 1, 2, 3, 15, 16, 2047, 2048, rng.randrange(3, 1 << 29)])
    if number == 2:
        return field(2, 2, rng.choice(["", "dp", "ünï"]).encode())
    if number == 1:
        return field(1, 2, rng.choice(["", PUBLIC, "h" * 200]).encode())
    wire = rng.choice([0, 1, 2, 5])
    payload = {
        0: lambda: varint(rng.getrandbits(rng.choice([1, 7, 8, 35, 64]))),
        1: lambda: rng.randbytes(8),
        2: lambda: rng.randbytes(rng.choice([0, 1, 127, 128, 300])),
        5: lambda: rng.randbytes(4),
    }[wire]()
    return field(number, wire, payload)


def test_random_messages_agree_with_protobuf() -> None:
    rng = random.Random(10)
    for _ in range(400):
        fields = [random_field(rng) for _ in range(rng.randrange(0, 12))]
        body = b"".join(fields)
        endpoint = rng.choice([PROXY, "", "http://127.0.0.1:1/ü"])
        out = rewrite(body, endpoint)
        had_field = any(f.startswith(b"\x0a") for f in fields)  # the tag of field 1, wire type 2
        assert without_endpoint(out) == without_endpoint(body)
        if not had_field:
            assert out == body
        assert parse(out).cluster_endpoint == (endpoint if had_field else "")
        assert rewrite(out, endpoint) == out


def padded(size: int) -> bytes:
    """A valid message of exactly ``size`` bytes: the endpoint, then an unknown field 3."""
    head = field(1, 2, PUBLIC.encode())
    pad = size - len(head) - 4  # a tag byte and a 3-byte length
    return head + field(3, 2, b"\0" * pad)


def bomb(size: int) -> bytes:
    return gzip.compress(padded(size), mtime=0)


def test_a_body_that_inflates_to_the_limit_is_rewritten() -> None:
    assert len(padded(MAX_BODY)) == MAX_BODY
    out = rewrite(bomb(MAX_BODY), PROXY, content_encoding="gzip")
    assert parse(gzip.decompress(out)).cluster_endpoint == PROXY


@pytest.mark.parametrize(
    ("body", "content_type", "kw"),
    [
        (b"\x12\x00" * (MAX_BODY // 2 + 1), PROTO, {}),
        (b"\x80", PROTO, {}),
        (b"\x38" + b"\xff" * 10 + b"\x01", PROTO, {}),
        (b"\x38" + b"\xff" * 9 + b"\x02", PROTO, {}),  # 65 bits
        (b"\x0a\x05abc", PROTO, {}),
        (b"\x0a", PROTO, {}),
        (b"\x41" + b"\0" * 7, PROTO, {}),
        (b"\x00\x00", PROTO, {}),
        (b"\x0b\x0c", PROTO, {}),  # group
        (b"\x08\x01", PROTO, {}),  # field 1 as a varint
        (varint(1 << 32 | 2) + b"\x00", PROTO, {}),
        (b"[]", JSON, {}),
        (b'"clusterEndpoint"', JSON, {}),
        (b"{", JSON, {}),
        (b'{"clusterEndpoint": NaN}', JSON, {}),
        (b'{"clusterEndpoint": 1}', JSON, {}),
        (b"[" * 100000 + b"]" * 100000, JSON, {}),
        (b"\xff\xfe", JSON, {}),
        (sample(), PROTO, {"content_encoding": "br"}),
        (sample(), PROTO, {"content_encoding": "deflate"}),
        (sample(), "text/plain", {}),
        (sample(), "application/grpc", {}),
        (bomb(MAX_BODY + 1), PROTO, {"content_encoding": "gzip"}),
        (bomb(100 << 20), PROTO, {"content_encoding": "gzip"}),
        (gzip.compress(sample(), mtime=0)[:-3], PROTO, {"content_encoding": "gzip"}),
        (gzip.compress(sample(), mtime=0) + b"x", PROTO, {"content_encoding": "gzip"}),
        (gzip.compress(sample(), mtime=0) * 2, PROTO, {"content_encoding": "gzip"}),
        (sample(), PROTO, {"content_encoding": "gzip"}),
        (b"\x00\x00\x00", "application/connect+proto", {}),
        (frame(sample())[:-1], "application/connect+proto", {}),
        (frame(sample(), 0x04), "application/connect+proto", {}),
        (frame(gzip.compress(sample(), mtime=0), 0x01), "application/connect+proto", {}),
        (
            frame(gzip.compress(sample(), mtime=0), 0x01),
            "application/connect+proto",
            {"connect_encoding": "zstd"},
        ),
        (
            b"".join(frame(bomb(MAX_BODY // 2), 0x01) for _ in range(3)),
            "application/connect+proto",
            {"connect_encoding": "gzip"},
        ),
    ],
)
def test_refused(body: bytes, content_type: str, kw: dict[str, Any]) -> None:
    kw.setdefault("content_encoding", None)
    with pytest.raises(NotRewritable) as caught:
        rewrite_select_cluster(body, content_type=content_type, endpoint=PROXY, **kw)
    assert isinstance(caught.value, ValueError)


class StandIn:
    """A SelectCluster that answers the public host, as the backend does."""

    async def select_cluster(
        self, request: SelectClusterRequest, ctx: RequestContext
    ) -> SelectClusterResponse:
        if request.operation == SelectClusterRequest.OPERATION_UNSPECIFIED:
            raise ConnectError(Code.INVALID_ARGUMENT, f"no operation; {PUBLIC}")
        return SelectClusterResponse(cluster_endpoint=PUBLIC, cluster="dp-" + "1" * 2000)


def served(content_type: str, accept: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
    """One request to the real connect-python server, in process (an ASGI call, no socket)."""
    app = ClusterServiceASGIApplication(StandIn())
    headers = [
        (b"content-type", content_type.encode()),
        (b"accept-encoding", accept.encode()),
        (b"connect-protocol-version", b"1"),
    ]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": SELECT_CLUSTER_PATH,
        "raw_path": SELECT_CLUSTER_PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 1),
    }
    sent: list[dict[str, Any]] = []
    incoming = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return incoming.pop() if incoming else {"type": "http.disconnect"}

    async def send(event: dict[str, Any]) -> None:
        sent.append(event)

    asyncio.run(asyncio.wait_for(app(scope, receive, send), 10))
    start = sent[0]
    answer = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], answer, b"".join(e.get("body", b"") for e in sent[1:])


@pytest.mark.parametrize("codec", ["proto", "json"])
@pytest.mark.parametrize("accept", ["gzip,identity", "identity"])
def test_answers_of_the_real_connect_server(codec: str, accept: str) -> None:
    request = SelectClusterRequest(operation=SelectClusterRequest.OPERATION_CREATE_UPLOAD_LOCATION)
    wire = request.SerializeToString() if codec == "proto" else json_format.MessageToJson(request)
    status, headers, body = served(
        f"application/{codec}", accept, bytes(wire, "utf-8") if isinstance(wire, str) else wire
    )
    assert status == 200
    assert headers.get("content-encoding", "identity") == accept.split(",")[0]
    out = rewrite_select_cluster(
        body,
        content_type=headers["content-type"],
        content_encoding=headers.get("content-encoding"),
        endpoint=PROXY,
    )
    raw = gzip.decompress(out) if headers.get("content-encoding") == "gzip" else out
    back = parse(raw) if codec == "proto" else json_format.Parse(raw, SelectClusterResponse())
    assert back == SelectClusterResponse(cluster_endpoint=PROXY, cluster="dp-" + "1" * 2000)


def test_an_error_answer_is_left_alone() -> None:
    status, headers, body = served("application/proto", "identity", b"")
    assert status == 400 and headers["content-type"] == JSON
    assert PUBLIC.encode() in body
    out = rewrite_select_cluster(body, content_type=JSON, content_encoding=None, endpoint=PROXY)
    assert out == body


def test_gzip_output_is_plain_gzip() -> None:
    out = rewrite(gzip.compress(sample(), mtime=0), PROXY, content_encoding="gzip")
    assert zlib.decompress(out, wbits=31) == gzip.decompress(out)
