"""Request correlation, Azure style: every answer carries x-ms-request-id and
echoes a valid x-ms-client-request-id; the upstream calls made for a request
(a submit, a fallback lookup) carry the client's id (or the gateway's) and a
valid traceparent; the log lines of that request name its ids. What reached
the upstream is seen by a tiny fake upstream of this file's own, on loopback."""
import json
import re
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import KEY, request

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TRACEPARENT = "00-" + uuid.uuid4().hex + "-" + uuid.uuid4().hex[:16] + "-01"


class FakeUpstream:
    """Answers a submit with 202 + Operation-Location (to itself) + apim-request-id
    (analyzer "refused": 400 + apim-request-id), any GET with {"status":"Running"};
    records what it received (never the key)."""

    def __init__(self):
        self.calls = []  # (method, path, {header: value}), lower-case names
        self.apim_ids = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def record(self):
                headers = {k.lower(): v for k, v in self.headers.items()
                           if k.lower() != "ocp-apim-subscription-key"}
                with fake.lock:
                    fake.calls.append((self.command, self.path, headers))

            def answer(self, status, body, extra=()):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in extra:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.record()
                op = uuid.uuid4()
                apim = str(uuid.uuid4())
                with fake.lock:
                    fake.apim_ids.append(apim)
                if "/analyzers/refused:" in self.path:
                    self.answer(400, {"error": {"code": "InvalidRequest", "message": "no"}},
                                [("apim-request-id", apim)])
                    return
                loc = (f"http://127.0.0.1:{fake.port}/contentunderstanding/analyzerResults/{op}"
                       "?api-version=2025-05-01-preview")
                self.answer(202, {"id": str(op), "status": "Running"},
                            [("Operation-Location", loc), ("apim-request-id", apim)])

            def do_GET(self):
                self.record()
                self.answer(200, {"status": "Running"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def posts(self):
        with self.lock:
            return [c for c in self.calls if c[0] == "POST"]

    def gets(self, path_part):
        with self.lock:
            return [c for c in self.calls if c[0] == "GET" and path_part in c[1]]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake():
    f = FakeUpstream()
    yield f
    f.stop()


def record_of(gw, timeout=5, **fields):
    """The first log record with these fields, waiting for it to be written."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for r in gw.records():
            if all(r.get(k) == v for k, v in fields.items()):
                return r
        time.sleep(0.05)
    raise AssertionError(f"no log record with {fields}")


def compat_submit(gw, headers=None, analyzer="pro-demo"):
    return request(gw.base, "POST", f"/pro-mode/content-analyzers/{analyzer}:analyze",
                   body={"url": "https://docs.example/a.pdf"}, headers=headers)


def test_every_answer_carries_a_fresh_request_id(procs, fake):
    gw = procs.gateway(fake.url)
    answers = [
        compat_submit(gw),
        request(gw.base, "GET", "/healthz"),
        request(gw.base, "GET", "/no/such/route"),
        request(gw.base, "POST", "/pro-mode/content-analyzers/-bad:analyze", body={"url": "x"}),
    ]
    keys = procs.tmp / "keys.txt"
    keys.write_text("team-a:alpha-" + uuid.uuid4().hex + "\n")
    gw_keys = procs.gateway(fake.url, "--api-keys-file", str(keys), name="gw-keys")
    answers.append(request(gw_keys.base, "GET", "/operations"))
    assert [a.status for a in answers] == [202, 200, 404, 400, 401]
    ids = [a.header("x-ms-request-id") for a in answers]
    assert all(i and UUID_RE.match(i) for i in ids), ids
    assert len(set(ids)) == len(ids)
    for a in answers:
        assert a.header("x-ms-client-request-id") is None
    for i, g in zip(ids, [gw] * 4 + [gw_keys]):
        rec = record_of(g, msg="request", request_id=i)
        assert "client_request_id" not in rec and "traceparent" not in rec


def test_a_valid_client_request_id_is_echoed_and_junk_is_dropped(procs, fake):
    gw = procs.gateway(fake.url)
    good = "run-42.step_7:a"
    r = request(gw.base, "GET", "/healthz",
                headers={"x-ms-client-request-id": good, "traceparent": TRACEPARENT})
    assert r.header("x-ms-client-request-id") == good
    rec = record_of(gw, msg="request", request_id=r.header("x-ms-request-id"))
    assert rec["client_request_id"] == good and rec["traceparent"] == TRACEPARENT

    for junk in ("x" * 300, "has space", "quote\"d", "semi;colon"):
        r = request(gw.base, "GET", "/healthz",
                    headers={"x-ms-client-request-id": junk, "traceparent": "00-" + "0" * 32 + "-"
                             + "1" * 16 + "-01"})
        assert r.status == 200
        assert r.header("x-ms-client-request-id") is None, junk
        rec = record_of(gw, msg="request", request_id=r.header("x-ms-request-id"))
        assert "client_request_id" not in rec and "traceparent" not in rec

    # A bare CR inside the value (http.client refuses to send one): whatever
    # the answer, the junk is neither echoed nor logged.
    with socket.create_connection(("127.0.0.1", gw.port), timeout=10) as s:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nx-ms-client-request-id: evil\rinjected\r\n"
                  b"Connection: close\r\n\r\n")
        got = b""
        while chunk := s.recv(65536):
            got += chunk
    assert b"injected" not in got
    assert b"x-ms-client-request-id" not in got.lower()
    time.sleep(0.2)
    assert "injected" not in gw.text()

    # An invalid client id is not sent upstream either: the gateway's id goes instead.
    r = compat_submit(gw, headers={"x-ms-client-request-id": "bad id"})
    assert r.status == 202
    _, _, sent = fake.posts()[-1]
    assert sent["x-ms-client-request-id"] == r.header("x-ms-request-id")
    assert "traceparent" not in sent


def test_both_submit_routes_send_the_ids_upstream_and_log_them(procs, fake):
    gw = procs.gateway(fake.url)
    r = compat_submit(gw, headers={"x-ms-client-request-id": "client-1",
                                   "traceparent": TRACEPARENT})
    assert r.status == 202, r.body
    assert r.header("x-ms-client-request-id") == "client-1"
    _, _, sent = fake.posts()[-1]
    assert sent["x-ms-client-request-id"] == "client-1"
    assert sent["traceparent"] == TRACEPARENT
    rid = r.header("x-ms-request-id")
    rec = record_of(gw, msg="request", request_id=rid)
    assert rec["client_request_id"] == "client-1" and rec["status"] == 202
    op = r.json()["operationId"]
    state = record_of(gw, msg="state", operation_id=op, to="NotStarted")
    assert state["request_id"] == rid
    assert state["upstream_request_id"] == fake.apim_ids[-1]

    # The native route, no client id: the gateway's request id goes upstream.
    n = request(gw.base, "POST", "/operations",
                body={"analyzerId": "pro-demo", "input": {"url": "https://docs.example/b.pdf"}},
                headers={"traceparent": TRACEPARENT})
    assert n.status == 202, n.body
    assert n.header("x-ms-client-request-id") is None
    _, _, sent = fake.posts()[-1]
    nid = n.header("x-ms-request-id")
    assert sent["x-ms-client-request-id"] == nid
    assert sent["traceparent"] == TRACEPARENT
    op2 = n.header("Operation-Location").rsplit("/", 1)[1]
    state = record_of(gw, msg="state", operation_id=op2, to="NotStarted")
    assert state["request_id"] == nid
    assert state["upstream_request_id"] == fake.apim_ids[-1]

    # A refused submit's log line names the request and the upstream's id too.
    bad = compat_submit(gw, headers={"traceparent": TRACEPARENT}, analyzer="refused")
    assert bad.status == 400, bad.body
    _, _, sent = fake.posts()[-1]
    assert sent["x-ms-client-request-id"] == bad.header("x-ms-request-id")
    refused = record_of(gw, msg="submit refused", request_id=bad.header("x-ms-request-id"))
    assert refused["upstream_request_id"] == fake.apim_ids[-1]

    # Background polls are for no request: they carry neither header.
    deadline = time.time() + 5
    while time.time() < deadline and not fake.gets(op):
        time.sleep(0.1)
    polls = fake.gets(op)
    assert polls, "the poller never polled"
    for _, _, h in polls:
        assert "traceparent" not in h and "x-ms-client-request-id" not in h


def test_a_fallback_lookup_sends_the_ids_upstream(procs, fake):
    gw = procs.gateway(fake.url, "--fallback-lookup", "on")
    unknown = str(uuid.uuid4())
    r = gw.results(unknown, headers={"x-ms-client-request-id": "look-1",
                                     "traceparent": TRACEPARENT})
    assert r.status == 202, r.body
    assert r.header("x-ms-client-request-id") == "look-1"
    (_, _, sent), = fake.gets(unknown)
    assert sent["x-ms-client-request-id"] == "look-1"
    assert sent["traceparent"] == TRACEPARENT

    other = str(uuid.uuid4())
    r = gw.results(other)
    assert r.status == 202, r.body
    (_, _, sent), = fake.gets(other)
    assert sent["x-ms-client-request-id"] == r.header("x-ms-request-id")
    assert "traceparent" not in sent
    rec = record_of(gw, msg="request", request_id=r.header("x-ms-request-id"))
    assert rec["operation_id"] == other
