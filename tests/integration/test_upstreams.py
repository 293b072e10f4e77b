"""The other upstreams behind the same contract: Azure AI Document
Intelligence (--upstream-kind azure-di) and a generic Operation-Location
service (--upstream-kind generic, described by flags), each against the
simulator's own API for it. Results come back byte for byte; failures as 500
with the upstream's message; fallback lookups use the adapter's status URL."""
import json
import os
import subprocess

from conftest import BIN, KEY, request

GENERIC = ["--upstream-kind", "generic", "--upstream-key-header", "X-Api-Key",
           "--generic-submit-path", "/generic/jobs/{analyzerId}",
           "--generic-status-path", "/generic/jobs/{analyzerId}/{operationId}",
           "--generic-status-field", "job.state", "--generic-succeeded", "done",
           "--generic-failed", "error", "--generic-canceled", "stopped",
           "--generic-result-field", "output", "--generic-error-field", "problem",
           "--generic-url-field", "source"]


def di_final(sim, model, op_id):
    return request(sim.base, "GET", f"/documentintelligence/documentModels/{model}/analyzeResults/{op_id}"
                   "?api-version=2024-11-30", headers={"Ocp-Apim-Subscription-Key": KEY})


def submit(gw, analyzer, body, **kw):
    return request(gw.base, "POST", f"/pro-mode/content-analyzers/{analyzer}:analyze", body=body, **kw)


def test_document_intelligence_end_to_end(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--upstream-kind", "azure-di")
    assert gw.wait_record("listening")["api_version"] == "2024-11-30"
    r = submit(gw, "prebuilt-layout", {"urlSource": "https://docs.example/di.pdf"})
    assert r.status == 202, r.body
    op_id = r.json()["operationId"]
    final = gw.wait_final(op_id, "prebuilt-layout")
    assert final.status == 200
    assert final.body == di_final(sim, "prebuilt-layout", op_id).body
    body = final.json()
    assert body["status"] == "succeeded"  # lowercase, as Document Intelligence sends it
    assert body["analyzeResult"]["modelId"] == "prebuilt-layout"
    assert "docs.example/di.pdf" in body["analyzeResult"]["content"]
    # The native route builds Document Intelligence's own body from a URL.
    n = request(gw.base, "POST", "/operations",
                body={"analyzerId": "prebuilt-read", "documentUrl": "https://docs.example/n.pdf"})
    assert n.status == 202, n.body
    assert gw.wait_final(n.json()["id"], "prebuilt-read").json()["analyzeResult"]["modelId"] == "prebuilt-read"


def test_document_intelligence_binary_failure_and_fallback(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--upstream-kind", "azure-di")
    pdf = b"%PDF-1.7 simulated bytes"
    r = request(gw.base, "POST", "/pro-mode/content-analyzers/prebuilt-read:analyze", body=pdf,
                headers={"Content-Type": "application/pdf"})
    assert r.status == 202, r.body
    assert gw.wait_final(r.json()["operationId"], "prebuilt-read").status == 200
    bad = submit(gw, "prebuilt-layout", {"urlSource": "https://docs.example/x.pdf?sim_outcome=Failed"})
    failed = gw.wait_final(bad.json()["operationId"], "prebuilt-layout")
    assert failed.status == 500
    assert "could not be analyzed" in failed.json()["message"]
    # An operation started at the upstream directly: the gateway asks its status URL.
    direct = request(sim.base, "POST", "/documentintelligence/documentModels/prebuilt-layout:analyze"
                     "?api-version=2024-11-30", body={"urlSource": "https://docs.example/d.pdf?sim_duration=0s"},
                     headers={"Ocp-Apim-Subscription-Key": KEY})
    assert direct.status == 202
    op_id = direct.header("Operation-Location").split("/")[-1].split("?")[0]
    looked = gw.results(op_id, "prebuilt-layout")
    assert looked.status == 200
    assert looked.body == di_final(sim, "prebuilt-layout", op_id).body
    # An input Document Intelligence refuses comes back as its 400.
    nope = submit(gw, "prebuilt-layout", {"url": "https://docs.example/cu-shaped.pdf"})
    assert nope.status == 400 and "urlSource" in nope.json()["error"]["message"]


def test_generic_upstream_end_to_end(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, *GENERIC)
    r = submit(gw, "test-analyzer", {"source": "https://docs.example/g.pdf"})
    assert r.status == 202, r.body
    op_id = r.json()["operationId"]
    final = gw.wait_final(op_id, "test-analyzer")
    assert final.status == 200
    expected = request(sim.base, "GET", f"/generic/jobs/test-analyzer/{op_id}", headers={"X-Api-Key": KEY})
    assert final.body == expected.body
    assert final.json()["job"]["state"] == "done" and final.json()["output"]["contents"]
    st = sim.stats()
    assert st["rejected"] == 0  # the key went in X-Api-Key
    n = request(gw.base, "POST", "/operations",
                body={"analyzerId": "test-analyzer", "documentUrl": "https://docs.example/h.pdf?sim_outcome=Failed"})
    assert n.status == 202, n.body
    failed = gw.wait_final(n.json()["id"], "test-analyzer")
    assert failed.status == 500 and "could not be analyzed" in failed.json()["message"]
    c = submit(gw, "test-analyzer", {"source": "https://docs.example/c.pdf?sim_outcome=Canceled"})
    assert gw.wait_status(c.json()["operationId"]) == "Canceled"
    # Fallback through --generic-status-path.
    direct = request(sim.base, "POST", "/generic/jobs/test-analyzer",
                     body={"source": "https://docs.example/d.pdf?sim_duration=0s"}, headers={"X-Api-Key": KEY})
    did = direct.header("Operation-Location").split("/")[-1]
    assert gw.results(did, "test-analyzer").status == 200


def test_generic_settings_are_checked_at_start(procs):
    sim = procs.sim()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LROGATE_", "AZURE_", "IDENTITY_"))}
    env["AZURE_CU_KEY"] = KEY
    for args, says in [
        (["--upstream-kind", "generic", "--generic-submit-path", "/jobs"], b"{analyzerId}"),
        (["--upstream-kind", "generic", "--generic-submit-path", "http://elsewhere/{analyzerId}"], b"{analyzerId}"),
        (["--upstream-kind", "generic", "--generic-succeeded", ""], b"--generic-succeeded"),
        (["--upstream-kind", "soap"], b"known: azure-cu, azure-di, generic"),
    ]:
        p = subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--upstream-endpoint", f"http://{sim.base}",
                            "--store", f"sqlite:{procs.tmp / 'bad.db'}", *args],
                           env=env, capture_output=True, timeout=10)
        assert p.returncode == 2, (args, p.stderr)
        assert says in p.stderr, (args, p.stderr)


def test_cli_analyze_url_works_in_front_of_document_intelligence(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--upstream-kind", "azure-di")
    out = procs.tmp / "di.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LROGATE_", "AZURE_", "IDENTITY_"))}
    p = subprocess.run([BIN, "analyze", "--gateway", f"http://{gw.base}", "--analyzer", "prebuilt-invoice",
                        "--url", "https://docs.example/inv.pdf?sim_duration=1s", "--wait", "--output", str(out)],
                       env=env, capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    body = out.read_bytes()
    op_id = json.loads(body)["id"]
    assert body == di_final(sim, "prebuilt-invoice", op_id).body
