"""What an adversarial probe of the gateway found, each with its reproduction:
unbounded metric labels, Host reflected into Operation-Location, forwarded
bodies that were re-serialised, large JSON bodies parsed into a document,
ambiguous credentials, case-sensitive Prefer, 404 before 401."""
import hashlib
import json
import os
import socket
import threading
import time

from conftest import SECRETS, request

KEY_A = "hard-a-" + os.urandom(8).hex()
KEY_B = "hard-b-" + os.urandom(8).hex()
SECRETS.extend([KEY_A, KEY_B])


def pipeline(gw, data, timeout=5):
    """Sends raw bytes on one connection and reads until the server closes."""
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=timeout)
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


def test_made_up_methods_are_counted_as_other(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    data = b"".join(f"M{i} /healthz HTTP/1.1\r\nHost: x\r\n\r\n".encode() for i in range(2000))
    out = pipeline(gw, data, timeout=10)
    assert out.count(b"HTTP/1.1 ") >= 1000, out[:200]
    text = request(gw.base, "GET", "/metrics").body.decode()
    assert 'method="M' not in text
    other = [line for line in text.splitlines()
             if line.startswith("lrogate_http_requests_total") and 'method="other"' in line]
    assert other and sum(float(line.rsplit(" ", 1)[1]) for line in other) >= 1000
    assert len(text) < 200_000
    assert not any(r.get("msg") == "request" and str(r.get("method", "")).startswith("M")
                   for r in gw.records())


def test_operation_location_never_comes_from_the_host_header(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    evil = {"Host": "evil.example"}
    r = request(gw.base, "POST", "/operations", headers=evil,
                body={"analyzerId": "pro-demo", "documentUrl": "https://d/a.pdf"})
    assert r.status == 202
    op_id = r.json()["id"]
    assert r.header("Operation-Location") == f"/operations/{op_id}"
    r = request(gw.base, "POST", "/pro-mode/content-analyzers/pro-demo:analyze", headers=evil,
                body={"url": "https://d/b.pdf"})
    assert r.status == 202
    assert r.header("Operation-Location") == r.json()["resultsEndpoint"]
    assert r.header("Operation-Location").startswith("/pro-mode/")
    request(gw.base, "POST", "/operations", body={"analyzerId": "pro-demo", "documentUrl": "https://d/c.pdf"})
    page = request(gw.base, "GET", "/operations?top=1", headers=evil).json()
    assert page["nextLink"].startswith("/operations?top=1")

    base = "https://lro.contoso.example/gateway"
    gw2 = procs.gateway(sim, "--public-base-url", base + "/", name="gw2")
    r = request(gw2.base, "POST", "/operations", headers=evil,
                body={"analyzerId": "pro-demo", "documentUrl": "https://d/a.pdf"})
    assert r.header("Operation-Location") == f"{base}/operations/{r.json()['id']}"
    r = request(gw2.base, "POST", "/pro-mode/content-analyzers/pro-demo:analyze", headers=evil,
                body={"url": "https://d/b.pdf"})
    assert r.header("Operation-Location") == base + r.json()["resultsEndpoint"]
    request(gw2.base, "POST", "/operations", body={"analyzerId": "pro-demo", "documentUrl": "https://d/c.pdf"})
    assert request(gw2.base, "GET", "/operations?top=1").json()["nextLink"].startswith(base + "/operations?")


def test_a_bad_public_base_url_stops_start_up(procs):
    sim = procs.sim()
    for bad in ["lro.contoso.example", "ftp://x", "https://x/?q=1", "https://u:p@x", "https://"]:
        gw = procs.gateway(sim, "--public-base-url", bad, start=False, name="bad")
        try:
            gw.start(timeout=5)
            raise AssertionError(f"started with --public-base-url {bad}")
        except RuntimeError as e:
            assert "exited 2" in str(e) and "--public-base-url" in str(e)


def sim_body_sha(sim, op_id):
    return sim.op_stats(op_id)["body_sha256"]


def test_native_input_reaches_the_upstream_byte_for_byte(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    inp = ('{"url":"https://d/exact.pdf","n":1234567890123456789012345678901234567890,'
           '"z":-0,"f":0.1,"e":1E+2,"s":"caf\\u00e9", "spaced" : [ 1 , 2 ]}')
    body = '{"analyzerId":"pro-demo","input":' + inp + '}'
    r = request(gw.base, "POST", "/operations", body=body.encode(),
                headers={"Content-Type": "application/json"})
    assert r.status == 202, r.body
    assert sim_body_sha(sim, r.json()["id"]) == hashlib.sha256(inp.encode()).hexdigest()
    # The compatible route forwards its whole body as sent.
    raw = b'{"url":"https://d/exact2.pdf",  "big":1e300, "neg":-0}'
    r = request(gw.base, "POST", "/pro-mode/content-analyzers/pro-demo:analyze", body=raw,
                headers={"Content-Type": "application/json"})
    assert r.status == 202
    assert sim_body_sha(sim, r.json()["operationId"]) == hashlib.sha256(raw).hexdigest()


def test_both_submit_routes_refuse_the_same_bodies_alike(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    cases = [
        ('{"url":"https://d/a.pdf","url":"https://d/b.pdf"}', "DuplicateJsonKey"),
        ('{"url":"https://d/a.pdf","x":{"k":1,"k":2}}', "DuplicateJsonKey"),
        ('{"url":"https://d/a.pdf","x":1e999}', "JsonNumberOutOfRange"),
        ('{"url":"https://d/a.pdf","x":-1e999}', "JsonNumberOutOfRange"),
        ('{"url":"https://d/a.pdf",}', "InvalidJson"),
        ('{"url":' + "[" * 70 + "]" * 70 + "}", "JsonTooDeep"),
    ]
    for inp, code in cases:
        compat = request(gw.base, "POST", "/pro-mode/content-analyzers/pro-demo:analyze",
                         body=inp.encode(), headers={"Content-Type": "application/json"})
        native = request(gw.base, "POST", "/operations",
                         body=('{"analyzerId":"pro-demo","input":' + inp + "}").encode(),
                         headers={"Content-Type": "application/json"})
        assert (compat.status, compat.json()["error"]["code"]) == (400, code), (inp, compat.body)
        assert (native.status, native.json()["error"]["code"]) == (400, code), (inp, native.body)
    # A duplicate at the top of a native submit is refused too (which would count?).
    r = request(gw.base, "POST", "/operations", headers={"Content-Type": "application/json"},
                body=b'{"analyzerId":"pro-demo","analyzerId":"other","documentUrl":"https://d/a.pdf"}')
    assert r.status == 400 and r.json()["error"]["code"] == "DuplicateJsonKey"
    r = request(gw.base, "POST", "/operations", body={"analyzerId": "pro-demo", "input": 5})
    assert r.status == 400 and r.json()["error"]["code"] == "InvalidRequest"
    assert sim.stats()["submits"] == 0


def test_native_json_bodies_have_their_own_smaller_limit(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--max-json-body", "64KiB")
    big = {"analyzerId": "pro-demo", "input": {"url": "https://d/a.pdf", "pad": "x" * 100_000}}
    r = request(gw.base, "POST", "/operations", body=big)
    assert r.status == 413 and r.json()["error"]["code"] == "BodyTooLarge"
    assert str(64 * 1024) in r.json()["error"]["message"]
    # A claimed 60 MB body is answered before it is sent.
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
    s.sendall(b"POST /operations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: 62914560\r\n\r\n{")
    assert s.recv(65536).startswith(b"HTTP/1.1 413")
    s.close()
    # Other routes keep the small limit too; only :analyze takes large bodies.
    r = request(gw.base, "GET", "/healthz", body=b"x" * 100_000)
    assert r.status == 413
    r = request(gw.base, "POST", "/pro-mode/content-analyzers/pro-demo:analyze",
                body={"url": "https://d/a.pdf", "pad": "x" * 100_000})
    assert r.status == 202
    assert sim.stats()["submits"] == 1


def test_a_large_body_is_checked_off_the_io_threads(procs):
    """A forwarded body of millions of tiny elements is checked without a
    document and away from the server's threads: /healthz keeps answering."""
    sim = procs.sim()
    gw = procs.gateway(sim, "--threads", "1")
    body = b'{"url":"https://d/big.pdf","a":[' + b"[]," * 3_000_000 + b'[]]}'
    result = {}

    def send():
        result["r"] = request(gw.base, "POST", "/pro-mode/content-analyzers/pro-demo:analyze",
                              body=body, headers={"Content-Type": "application/json"}, timeout=120)

    t = threading.Thread(target=send)
    t.start()
    answered = 0
    while t.is_alive():
        assert request(gw.base, "GET", "/healthz", timeout=30).status == 200
        answered += 1
        time.sleep(0.02)
    t.join()
    assert result["r"].status == 202, result["r"].body[:200]
    assert answered >= 1
    assert sim_body_sha(sim, result["r"].json()["operationId"]) == hashlib.sha256(body).hexdigest()
    # A 60 MB body of small elements for a route that reads fields is refused
    # at its header (the default --max-json-body is 1 MiB).
    r = request(gw.base, "POST", "/operations", headers={"Content-Type": "application/json"},
                body=b'{"analyzerId":"a","input":{"a":[' + b'{"x":[1]},' * 200_000 + b'{}]}}')
    assert r.status == 413


def keys_file(procs, *lines):
    p = procs.tmp / "keys.txt"
    p.write_text("\n".join(lines) + "\n")
    return p


def test_a_keys_file_giving_one_key_to_two_tenants_is_refused(procs):
    sim = procs.sim()
    path = keys_file(procs, f"team-a:{KEY_A}", "# another team", f"team-b:{KEY_A}")
    gw = procs.gateway(sim, "--api-keys-file", str(path), start=False)
    try:
        gw.start(timeout=5)
        raise AssertionError("started with one key for two tenants")
    except RuntimeError as e:
        assert "line 3" in str(e) and "line 1" in str(e) and "another tenant" in str(e)
    assert KEY_A not in gw.text()
    # On SIGHUP such a file is not taken: the old keys stay.
    path.write_text(f"team-a:{KEY_A}\nteam-b:{KEY_B}\n")
    gw = procs.gateway(sim, "--api-keys-file", str(path), name="gw2")
    digest = hashlib.sha256(KEY_B.encode()).hexdigest()
    path.write_text(f"team-a:{KEY_A}\nteam-c:sha256:{digest}\nteam-b:{KEY_B}\n")
    gw.p.send_signal(1)
    rec = gw.wait_record("api keys not reloaded; the old ones stay")
    assert "line 3" in rec["error"] and "line 2" in rec["error"]
    assert request(gw.base, "GET", "/operations", headers={"api-key": KEY_B}).status == 200


def test_more_than_one_credential_is_400(procs):
    sim = procs.sim()
    path = keys_file(procs, f"team-a:{KEY_A}", f"team-b:{KEY_B}")
    gw = procs.gateway(sim, "--api-keys-file", str(path))
    two_auth = (f"GET /operations HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY_A}\r\n"
                f"Authorization: Bearer {KEY_B}\r\n\r\n").encode()
    out = pipeline(gw, two_auth)
    assert out.startswith(b"HTTP/1.1 400") and b"AmbiguousCredentials" in out, out[:200]
    for h in ({"Authorization": f"Bearer {KEY_A}", "api-key": KEY_B},
              {"api-key": KEY_A, "x-api-key": KEY_A},
              {"Authorization": "Basic Zm9vOmJhcg==", "x-api-key": KEY_A}):
        r = request(gw.base, "GET", "/operations", headers=h)
        assert r.status == 400 and r.json()["error"]["code"] == "AmbiguousCredentials", h
    assert request(gw.base, "GET", "/operations", headers={"api-key": KEY_A}).status == 200


def test_unauthenticated_callers_learn_no_routes(procs):
    sim = procs.sim()
    path = keys_file(procs, f"team-a:{KEY_A}")
    gw = procs.gateway(sim, "--api-keys-file", str(path))
    for method, p in [("GET", "/nope"), ("DELETE", "/pro-mode/content-analyzers/a:analyze"),
                      ("PUT", "/operations/x1"), ("BREW", "/healthz/x")]:
        assert request(gw.base, method, p).status == 401, (method, p)
    auth = {"api-key": KEY_A}
    assert request(gw.base, "GET", "/nope", headers=auth).status == 404
    r = request(gw.base, "DELETE", "/pro-mode/content-analyzers/a:analyze", headers=auth)
    assert r.status == 405 and r.header("Allow") == "POST"
    assert request(gw.base, "GET", "/healthz").status == 200


def test_prefer_names_are_case_insensitive(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    op_id = request(gw.base, "POST", "/operations",
                    body={"analyzerId": "pro-demo",
                          "documentUrl": "https://d/a.pdf?sim_duration=60s"}).json()["id"]
    for prefer in ["WAIT=1", "Wait = 1", 'wait="1"', "respond-async, wait=1", "return=minimal; Wait=1"]:
        r = request(gw.base, "GET", f"/operations/{op_id}", headers={"Prefer": prefer})
        assert r.status == 200 and r.json()["status"] in ("NotStarted", "Running")
        assert r.header("Preference-Applied") == "wait=1", prefer
        time.sleep(1.05)  # the client poll rate
    r = request(gw.base, "GET", f"/operations/{op_id}", headers={"Prefer": "waiting=1"})
    assert r.header("Preference-Applied") is None
