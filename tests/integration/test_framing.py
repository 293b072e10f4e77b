"""Request framing (RFC 9112 §6.1, §6.3, §3.2): an ambiguous or unsupported
framing is answered 400/501 and the connection closed before any body byte is
read, so no part of a body ever runs as a request of its own (smuggling)."""
import json
import socket
import time

import pytest

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
CODINGS = ["identity", "gzip", "xchunked", "chunked, chunked", "chunked, identity", "gzip, chunked",
           "chunked"]


def exchange(gw, data, wait=3.0):
    """Sends data on a fresh connection; returns (every byte the server sent,
    whether it closed the connection within `wait` seconds)."""
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=wait)
    try:
        s.sendall(data)
        out = b""
        deadline = time.time() + wait
        while time.time() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                return out, False
            if not chunk:
                return out, True
            out += chunk
        return out, False
    finally:
        s.close()


def responses(raw):
    """The responses in raw, as (status, body) pairs (Content-Length framed)."""
    out = []
    while raw:
        head, sep, rest = raw.partition(b"\r\n\r\n")
        assert sep, raw
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ")[1])
        n = 0
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                n = int(value)
        out.append((status, rest[:n]))
        raw = rest[n:]
    return out


def error_code(body):
    return json.loads(body)["error"]["code"]


# A valid native submit, as two chunks.
SUBMIT = b'{"analyzerId":"pro-demo",'
SUBMIT2 = b'"documentUrl":"https://d/a.pdf"}'
CHUNKED_SUBMIT = b"%x\r\n%s\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(SUBMIT), SUBMIT, len(SUBMIT2), SUBMIT2)


def post(fields, body=b"{}"):
    return (b"POST /operations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + fields
            + b"\r\n" + body + SMUGGLED)


@pytest.fixture
def gw(procs):
    return procs.gateway(procs.sim())


@pytest.mark.parametrize("coding", CODINGS)
@pytest.mark.parametrize("order", ["te-cl", "cl-te"])
def test_transfer_encoding_with_content_length_is_400_and_closed(gw, coding, order):
    te = b"Transfer-Encoding: " + coding.encode() + b"\r\n"
    cl = b"Content-Length: 2\r\n"
    raw, closed = exchange(gw, post(te + cl if order == "te-cl" else cl + te))
    got = responses(raw)
    assert len(got) == 1, got  # the smuggled GET is never answered
    assert got[0][0] == 400 and error_code(got[0][1]) == "AmbiguousFraming", got
    assert closed


@pytest.mark.parametrize("coding", CODINGS)
def test_transfer_encoding_alone(gw, coding):
    te = b"Transfer-Encoding: " + coding.encode() + b"\r\n"
    if coding == "chunked":
        # Valid: the body is read chunked; the request is served, then the
        # smuggled bytes are a request of their own, as they should be.
        raw, _ = exchange(gw, post(te, CHUNKED_SUBMIT), wait=2)
        got = responses(raw)
        assert [g[0] for g in got] == [202, 404], got
        # "{}" is no chunk: refused as malformed, the rest never runs.
        raw, closed = exchange(gw, post(te))
        got = responses(raw)
        assert len(got) == 1 and got[0][0] == 400 and closed, got
        return
    raw, closed = exchange(gw, post(te))
    got = responses(raw)
    assert len(got) == 1, got
    want = (400, "BadTransferEncoding")
    if coding == "gzip, chunked":
        want = (501, "UnsupportedTransferCoding")
    assert (got[0][0], error_code(got[0][1])) == want, got
    assert closed


def test_chunked_in_any_case_is_read_as_chunked(gw):
    raw, closed = exchange(gw, b"POST /operations HTTP/1.1\r\nHost: x\r\n"
                               b"Transfer-Encoding: Chunked\r\nContent-Type: application/json\r\n"
                               b"Connection: close\r\n\r\n" + CHUNKED_SUBMIT)
    got = responses(raw)
    assert [g[0] for g in got] == [202] and closed, got


def test_transfer_encoding_split_over_two_fields_is_400(gw):
    te = b"Transfer-Encoding: chunked\r\n"
    raw, closed = exchange(gw, post(te + te, b"2\r\n{}\r\n0\r\n\r\n"))
    got = responses(raw)
    assert len(got) == 1 and got[0][0] == 400, got
    assert error_code(got[0][1]) == "BadTransferEncoding" and closed


@pytest.mark.parametrize("fields", [b"Transfer-Encoding: chunked\r\nContent-Length: 2\r\n",
                                    b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n",
                                    b"Transfer-Encoding: chunked\r\n"])
def test_http10_with_transfer_encoding_is_400_and_closed(gw, fields):
    body = b"{}" if b"Content-Length" in fields else b"2\r\n{}\r\n0\r\n\r\n"
    raw, closed = exchange(gw, b"POST /operations HTTP/1.0\r\nConnection: keep-alive\r\n" + fields
                           + b"\r\n" + body + SMUGGLED)
    got = responses(raw)
    assert len(got) == 1 and got[0][0] == 400, got
    assert closed


@pytest.mark.parametrize("fields", [b"Content-Length: 2\r\nContent-Length: 2\r\n",
                                    b"Content-Length: 2, 2\r\n",
                                    b"Content-Length: 2\r\nContent-Length: 3\r\n"])
def test_content_length_twice_or_as_a_list_is_400_and_closed(gw, fields):
    raw, closed = exchange(gw, post(fields))
    got = responses(raw)
    assert len(got) == 1 and got[0][0] == 400 and error_code(got[0][1]) == "BadContentLength", got
    assert closed


def test_host_is_required_once_in_http11(gw):
    raw, closed = exchange(gw, b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
    got = responses(raw)
    assert len(got) == 1 and got[0][0] == 400 and error_code(got[0][1]) == "DuplicateHost", got
    assert closed
    raw, closed = exchange(gw, b"GET /healthz HTTP/1.1\r\n\r\n")
    got = responses(raw)
    assert len(got) == 1 and got[0][0] == 400 and error_code(got[0][1]) == "MissingHost", got
    assert closed
    raw, closed = exchange(gw, b"GET /healthz HTTP/1.0\r\n\r\n")
    got = responses(raw)
    assert len(got) == 1 and got[0][0] == 200, got
    assert closed  # HTTP/1.0 without keep-alive
