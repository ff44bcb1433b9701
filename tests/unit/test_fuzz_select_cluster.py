"""Property-based tests of the SelectCluster rewriter: whatever the answer's form (binary
protobuf or JSON, identity or gzip, unary or Connect envelope frames), a rewritten body
never carries the public endpoint in ``cluster_endpoint``, keeps every other field, and
anything the rewriter cannot read is refused (NotRewritable), never passed through."""

from __future__ import annotations

import gzip

from flyteidl2.cluster.payload_pb2 import SelectClusterResponse
from google.protobuf import json_format
from hypothesis import given
from hypothesis import strategies as st

from flyte_iap.proxy import NotRewritable, rewrite_select_cluster

PUBLIC = "https://flyte.example.com"
FORMS = st.sampled_from(
    [
        ("application/proto", None, False),
        ("application/proto", "gzip", False),
        ("application/json", None, False),
        ("application/json", "gzip", False),
        ("application/connect+proto", None, True),
        ("application/connect+json", None, True),
        ("application/connect+proto", "gzip", True),
    ]
)
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)


def _frame(data: bytes, flags: int = 0) -> bytes:
    return bytes([flags]) + len(data).to_bytes(4, "big") + data


def _encode(
    message: SelectClusterResponse, media: str, encoding: str | None, framed: bool
) -> tuple[bytes, str | None, str | None]:
    proto = media.endswith("proto")
    raw = (
        message.SerializeToString(deterministic=True)
        if proto
        else json_format.MessageToJson(message).encode()
    )
    if framed:
        # Connect: a compressed frame is flagged, the end-of-stream frame follows.
        data = gzip.compress(raw, mtime=0) if encoding else raw
        body = _frame(data, 1 if encoding else 0) + _frame(b"{}", 2)
        return body, None, encoding
    return (gzip.compress(raw, mtime=0) if encoding else raw), encoding, None


def _decode(body: bytes, media: str, encoding: str | None, framed: bool) -> SelectClusterResponse:
    if framed:
        flags, size = body[0], int.from_bytes(body[1:5], "big")
        body = body[5 : 5 + size]
        if flags & 1:
            body = gzip.decompress(body)
    elif encoding:
        body = gzip.decompress(body)
    message = SelectClusterResponse()
    if media.endswith("proto"):
        message.ParseFromString(body)
    else:
        json_format.Parse(body, message)
    return message


@given(form=FORMS, cluster=TEXT, other_endpoint=st.booleans())
def test_a_real_answer_never_keeps_its_public_endpoint(
    form: tuple[str, str | None, bool], cluster: str, other_endpoint: bool
) -> None:
    media, encoding, framed = form
    message = SelectClusterResponse(cluster_endpoint=PUBLIC if not other_endpoint else cluster)
    message.cluster = cluster
    body, content_encoding, connect_encoding = _encode(message, media, encoding, framed)
    out = rewrite_select_cluster(
        body,
        content_type=media,
        content_encoding=content_encoding,
        endpoint="",
        connect_encoding=connect_encoding,
    )
    rewritten = _decode(out, media, encoding, framed)
    assert rewritten.cluster_endpoint == ""
    assert rewritten.cluster == cluster


@given(
    body=st.binary(max_size=300),
    media=st.sampled_from(
        ["application/proto", "application/json", "application/connect+proto", "text/plain"]
    ),
    encoding=st.sampled_from([None, "gzip", "deflate", "br", "identity"]),
)
def test_any_body_is_rewritten_or_refused(body: bytes, media: str, encoding: str | None) -> None:
    """Arbitrary bytes: NotRewritable, or a body whose endpoint field, if it parses as one,
    is not the public one; never another exception."""
    try:
        out = rewrite_select_cluster(
            body, content_type=media, content_encoding=encoding, endpoint=""
        )
    except NotRewritable:
        return
    if media == "application/proto" and encoding in (None, "identity"):
        message = SelectClusterResponse()
        try:
            message.ParseFromString(out)
        except Exception:  # not a message protobuf accepts: nothing for a client to read
            return
        assert message.cluster_endpoint == ""


@given(endpoint=st.sampled_from([PUBLIC, "dns:///flyte.example.com:443", "x"]))
def test_the_public_endpoint_never_survives_in_binary(endpoint: str) -> None:
    raw = SelectClusterResponse(cluster_endpoint=endpoint, cluster="c").SerializeToString()
    out = rewrite_select_cluster(
        raw * 2, content_type="application/proto", content_encoding=None, endpoint=""
    )
    assert endpoint.encode() not in out
