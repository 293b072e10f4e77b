"""The simulator speaks the Azure Content Understanding REST API faithfully."""
import time

from conftest import KEY, request

AUTH = {"Ocp-Apim-Subscription-Key": KEY}


def analyze(sim, analyzer="pro-demo", body=None, version="2025-05-01-preview", headers=None,
            route="analyze"):
    h = dict(AUTH)
    h.update(headers or {})
    return request(sim.base, "POST",
                   f"/contentunderstanding/analyzers/{analyzer}:{route}?api-version={version}",
                   body=body if body is not None else {"url": "https://docs.example/a.pdf"}, headers=h)


def poll(sim, op_id, version="2025-05-01-preview"):
    return request(sim.base, "GET",
                   f"/contentunderstanding/analyzerResults/{op_id}?api-version={version}", headers=AUTH)


def test_analyze_answers_202_with_operation_location(procs):
    sim = procs.sim()
    r = analyze(sim)
    assert r.status == 202
    body = r.json()
    assert body["status"] == "NotStarted"
    loc = r.header("Operation-Location")
    assert loc == f"http://{sim.base}/contentunderstanding/analyzerResults/{body['id']}?api-version=2025-05-01-preview"


def test_operation_runs_then_succeeds_with_the_documented_shape(procs):
    sim = procs.sim("--duration", "1s")
    op_id = analyze(sim).json()["id"]
    first = poll(sim, op_id).json()
    assert first["status"] in ("NotStarted", "Running")
    time.sleep(1.2)
    final = poll(sim, op_id)
    assert final.status == 200
    doc = final.json()
    assert doc["id"] == op_id and doc["status"] == "Succeeded"
    result = doc["result"]
    assert result["analyzerId"] == "pro-demo"
    assert result["apiVersion"] == "2025-05-01-preview"
    assert result["createdAt"].endswith("Z")
    assert result["warnings"] == []
    content = result["contents"][0]
    assert content["kind"] == "document"
    assert "markdown" in content and "Checksum" in content["fields"]
    # Deterministic: the same answer every time.
    assert poll(sim, op_id).body == final.body


def test_inputs_form_and_ga_version_and_binary(procs):
    sim = procs.sim("--duration", "0s")
    r = analyze(sim, body={"inputs": [{"url": "https://docs.example/b.pdf"}]}, version="2025-11-01")
    assert r.status == 202
    # GA takes binary on :analyzeBinary, not :analyze.
    r = analyze(sim, body=b"%PDF-1.7 ...", version="2025-11-01", headers={"Content-Type": "application/pdf"},
                route="analyzeBinary")
    assert r.status == 202
    r = analyze(sim, body=b"%PDF-1.7 ...", version="2025-11-01", headers={"Content-Type": "application/pdf"})
    assert r.status == 415
    # The 2025-05-01-preview version takes binary on :analyze.
    r = analyze(sim, body=b"%PDF-1.7 ...", headers={"Content-Type": "application/pdf"})
    assert r.status == 202
    op_id = r.json()["id"]
    src = poll(sim, op_id).json()["result"]["contents"][0]["fields"]["Source"]["valueString"]
    assert src.startswith("binary:12:")
    r = analyze(sim, version="2024-12-01-preview")
    assert r.status == 202


def test_errors_wrong_key_unknown_analyzer_unknown_result(procs):
    sim = procs.sim()
    r = request(sim.base, "POST", "/contentunderstanding/analyzers/pro-demo:analyze?api-version=2025-05-01-preview",
                body={"url": "u"}, headers={"Ocp-Apim-Subscription-Key": "wrong"})
    assert r.status == 401
    r = analyze(sim, analyzer="no-such-analyzer")
    assert r.status == 404 and r.json()["error"]["code"] == "ModelNotFound"
    r = poll(sim, "00000000-0000-0000-0000-000000000000")
    assert r.status == 404 and r.json()["error"]["code"] == "OperationNotFound"
    r = analyze(sim, body={"nothing": 1})
    assert r.status == 400 and r.json()["error"]["code"] == "InvalidRequest"
    r = analyze(sim, version="2023-01-01")
    assert r.status == 400


def test_expired_result_is_operation_not_found(procs):
    sim = procs.sim("--duration", "0s", "--result-ttl", "500ms")
    op_id = analyze(sim).json()["id"]
    assert poll(sim, op_id).status == 200
    time.sleep(0.7)
    r = poll(sim, op_id)
    assert r.status == 404 and r.json()["error"]["code"] == "OperationNotFound"


def test_outcomes_and_faults_follow_the_directives(procs):
    sim = procs.sim()
    op_id = analyze(sim, body={"url": "https://d/x.pdf?sim_duration=0s&sim_outcome=Failed"}).json()["id"]
    doc = poll(sim, op_id).json()
    assert doc["status"] == "Failed" and doc["error"]["code"] == "InvalidContent"
    op_id = analyze(sim, body={"url": "https://d/x.pdf?sim_duration=0s&sim_outcome=Canceled"}).json()["id"]
    assert poll(sim, op_id).json()["status"] == "Canceled"
    op_id = analyze(sim, body={"url": "https://d/x.pdf?sim_duration=0s&sim_poll_faults=429:7,503,badjson"}).json()["id"]
    r = poll(sim, op_id)
    assert r.status == 429 and r.header("Retry-After") == "7"
    assert poll(sim, op_id).status == 503
    r = poll(sim, op_id)
    assert r.status == 200
    try:
        r.json()
        raise AssertionError("badjson fault returned valid JSON")
    except ValueError:
        pass
    assert poll(sim, op_id).json()["status"] == "Succeeded"
    r = analyze(sim, body={"url": "https://d/x.pdf?sim_typo=1"})
    assert r.status == 400


def test_same_input_gives_the_same_checksum(procs):
    sim = procs.sim("--duration", "0s")
    a = analyze(sim, body={"url": "https://docs.example/same.pdf"}).json()["id"]
    b = analyze(sim, body={"url": "https://docs.example/same.pdf"}).json()["id"]
    fa = poll(sim, a).json()["result"]["contents"][0]["fields"]["Checksum"]
    fb = poll(sim, b).json()["result"]["contents"][0]["fields"]["Checksum"]
    assert fa == fb
    assert sim.op_stats(a)["checksum"] == fa["valueString"]
