"""Bad input gets a clear JSON error, loses nothing, and the server stays up."""
import socket
import time

from conftest import request


def raw(gw, data, read_timeout=5):
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=read_timeout)
    try:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out and b"Content-Length" in out:
                head, _, body = out.partition(b"\r\n\r\n")
                n = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0].split(b":")[1])
                if len(body) >= n:
                    break
        return out
    finally:
        s.close()


def healthy(gw):
    return request(gw.base, "GET", "/healthz").status == 200


def test_ids_are_checked_before_any_upstream_call(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    r = request(gw.base, "POST", "/pro-mode/content-analyzers/bad!id:analyze", body={"url": "u"})
    assert r.status == 400 and r.json()["error"]["code"] == "InvalidAnalyzerId"
    r = request(gw.base, "POST", "/pro-mode/content-analyzers/%2e%2e:analyze", body={"url": "u"})
    assert r.status == 400
    r = request(gw.base, "POST", f"/pro-mode/content-analyzers/{'a' * 65}:analyze", body={"url": "u"})
    assert r.status == 400
    r = gw.results("bad!id")
    assert r.status == 400 and r.json()["error"]["code"] == "InvalidOperationId"
    r = gw.results("x" * 129)
    assert r.status == 400
    r = gw.operation("..")
    assert r.status == 400
    assert sim.stats()["submits"] == 0 and sim.stats()["polls"] == 0


def test_body_limit_is_413_without_reading_it_all(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--max-body", "1KiB")
    r = request(gw.base, "POST", "/pro-mode/content-analyzers/pro-demo:analyze",
                body={"url": "https://d/" + "a" * 2000})
    assert r.status == 413 and r.json()["error"]["code"] == "BodyTooLarge"
    # A client that claims a 1 GiB body gets its answer at once, without sending it.
    t0 = time.time()
    out = raw(gw, b"POST /pro-mode/content-analyzers/pro-demo:analyze HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n{")
    assert out.startswith(b"HTTP/1.1 413"), out[:100]
    assert time.time() - t0 < 3
    assert sim.stats()["submits"] == 0
    assert healthy(gw)


def test_header_limit_is_431(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--max-header", "8KiB")
    r = request(gw.base, "GET", "/healthz", headers={"X-Big": "a" * 20000})
    assert r.status == 431 and r.json()["error"]["code"] == "HeaderTooLarge"
    assert healthy(gw)


def test_invalid_and_empty_json_bodies_are_400(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    r = request(gw.base, "POST", "/pro-mode/content-analyzers/pro-demo:analyze", body=b"{not json",
                headers={"Content-Type": "application/json"})
    assert r.status == 400 and r.json()["error"]["code"] == "InvalidJson"
    r = request(gw.base, "POST", "/pro-mode/content-analyzers/pro-demo:analyze", body=b"",
                headers={"Content-Type": "application/json"})
    assert r.status == 400 and r.json()["error"]["code"] == "EmptyBody"
    assert sim.stats()["submits"] == 0


def test_binary_bodies_are_forwarded_with_their_content_type(procs):
    sim = procs.sim("--duration", "0s")
    gw = procs.gateway(sim)
    pdf = b"%PDF-1.7\x00\x01\x02 binary"
    r = request(gw.base, "POST", "/pro-mode/content-analyzers/pro-demo:analyze", body=pdf,
                headers={"Content-Type": "application/pdf"})
    assert r.status == 202
    op_id = r.json()["operationId"]
    assert gw.wait_status(op_id) == "Succeeded"
    src = gw.results(op_id).json()["result"]["contents"][0]["fields"]["Source"]["valueString"]
    assert src.startswith(f"binary:{len(pdf)}:")


def test_unknown_route_404_and_wrong_method_405_as_json(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    r = request(gw.base, "GET", "/nope")
    assert r.status == 404 and r.json()["error"]["code"] == "NotFound"
    r = request(gw.base, "DELETE", "/pro-mode/content-analyzers/pro-demo:analyze")
    assert r.status == 405 and r.header("Allow") == "POST"
    assert r.json()["error"]["code"] == "MethodNotAllowed"


def test_client_poll_rate_and_max_polls(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    op_id = gw.submit(url="https://d/a.pdf?sim_duration=30s").json()["operationId"]
    # Two polls of one operation closer than 1 s: the second is 429 (the
    # original's rule, no burst), and a refused poll counts as the last one.
    first = gw.results(op_id, pace=False)
    assert first.status == 202
    second = gw.results(op_id, pace=False)
    assert second.status == 429
    statuses = [gw.results(op_id, pace=False) for _ in range(4)]
    limited = [r for r in statuses if r.status == 429]
    assert limited, [r.status for r in statuses]
    assert int(limited[0].header("Retry-After")) >= 1
    assert "per second" in limited[0].json()["error"]["message"]

    gw2 = procs.gateway(sim, "--client-poll-rate", "0", "--max-polls", "3", name="gw2")
    op2 = gw2.submit(url="https://d/b.pdf?sim_duration=30s").json()["operationId"]
    got = [gw2.results(op2, pace=False).status for _ in range(4)]
    assert got == [202, 202, 202, 429]
    r = gw2.results(op2, pace=False)
    assert "--max-polls" in r.json()["error"]["message"] and r.header("Retry-After")


def test_garbage_and_slowloris_do_not_take_the_server_down(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--header-timeout", "1s")
    out = raw(gw, b"\x00\x01\x02garbage\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400"), out[:80]
    out = raw(gw, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * 0 + b"GET / HTTP/9.9\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400") or out == b""
    # A header that never ends: cut off after --header-timeout.
    t0 = time.time()
    out = raw(gw, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ", read_timeout=5)
    assert time.time() - t0 < 3
    assert out.startswith(b"HTTP/1.1 408") or out == b""
    assert healthy(gw)
