"""The hybrid-polling contract end to end: the original's three scenarios and
the routes of docs/design.md, "The HTTP contract"."""
import json
import time

from conftest import request


def test_normal_flow_result_is_the_upstreams_final_json_byte_for_byte(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    t0 = time.time()
    r = gw.submit()
    assert time.time() - t0 < 1.0
    assert r.status == 202
    body = r.json()
    op_id = body["operationId"]
    assert body["status"] == "submitted"
    assert body["analyzerId"] == "pro-demo"
    assert body["resultsEndpoint"] == f"/pro-mode/content-analyzers/pro-demo/results/{op_id}"
    assert body["message"]
    assert r.header("Operation-Location").endswith(body["resultsEndpoint"])
    assert int(r.header("Retry-After")) >= 1
    # operationId is the upstream's result id.
    assert sim.op_stats(op_id)["id"] == op_id

    p = gw.results(op_id)
    assert p.status == 202
    pj = p.json()
    assert pj["status"] == "processing" and "message" in pj
    assert isinstance(pj["elapsed_seconds"], (int, float)) and pj["elapsed_seconds"] >= 0
    assert int(p.header("Retry-After")) >= 1

    final = gw.wait_final(op_id)
    assert final.status == 200
    assert final.body == sim.final_body(op_id).body
    assert final.json()["result"]["contents"][0]["fields"]


def test_long_operation_outlives_every_client_timeout(procs):
    """An analysis longer than a client's timeout: every client request is
    answered at once, none is held while the gateway polls."""
    sim = procs.sim()
    gw = procs.gateway(sim)
    op_id = gw.submit(url="https://docs.example/long.pdf?sim_duration=6s", timeout=2).json()["operationId"]
    answers = []
    deadline = time.time() + 20
    while time.time() < deadline:
        t0 = time.time()
        r = gw.results(op_id, timeout=2)  # a proxy that cuts at 2s
        answers.append((r.status, time.time() - t0))
        if r.status == 200:
            break
        time.sleep(1.1)
    assert answers[-1][0] == 200
    assert sum(1 for s, _ in answers if s == 202) >= 3
    assert max(d for _, d in answers) < 2


def test_upstream_failure_is_500_with_the_upstream_message(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    op_id = gw.submit(url="https://docs.example/x.pdf?sim_duration=1s&sim_outcome=Failed").json()["operationId"]
    r = gw.wait_final(op_id)
    assert r.status == 500
    assert r.json() == {"error": "Analysis failed",
                        "message": "The document could not be analyzed (simulated failure)."}


def test_status_monitor(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    op_id = gw.submit(url="https://docs.example/m.pdf?sim_duration=2s").json()["operationId"]
    r = gw.operation(op_id)
    assert r.status == 200
    doc = r.json()
    assert doc["id"] == op_id and doc["status"] in ("NotStarted", "Running")
    assert doc["createdDateTime"].endswith("Z") and doc["lastUpdatedDateTime"].endswith("Z")
    assert r.header("Retry-After")
    assert gw.wait_status(op_id) == "Succeeded"
    done = gw.operation(op_id).json()
    assert done["status"] == "Succeeded"
    assert done["result"] == json.loads(sim.final_body(op_id).body)["result"]
    assert "error" not in done

    failed = gw.submit(url="https://docs.example/m.pdf?sim_duration=0s&sim_outcome=Failed").json()["operationId"]
    gw.wait_status(failed)
    doc = gw.operation(failed).json()
    assert doc["status"] == "Failed" and doc["error"]["code"] == "InvalidContent"
    assert gw.operation("no-such-operation").status == 404


def test_canceled_upstream_is_a_failure_on_the_compat_route(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    op_id = gw.submit(url="https://docs.example/c.pdf?sim_duration=0s&sim_outcome=Canceled").json()["operationId"]
    assert gw.wait_status(op_id) == "Canceled"
    r = gw.results(op_id)
    assert r.status == 500 and r.json()["error"] == "Analysis failed"


def test_health_and_readiness(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    assert request(gw.base, "GET", "/healthz").json() == {"status": "ok"}
    assert request(gw.base, "GET", "/readyz").json() == {"status": "ready"}


def test_fallback_lookup_answers_for_operations_started_elsewhere(procs):
    sim = procs.sim("--duration", "0s")
    gw = procs.gateway(sim)
    from test_simulator import analyze
    op_id = analyze(sim).json()["id"]  # started directly at the upstream
    r = gw.results(op_id)
    assert r.status == 200 and r.body == sim.final_body(op_id).body
    assert gw.results("00000000-0000-4000-8000-000000000000").status == 404
    # Without the fallback, an unknown id is 404 and the upstream is not asked.
    gw2 = procs.gateway(sim, "--fallback-lookup", "off", name="gw2")
    before = sim.stats()["polls"]
    assert gw2.results(op_id).status == 404
    assert sim.stats()["polls"] == before


def test_serve_without_upstream_says_so_and_exits_nonzero(procs):
    import subprocess
    from conftest import BIN
    env = {"PATH": "/usr/bin:/bin"}
    p = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0"], capture_output=True, env=env, timeout=10)
    assert p.returncode != 0
    assert b"upstream endpoint" in p.stderr
