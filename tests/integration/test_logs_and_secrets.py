"""Logs are JSON lines (one per request, one per state change) and the
upstream key appears in no response and no log line."""
import json

from conftest import KEY, request


def test_logs_are_json_lines_with_request_and_state_records(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    op_id = gw.submit(url="https://docs.example/l.pdf?sim_duration=1s").json()["operationId"]
    assert gw.wait_status(op_id) == "Succeeded"
    assert gw.results(op_id).status == 200
    lines = [l for l in gw.text().splitlines() if l.strip()]
    for line in lines:
        rec = json.loads(line)  # every line is one JSON object
        assert {"ts", "level", "msg"} <= rec.keys()
    reqs = [json.loads(l) for l in lines if json.loads(l)["msg"] == "request"]
    submit = [r for r in reqs if r["method"] == "POST"][0]
    assert submit["route"] == "/pro-mode/content-analyzers/{analyzerId}:analyze"
    assert submit["status"] == 202 and submit["operation_id"] == op_id
    assert isinstance(submit["ms"], (int, float))
    get = [r for r in reqs if r["method"] == "GET"][-1]
    assert get["route"] == "/pro-mode/content-analyzers/{analyzerId}/results/{operationId}"
    assert get["status"] == 200 and get["operation_id"] == op_id
    states = [json.loads(l) for l in lines if json.loads(l)["msg"] == "state"]
    assert [s["to"] for s in states if s["operation_id"] == op_id][-1] == "Succeeded"
    assert states[0]["to"] == "NotStarted"


def test_the_upstream_key_appears_in_no_response_and_no_log(procs):
    sim = procs.sim()
    flag_key = KEY  # also given as a flag once: flags must not leak either
    gw = procs.gateway(sim, "--upstream-key", flag_key)
    bad = procs.gateway(sim, key=KEY + "x", name="gw-bad")
    bodies = []
    for path in ["/healthz", "/readyz", "/nope", "/operations/x", "/operations/bad!"]:
        bodies.append(request(gw.base, "GET", path))
    for g in (gw, bad):
        bodies.append(g.submit())
        bodies.append(g.submit(analyzer="no-such-analyzer"))
        bodies.append(g.submit(url="https://d/a.pdf?sim_duration=0s&sim_outcome=Failed"))
        bodies.append(g.submit(url="https://d/a.pdf?sim_duration=0s&sim_poll_faults=500,404"))
        bodies.append(g.results("00000000-0000-4000-8000-000000000000"))
    ok = [b.json()["operationId"] for b in bodies if b.status == 202]
    for op_id in ok:
        gw.wait_status(op_id)
        bodies.append(gw.results(op_id))
        bodies.append(gw.operation(op_id))
    assert any(b.status == 502 for b in bodies)  # the refused-credentials path ran
    for b in bodies:
        assert KEY.encode() not in b.body
        for _, v in b.headers:
            assert KEY not in v
    for p in (gw, bad, sim):
        assert KEY not in p.text()
