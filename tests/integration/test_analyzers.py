"""Analyzer set-up, the original frontend's first step: PUT/GET/DELETE
/pro-mode/content-analyzers/{analyzerId} forwarded to the simulator's
Content Understanding analyzers; the creation is a long-running operation
the poller follows (GET /operations/{id}, kind analyzerCreation), and an
analyze submitted while it runs waits for it or answers 409."""
import json
import os
import time

from conftest import SECRETS, request

KEY_A = "alpha-" + os.urandom(8).hex()
KEY_B = "beta-" + os.urandom(8).hex()
SECRETS.extend([KEY_A, KEY_B])

FIELDS = {"Total": {"type": "number", "description": "the receipt's total"},
          "Merchant": {"type": "string"}}


def analyzer(description="Receipts", **extra):
    return {"description": description, "baseAnalyzerId": "prebuilt-documentAnalyzer",
            "mode": "pro", "fieldSchema": {"fields": FIELDS}, **extra}


def put(gw, analyzer_id, body, headers=None, query=""):
    return request(gw.base, "PUT", f"/pro-mode/content-analyzers/{analyzer_id}{query}", body=body,
                   headers=headers)


def creation_id(r):
    loc = r.header("Operation-Location")
    assert loc and loc.startswith("/operations/"), r.headers
    return loc.rsplit("/", 1)[1]


def wait_creation(gw, op_id, timeout=30, headers=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        gw.pace(op_id)
        r = request(gw.base, "GET", f"/operations/{op_id}", headers=headers)
        assert r.status == 200, r.body
        if r.json()["status"] not in ("NotStarted", "Running"):
            return r.json()
    raise AssertionError(f"creation {op_id} not final after {timeout}s")


def test_put_creates_the_analyzer_upstream_and_its_creation_is_followed(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    r = put(gw, "receipts-1", analyzer())
    assert r.status == 201, r.body
    body = r.json()
    # The upstream's analyzer, as it answered.
    assert body["analyzerId"] == "receipts-1"
    assert body["status"] == "creating"
    assert body["fieldSchema"]["fields"] == FIELDS
    op_id = creation_id(r)

    first = request(gw.base, "GET", f"/operations/{op_id}").json()
    assert first["kind"] == "analyzerCreation"
    assert first["status"] in ("NotStarted", "Running")
    gw.pace(op_id)
    done = wait_creation(gw, op_id)
    assert done["status"] == "Succeeded", done
    assert done["result"]["analyzerId"] == "receipts-1"
    assert done["result"]["status"] == "ready"
    listed = request(gw.base, "GET", "/operations").json()["value"]
    assert [(o["id"], o["kind"]) for o in listed] == [(op_id, "analyzerCreation")]

    got = request(gw.base, "GET", "/pro-mode/content-analyzers/receipts-1")
    assert got.status == 200, got.body
    assert got.json()["status"] == "ready"
    assert got.json()["fieldSchema"]["fields"] == FIELDS

    # An existing id is the upstream's 409, unless replaced (200).
    again = put(gw, "receipts-1", analyzer("Receipts v2"))
    assert again.status == 409, again.body
    assert again.json()["error"]["code"]
    replaced = put(gw, "receipts-1", analyzer("Receipts v2"), query="?allowReplace=true")
    assert replaced.status == 200, replaced.body
    assert replaced.json()["description"] == "Receipts v2"
    assert creation_id(replaced) != op_id

    gone = request(gw.base, "DELETE", "/pro-mode/content-analyzers/receipts-1")
    assert gone.status == 204, gone.body
    assert gone.body == b""
    missing = request(gw.base, "GET", "/pro-mode/content-analyzers/receipts-1")
    assert missing.status == 404
    assert missing.json()["error"]["code"] == "ModelNotFound"
    assert request(gw.base, "DELETE", "/pro-mode/content-analyzers/receipts-1").status == 404

    # A creation is not an analysis: the results route does not know it.
    assert gw.results(op_id, analyzer="receipts-1").status == 404


def test_an_analyze_right_after_the_put_waits_for_the_creation(procs):
    # Creation takes 3 s; without the wait the simulator would refuse the
    # analysis with 409 ModelNotReady.
    sim = procs.sim("--analyzer-create-duration", "3s")
    gw = procs.gateway(sim)
    r = put(gw, "receipts-2", analyzer())
    assert r.status == 201, r.body
    op_id = creation_id(r)
    sub = gw.submit(analyzer="receipts-2")
    assert sub.status == 202, sub.body
    analysis = sub.json()["operationId"]
    # The creation was over when the analysis reached the upstream: the wait
    # ends on the stored record, so it is final by the time the submit answers.
    # (The poller's "state" log line is written on another thread after the
    # store write, so log order is no evidence either way.)
    creation = request(gw.base, "GET", f"/operations/{op_id}").json()
    assert creation["status"] == "Succeeded", creation
    assert sim.stats()["submits"] == 1
    final = gw.wait_final(analysis, analyzer="receipts-2")
    assert final.status == 200, final.body
    assert final.body == sim.final_body(analysis).body


def test_an_analyze_before_the_put_does_not_let_later_ones_skip_the_wait(procs):
    # The first analyze finds no creation (the gateway then remembers the
    # analyzer as clear, so later analyzes skip the store lookup); the PUT
    # that follows must end that: the next analyze waits for the creation.
    sim = procs.sim("--analyzer-create-duration", "3s")
    gw = procs.gateway(sim)
    early = gw.submit(analyzer="receipts-m")
    assert early.status == 404, early.body  # the simulator knows no such analyzer yet
    r = put(gw, "receipts-m", analyzer())
    assert r.status == 201, r.body
    op_id = creation_id(r)
    sub = gw.submit(analyzer="receipts-m")
    assert sub.status == 202, sub.body
    creation = request(gw.base, "GET", f"/operations/{op_id}").json()
    assert creation["status"] == "Succeeded", creation
    again = gw.submit(analyzer="receipts-m")  # clear again: no wait, still accepted
    assert again.status == 202, again.body
    assert sim.stats()["submits"] == 2


def test_an_analyze_gets_409_while_the_creation_outlasts_the_submit_budget(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--submit-timeout", "4s")
    r = put(gw, "slow-one", analyzer("Knowledge sources sim_duration=60s"))
    assert r.status == 201, r.body
    op_id = creation_id(r)
    sub = gw.submit(analyzer="slow-one")
    assert sub.status == 409, sub.body
    err = sub.json()["error"]
    assert err["code"] == "AnalyzerNotReady"
    assert op_id in err["message"]
    assert int(sub.header("Retry-After")) >= 1
    # Nothing reached the upstream, and nothing was recorded.
    assert sim.stats()["submits"] == 0
    assert [o["id"] for o in request(gw.base, "GET", "/operations").json()["value"]] == [op_id]
    # The native route waits the same way.
    native = request(gw.base, "POST", "/operations",
                     body={"analyzerId": "slow-one", "documentUrl": "https://docs.example/a.pdf"})
    assert native.status == 409, native.body
    assert native.json()["error"]["code"] == "AnalyzerNotReady"


def test_a_failed_creation_fails_its_analyzes_with_its_reason(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    r = put(gw, "broken", analyzer("Bad schema sim_duration=1s sim_outcome=Failed"))
    assert r.status == 201, r.body
    op_id = creation_id(r)
    sub = gw.submit(analyzer="broken")  # waits for the creation, which fails
    assert sub.status == 409, sub.body
    err = sub.json()["error"]
    assert err["code"] == "AnalyzerCreationFailed"
    assert "simulated failure" in err["message"]
    done = wait_creation(gw, op_id)
    assert done["status"] == "Failed"
    assert done["error"]["message"]
    assert sim.stats()["submits"] == 0
    # Created again, it analyzes.
    r2 = put(gw, "broken", analyzer("Fixed sim_duration=1s"), query="?allowReplace=true")
    assert r2.status in (200, 201), r2.body
    sub2 = gw.submit(analyzer="broken")
    assert sub2.status == 202, sub2.body


def test_bad_analyzer_requests_get_clear_errors_and_reach_nothing(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--max-json-body", "64KiB")
    path = "/pro-mode/content-analyzers"
    cases = [
        ("PUT", f"{path}/bad%20id", json.dumps(analyzer()).encode(), {"Content-Type": "application/json"},
         400, "InvalidAnalyzerId"),
        ("PUT", f"{path}/-leading-dash", json.dumps(analyzer()).encode(),
         {"Content-Type": "application/json"}, 400, "InvalidAnalyzerId"),
        ("PUT", f"{path}/a1", b"<analyzer/>", {"Content-Type": "application/xml"}, 415,
         "UnsupportedMediaType"),
        ("PUT", f"{path}/a1", b"", {"Content-Type": "application/json"}, 400, "EmptyBody"),
        ("PUT", f"{path}/a1", b'{"description": ', {"Content-Type": "application/json"}, 400,
         "InvalidJson"),
        ("PUT", f"{path}/a1", b'{"a": 1, "a": 2}', {"Content-Type": "application/json"}, 400,
         "DuplicateJsonKey"),
        ("PUT", f"{path}/a1", b"[1, 2]", {"Content-Type": "application/json"}, 400, "InvalidAnalyzer"),
        ("PUT", f"{path}/a1?allowReplace=maybe", json.dumps(analyzer()).encode(),
         {"Content-Type": "application/json"}, 400, "InvalidQuery"),
        ("PUT", f"{path}/a1", json.dumps(analyzer("x" * 70_000)).encode(),
         {"Content-Type": "application/json"}, 413, None),
        ("GET", f"{path}/a%2Fb", None, {}, 400, "InvalidAnalyzerId"),
        ("GET", f"{path}/a1?select=all", None, {}, 400, "InvalidQuery"),
        ("DELETE", f"{path}/{'x' * 65}", None, {}, 400, "InvalidAnalyzerId"),
    ]
    for method, p, body, headers, status, code in cases:
        r = request(gw.base, method, p, body=body, headers=headers)
        assert r.status == status, (method, p, r.status, r.body)
        if code:
            assert r.json()["error"]["code"] == code, (p, r.body)
    # The simulator's directives are its own: a bad one is its 400, passed on.
    bad = put(gw, "a1", analyzer("sim_bogus=1"))
    assert bad.status == 400, bad.body
    assert request(gw.base, "GET", "/operations").json()["value"] == []
    assert request(gw.base, "GET", "/healthz").status == 200


def test_creations_belong_to_their_tenant_but_analyzers_to_the_resource(procs):
    sim = procs.sim()
    keys = procs.tmp / "keys.txt"
    keys.write_text(f"team-a:{KEY_A}\nteam-b:{KEY_B}\n")
    gw = procs.gateway(sim, "--api-keys-file", str(keys), "--submit-timeout", "4s")
    a = {"Authorization": f"Bearer {KEY_A}"}
    b = {"Authorization": f"Bearer {KEY_B}"}
    assert put(gw, "shared", analyzer()).status == 401
    r = put(gw, "shared", analyzer("Shared sim_duration=60s"), headers=a)
    assert r.status == 201, r.body
    op_id = creation_id(r)
    assert request(gw.base, "GET", f"/operations/{op_id}", headers=a).status == 200
    assert request(gw.base, "GET", f"/operations/{op_id}", headers=b).status == 404
    assert request(gw.base, "DELETE", f"/operations/{op_id}", headers=b).status == 404
    assert request(gw.base, "GET", "/operations", headers=b).json()["value"] == []
    # Team B's analyze of the same upstream analyzer waits too, and its 409
    # does not name team A's operation.
    sub = request(gw.base, "POST", "/pro-mode/content-analyzers/shared:analyze",
                  body={"url": "https://docs.example/a.pdf"}, headers=b)
    assert sub.status == 409, sub.body
    assert sub.json()["error"]["code"] == "AnalyzerNotReady"
    assert op_id not in sub.json()["error"]["message"]
    got = request(gw.base, "GET", "/pro-mode/content-analyzers/shared", headers=b)
    assert got.status == 200 and got.json()["status"] == "creating", got.body


def test_an_upstream_without_analyzers_answers_501_without_calling_it(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--upstream-kind", "azure-di")
    before = sim.stats()
    for method, body in (("PUT", analyzer()), ("GET", None), ("DELETE", None)):
        r = request(gw.base, method, "/pro-mode/content-analyzers/receipts", body=body)
        assert r.status == 501, (method, r.body)
        assert r.json()["error"]["code"] == "AnalyzersUnsupported"
    assert sim.stats() == before


def test_an_unreachable_upstream_is_a_502_and_records_nothing(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--submit-timeout", "2s")
    sim.stop()
    r = put(gw, "receipts", analyzer())
    assert r.status == 502, r.body
    assert r.json()["error"]["code"] == "UpstreamUnavailable"
    assert request(gw.base, "GET", "/operations").json()["value"] == []


def test_a_replica_waits_for_a_creation_another_replica_follows(procs, pg_url):
    # Replica A takes the PUT and follows the creation; replica B takes the
    # analyze, finds the creation in the shared store, and is woken by A's
    # completion (LISTEN/NOTIFY) before it submits.
    sim = procs.sim("--analyzer-create-duration", "3s")
    a = procs.gateway(sim, store=pg_url, name="gw-a")
    b = procs.gateway(sim, "--max-inflight-polls", "0", store=pg_url, name="gw-b")
    r = put(a, "shared-pg", analyzer())
    assert r.status == 201, r.body
    op_id = creation_id(r)
    sub = b.submit(analyzer="shared-pg")
    assert sub.status == 202, sub.body
    assert request(a.base, "GET", f"/operations/{op_id}").json()["status"] == "Succeeded"
    assert sim.stats()["submits"] == 1
    assert sim.stats()["rejected"] == 0


def test_a_replica_that_saw_no_creation_still_waits_for_one_another_replica_records(procs,
                                                                                     pg_url):
    # Replica B first finds no creation of the analyzer; replica A then takes
    # the PUT. B must not answer from what it saw before: its next analyze
    # waits for A's creation (the shared store is the truth).
    sim = procs.sim("--analyzer-create-duration", "3s")
    a = procs.gateway(sim, store=pg_url, name="gw-a")
    b = procs.gateway(sim, "--max-inflight-polls", "0", store=pg_url, name="gw-b")
    early = b.submit(analyzer="shared-pg-m")
    assert early.status == 404, early.body
    r = put(a, "shared-pg-m", analyzer())
    assert r.status == 201, r.body
    op_id = creation_id(r)
    sub = b.submit(analyzer="shared-pg-m")
    assert sub.status == 202, sub.body
    assert request(a.base, "GET", f"/operations/{op_id}").json()["status"] == "Succeeded"
    assert sim.stats()["submits"] == 1
