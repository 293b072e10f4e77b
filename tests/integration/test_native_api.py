"""The native long-running-operation API: list, cancel/purge, long-poll,
idempotent submits, POST /operations, /metrics, /openapi.json."""
import json
import os
import socket
import time

from conftest import request


def native_submit(gw, analyzer="pro-demo", url="https://docs.example/n.pdf", headers=None):
    return request(gw.base, "POST", "/operations", body={"analyzerId": analyzer, "input": {"url": url}},
                   headers=headers)


def test_native_submit_answers_202_with_the_status_monitor(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    r = native_submit(gw, url="https://docs.example/n.pdf?sim_duration=1s")
    assert r.status == 202
    doc = r.json()
    assert doc["status"] == "NotStarted"
    assert r.header("Operation-Location").endswith(f"/operations/{doc['id']}")
    assert gw.wait_status(doc["id"]) == "Succeeded"
    final = gw.operation(doc["id"]).json()
    assert final["result"] == json.loads(sim.final_body(doc["id"]).body)["result"]
    assert request(gw.base, "POST", "/operations", body={"input": {}}).status == 400
    assert request(gw.base, "POST", "/operations", body=b"[", headers={"Content-Type": "application/json"}).status == 400
    r = native_submit(gw, analyzer="no-such-analyzer")
    assert r.status == 404 and r.json()["error"]["code"] == "ModelNotFound"


def test_list_is_newest_first_with_stable_paging_and_filters(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    ids = []
    for i in range(5):
        ids.append(gw.submit(url=f"https://docs.example/{i}.pdf?sim_duration={'0s' if i < 2 else '60s'}").json()["operationId"])
        time.sleep(0.01)
    seen = []
    path = "/operations?top=2"
    pages = 0
    while path:
        r = request(gw.base, "GET", path)
        assert r.status == 200
        body = r.json()
        seen += [o["id"] for o in body["value"]]
        pages += 1
        nxt = body.get("nextLink")
        path = nxt[nxt.index("/operations"):] if nxt else None
    assert seen == list(reversed(ids))
    assert pages == 3
    for op_id in ids[:2]:
        gw.wait_status(op_id)
    running = request(gw.base, "GET", "/operations?status=Running&top=50").json()["value"]
    not_started = request(gw.base, "GET", "/operations?status=NotStarted").json()["value"]
    succeeded = request(gw.base, "GET", "/operations?status=Succeeded").json()["value"]
    assert sorted(o["id"] for o in succeeded) == sorted(ids[:2])
    assert sorted(o["id"] for o in running + not_started) == sorted(ids[2:])
    assert request(gw.base, "GET", "/operations?top=0").status == 400
    assert request(gw.base, "GET", "/operations?status=Weird").status == 400
    bad_token = request(gw.base, "GET", "/operations?skipToken=garbage")
    assert bad_token.status == 400
    assert bad_token.json() == {"error": {"code": "InvalidSkipToken", "message": "invalid skipToken"}}
    # A 19-digit time would overflow; it is refused, not wrapped.
    assert request(gw.base, "GET", "/operations?skipToken=9999999999999999999.abc").status == 400
    assert request(gw.base, "GET", "/operations?top=%2B5").status == 400
    assert request(gw.base, "GET", "/operations?top=10000").status == 400


def test_cancel_stops_polling_and_a_second_delete_purges(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    op_id = gw.submit(url="https://docs.example/c.pdf?sim_duration=60s").json()["operationId"]
    time.sleep(1.5)
    r = request(gw.base, "DELETE", f"/operations/{op_id}")
    assert r.status == 200
    doc = r.json()
    assert doc["status"] == "Canceled" and doc["error"]["code"] == "Canceled"
    polls = sim.op_stats(op_id)["polls"]
    time.sleep(2.5)
    assert sim.op_stats(op_id)["polls"] <= polls + 1  # at most the poll already in flight
    assert gw.operation(op_id).json()["status"] == "Canceled"
    r = gw.results(op_id)
    assert r.status == 500
    purged = request(gw.base, "DELETE", f"/operations/{op_id}")
    assert purged.status == 204 and purged.header("Content-Type") is None and purged.body == b""
    assert request(gw.base, "DELETE", f"/operations/{op_id}").status == 404
    done = gw.submit(url="https://docs.example/d.pdf?sim_duration=0s").json()["operationId"]
    gw.wait_status(done)
    assert request(gw.base, "DELETE", f"/operations/{done}").status == 204
    assert gw.operation(done).status == 404
    assert request(gw.base, "DELETE", "/operations/bad!").status == 400


def test_long_poll_answers_when_the_operation_ends(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    op_id = gw.submit(url="https://docs.example/w.pdf?sim_duration=2s").json()["operationId"]
    t0 = time.time()
    r = request(gw.base, "GET", f"/operations/{op_id}", headers={"Prefer": "wait=20"})
    assert r.status == 200 and r.json()["status"] == "Succeeded"
    assert r.header("Preference-Applied") == "wait=20"
    assert time.time() - t0 < 20  # it did not wait the whole N
    # The compatible route too, with the result byte for byte.
    op2 = gw.submit(url="https://docs.example/w2.pdf?sim_duration=2s").json()["operationId"]
    r = gw.results(op2, headers={"Prefer": "wait=20"})
    assert r.status == 200 and r.body == sim.final_body(op2).body


def test_long_poll_ends_with_processing_after_n_seconds_and_n_is_capped(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--max-wait-header", "2s")
    op_id = gw.submit(url="https://docs.example/w.pdf?sim_duration=60s").json()["operationId"]
    r = request(gw.base, "GET", f"/operations/{op_id}", headers={"Prefer": "wait=1"})
    assert r.status == 200 and r.json()["status"] in ("NotStarted", "Running")
    assert r.header("Preference-Applied") == "wait=1"
    time.sleep(1.1)
    r = gw.results(op_id, headers={"Prefer": "wait=3600"})
    assert r.status == 202 and r.json()["status"] == "processing"
    assert r.header("Preference-Applied") == "wait=2"
    # Without Prefer the answer is immediate and says nothing about waiting.
    time.sleep(1.1)
    assert gw.results(op_id).header("Preference-Applied") is None


def test_many_waiting_clients_cost_no_thread_each(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--client-poll-rate", "0")
    op_id = gw.submit(url="https://docs.example/many.pdf?sim_duration=20s").json()["operationId"]
    n = 2000
    socks = []
    req = (f"GET /operations/{op_id} HTTP/1.1\r\nHost: x\r\nPrefer: wait=60\r\n\r\n").encode()
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", gw.port), timeout=60)
        s.sendall(req)
        socks.append(s)
    # Wait (bounded) until the gateway holds them all: slow builds (ASan) take longer.
    waiting = 0.0
    deadline = time.time() + 15
    while time.time() < deadline and waiting < n:
        metrics = request(gw.base, "GET", "/metrics").body.decode()
        line = [l for l in metrics.splitlines() if l.startswith("lrogate_long_poll_waiters")][0]
        waiting = float(line.split()[-1])
        time.sleep(0.2)
    threads = len(os.listdir(f"/proc/{gw.p.pid}/task"))
    assert waiting == n, waiting
    # The fixed threads (docs/design.md, "Threads"; two poller shards each
    # add a client and a store thread), nowhere near one per waiter.
    assert threads < 20, threads
    ok = 0
    for s in socks:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        ok += data.startswith(b"HTTP/1.1 200")
        s.close()
    assert ok == n


def test_idempotent_submit_returns_the_same_operation_without_a_second_upstream_call(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    h = {"Idempotency-Key": "order-42"}
    a = gw.submit(url="https://docs.example/i.pdf", headers=h)
    b = gw.submit(url="https://docs.example/i.pdf", headers=h)
    assert a.status == b.status == 202
    assert a.json()["operationId"] == b.json()["operationId"]
    assert sim.stats()["submits"] == 1
    c = gw.submit(url="https://docs.example/other.pdf", headers=h)
    assert c.status == 422 and c.json()["error"]["code"] == "IdempotencyKeyReused"
    # Azure's repeatability headers, on the native route.
    rh = {"Repeatability-Request-ID": "r-1", "Repeatability-First-Sent": "Sun, 29 Nov 2026 00:00:00 GMT"}
    x = native_submit(gw, headers=rh)
    y = native_submit(gw, headers=rh)
    assert x.json()["id"] == y.json()["id"] and y.header("Repeatability-Result") == "accepted"
    assert sim.stats()["submits"] == 2
    bad = native_submit(gw, headers={"Repeatability-Request-ID": "r-2", "Repeatability-First-Sent": "yesterday"})
    assert bad.status == 400


def test_a_failed_submit_frees_its_idempotency_key(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    h = {"Idempotency-Key": "k-fail"}
    assert gw.submit(analyzer="no-such-analyzer", headers=h).status == 404
    assert gw.submit(analyzer="no-such-analyzer", headers=h).status == 404  # not 409: the key was freed
    # Both attempts reached the upstream (the simulator logs each analyze request).
    analyze_calls = [r for r in sim.records() if r.get("msg") == "request" and r.get("route", "").endswith(":analyze")]
    assert len(analyze_calls) == 2


def test_idempotency_survives_a_restart(procs):
    sim = procs.sim()
    store = f"sqlite:{procs.tmp / 'idem.db'}"
    gw = procs.gateway(sim, store=store, name="gw-a")
    first = gw.submit(headers={"Idempotency-Key": "persist"}).json()["operationId"]
    gw.kill9()
    gw2 = procs.gateway(sim, store=store, name="gw-b")
    again = gw2.submit(headers={"Idempotency-Key": "persist"})
    assert again.json()["operationId"] == first
    assert sim.stats()["submits"] == 1


def test_a_key_reused_after_its_reservation_expired_records_the_new_operation(procs):
    # The key is held for --max-wait + --result-ttl from its first use; a
    # record that finished late (here: after a downtime) outlives it. A new
    # submit with that key is a new operation and must be recorded as one,
    # not answered with an id the store never kept.
    sim = procs.sim()
    store = f"sqlite:{procs.tmp / 'keys.db'}"
    flags = ["--max-wait", "2s", "--result-ttl", "4s", "--sweep-interval", "1h"]
    key = {"Idempotency-Key": "reused-after-expiry"}
    gw = procs.gateway(sim, *flags, store=store, name="gw-a")
    first = gw.submit(url="https://docs.example/a.pdf?sim_duration=60s", headers=key)
    assert first.status == 202, first.body
    gw.stop()
    time.sleep(6.5)  # the key's 6 s are over; the record has not been finished yet
    gw2 = procs.gateway(sim, *flags, store=store, name="gw-b")
    assert gw2.wait_status(first.json()["operationId"]) == "Failed"  # Timeout, just now
    second = gw2.submit(url="https://docs.example/b.pdf?sim_duration=1s", headers=key)
    assert second.status == 202, second.body
    new_id = second.json()["operationId"]
    assert new_id != first.json()["operationId"]
    monitor = gw2.operation(new_id)
    assert monitor.status == 200, monitor.body
    assert gw2.wait_final(new_id).status == 200
    # And the key now names the new operation.
    again = gw2.submit(url="https://docs.example/b.pdf?sim_duration=1s", headers=key)
    assert again.status == 202 and again.json()["operationId"] == new_id


def test_metrics_in_prometheus_text_format(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    op_id = gw.submit(url="https://docs.example/m.pdf?sim_duration=1s").json()["operationId"]
    gw.wait_status(op_id)
    gw.results(op_id)
    r = request(gw.base, "GET", "/metrics")
    assert r.status == 200 and r.header("Content-Type").startswith("text/plain")
    text = r.body.decode()
    for needle in [
        'lrogate_http_requests_total{method="POST",route="/pro-mode/content-analyzers/{analyzerId}:analyze",status="202"} 1',
        'lrogate_operations{status="Succeeded"} 1',
        'lrogate_upstream_calls_total{call="submit",outcome="accepted"} 1',
        'lrogate_upstream_calls_total{call="poll",outcome="status"}',
        "lrogate_http_request_duration_seconds_bucket",
        "lrogate_poll_lag_seconds_count",
        'lrogate_store_duration_seconds_count{operation="insert"}',
        "lrogate_inflight_polls",
        "lrogate_long_poll_waiters",
    ]:
        assert needle in text, needle


def test_openapi_document_is_served(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    doc = request(gw.base, "GET", "/openapi.json").json()
    assert doc["openapi"] == "3.1.0"
    assert "/operations/{id}" in doc["paths"] and "delete" in doc["paths"]["/operations/{id}"]


def test_sigterm_answers_waiting_long_polls_at_once(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    op_id = gw.submit(url="https://docs.example/s.pdf?sim_duration=60s").json()["operationId"]
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=30)
    s.sendall(f"GET /operations/{op_id} HTTP/1.1\r\nHost: x\r\nPrefer: wait=60\r\n\r\n".encode())
    time.sleep(0.5)
    t0 = time.time()
    assert gw.stop() == 0
    assert time.time() - t0 < 5  # not the 10 s drain timeout, nor the 60 s wait
    data = s.recv(65536)
    s.close()
    assert data.startswith(b"HTTP/1.1 200") and b'"status":"' in data
