"""Microsoft's own clients against lrogate's Azure-compatible routes (issue
17): @azure-rest/ai-document-intelligence and @azure/core-lro (over an
@azure-rest/core-client client, as every generated REST client drives an
operation), unchanged but for the endpoint, run by node from tests/ui/sdk/.
Then the traps those pollers fall into, each a raw HTTP check: a relative
Operation-Location, a missing api-version, a Location header, a
"Completed"/"Cancelled" status word, Retry-After: 0, an empty 200 body."""
import base64
import json
import os
import shutil
import subprocess
import threading
import time

import pytest

from conftest import KEY, SECRETS, UI_DIR, free_port, request

SDK_DIR = os.path.join(UI_DIR, "sdk")
CU_VERSION = "2025-05-01-preview"
DI_VERSION = "2024-11-30"
CLIENT_KEY = "client-key-for-the-sdk-7f3a"
OTHER_KEY = "another-tenants-key-91c2"
SECRETS.extend([CLIENT_KEY, OTHER_KEY])

needs_sdks = pytest.mark.skipif(
    not (shutil.which("node") and os.path.isdir(
        os.path.join(UI_DIR, "node_modules", "@azure-rest", "ai-document-intelligence")))
    and not os.environ.get("LROGATE_REQUIRE_BROWSER"),
    reason="needs node and tests/ui/node_modules (scripts/install-deps.sh --test installs them)")


class Sdk:
    """One run of a driver in tests/ui/sdk: its JSON lines, read as they come."""

    def __init__(self, script, spec, env=None):
        self.events = []
        self.p = subprocess.Popen(["node", os.path.join(SDK_DIR, script), json.dumps(spec)],
                                  cwd=UI_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  env={**os.environ, **(env or {})})
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.p.stdout:
            self.events.append(json.loads(line))

    def wait_event(self, name, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for e in self.events:
                if e["event"] == name:
                    return e
            if self.p.poll() is not None and not self.reader.is_alive():
                break
            time.sleep(0.02)
        raise AssertionError(f"no {name} from {self.p.args[1]}: {self.events} "
                             f"{self.p.stderr.read().decode()[-2000:] if self.p.poll() is not None else ''}")

    def result(self, timeout=90):
        self.p.wait(timeout=timeout)
        self.reader.join(timeout=5)
        last = self.events[-1] if self.events else None
        assert last and last["event"] in ("done", "error"), (self.events, self.p.stderr.read().decode())
        return last


def run(script, spec, timeout=90):
    return Sdk(script, spec).result(timeout)


def di(gw, key="any-key", **spec):
    return {"endpoint": f"http://{gw.base}", "key": key, "model": "prebuilt-layout", **spec}


def cu(gw, path, body, key="any-key", **spec):
    return {"endpoint": f"http://{gw.base}", "key": key, "path": path, "body": body,
            "query": {"api-version": CU_VERSION}, **spec}


def sim_final(sim, op_location):
    """The simulator's own final body of the operation behind an Operation-Location."""
    path = op_location.split("/", 3)[3]
    return request(sim.base, "GET", "/" + path, headers={"Ocp-Apim-Subscription-Key": KEY}).json()


def result_id(op_location):
    return op_location.split("?")[0].rsplit("/", 1)[1]


@needs_sdks
def test_document_intelligence_client_analyzes_a_url_and_base64(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--upstream-kind", "azure-di")
    done = run("document_intelligence.mjs", di(gw, urlSource="https://docs.example/di-sdk.pdf"))
    assert done["event"] == "done", done
    assert done["status"] == "succeeded"
    assert "docs.example/di-sdk.pdf" in done["analyzeResult"]["content"]
    pdf = base64.b64encode(b"%PDF-1.7 the SDK's inline document").decode()
    sdk = Sdk("document_intelligence.mjs", di(gw, base64Source=pdf, model="prebuilt-read"))
    accepted = sdk.wait_event("accepted")
    done = sdk.result()
    assert done["event"] == "done", done
    loc = accepted["operationLocation"]
    assert loc.startswith(f"http://{gw.base}/documentintelligence/documentModels/prebuilt-read/analyzeResults/")
    assert loc.endswith(f"?api-version={DI_VERSION}")
    assert accepted["location"] is None
    # The result is the simulator's, field for field.
    assert done["analyzeResult"] == sim_final(sim, loc)["analyzeResult"]


@needs_sdks
def test_a_failed_analysis_is_the_sdks_error_with_the_upstreams_code_and_message(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--upstream-kind", "azure-di")
    out = run("document_intelligence.mjs",
              di(gw, urlSource="https://docs.example/bad.pdf?sim_outcome=Failed"))
    assert out["event"] == "error" and out["stage"] == "poll", out
    assert "has failed" in out["message"]
    assert "InvalidContent" in out["message"] and "could not be analyzed" in out["message"]
    # An input the upstream refuses is the SDK's own 400 at analyze.
    bad = run("document_intelligence.mjs", di(gw, urlSource=None, base64Source=None))
    assert bad["event"] == "error" and bad["stage"] == "analyze" and bad["statusCode"] == 400, bad


@needs_sdks
def test_core_lro_drives_content_understanding_routes_and_the_native_route(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    path = "/contentunderstanding/analyzers/prebuilt-documentAnalyzer:analyze"
    sdk = Sdk("core_lro.mjs", cu(gw, path, {"url": "https://docs.example/cu-sdk.pdf"}))
    loc = sdk.wait_event("accepted")["operationLocation"]
    done = sdk.result()
    assert done["event"] == "done", done
    assert loc.startswith(f"http://{gw.base}/contentunderstanding/analyzerResults/")
    assert done["body"]["status"] == "Succeeded" and done["body"]["id"] == result_id(loc)
    assert done["body"]["result"] == sim_final(sim, loc)["result"]
    failed = run("core_lro.mjs", cu(gw, path, {"url": "https://docs.example/x.pdf?sim_outcome=Failed"}))
    assert failed["event"] == "error" and "InvalidContent" in failed["message"], failed
    # @azure/core-lro's engine also drives the native route to the end.
    native = run("core_lro.mjs", {"endpoint": f"http://{gw.base}", "key": "k", "path": "/operations",
                                  "body": {"analyzerId": "prebuilt-documentAnalyzer",
                                           "documentUrl": "https://docs.example/native.pdf"}})
    assert native["event"] == "done" and native["body"]["status"] == "Succeeded", native
    native_failed = run("core_lro.mjs", {
        "endpoint": f"http://{gw.base}", "key": "k", "path": "/operations",
        "body": {"analyzerId": "prebuilt-documentAnalyzer",
                 "documentUrl": "https://docs.example/n.pdf?sim_outcome=Failed"}})
    assert native_failed["event"] == "error" and "has failed" in native_failed["message"], native_failed


@needs_sdks
def test_core_lro_creates_an_analyzer_on_its_azure_path_then_analyzes_with_it(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    analyzer = {"description": "receipts", "baseAnalyzerId": "prebuilt-documentAnalyzer",
                "fieldSchema": {"fields": {"Total": {"type": "number"}}}}
    sdk = Sdk("core_lro.mjs", cu(gw, "/contentunderstanding/analyzers/receipts-sdk", analyzer,
                                 method="put"))
    accepted = sdk.wait_event("accepted")
    created = sdk.result()
    assert accepted["statusCode"] == 201
    assert accepted["operationLocation"].startswith(
        f"http://{gw.base}/contentunderstanding/analyzers/receipts-sdk/operations/")
    # A PUT's poller ends with a GET of the analyzer itself: forwarded upstream.
    assert created["event"] == "done", created
    assert created["body"]["analyzerId"] == "receipts-sdk"
    done = run("core_lro.mjs", cu(gw, "/contentunderstanding/analyzers/receipts-sdk:analyze",
                                  {"url": "https://docs.example/receipt.pdf"}))
    assert done["event"] == "done" and done["body"]["result"]["analyzerId"] == "receipts-sdk", done
    # Read and delete on the same path; allowReplace is the only other parameter a PUT takes.
    base = "/contentunderstanding/analyzers/receipts-sdk"
    assert request(gw.base, "GET", f"{base}?api-version={CU_VERSION}").json()["analyzerId"] == "receipts-sdk"
    odd = request(gw.base, "PUT", f"{base}?api-version={CU_VERSION}&force=1", body=analyzer)
    assert odd.status == 400 and odd.json()["error"]["code"] == "InvalidQueryParameter"
    assert request(gw.base, "DELETE", f"{base}?api-version={CU_VERSION}").status == 204
    assert request(gw.base, "GET", f"{base}?api-version={CU_VERSION}").status == 404


@needs_sdks
def test_binary_analysis_on_the_ga_version_goes_to_analyze_binary(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    doc = b"%PDF-1.7 bytes for analyzeBinary"
    out = run("core_lro.mjs", {
        "endpoint": f"http://{gw.base}", "key": "k",
        "path": "/contentunderstanding/analyzers/prebuilt-documentAnalyzer:analyzeBinary",
        "query": {"api-version": "2025-11-01"}, "contentType": "application/pdf",
        "base64Body": base64.b64encode(doc).decode()})
    assert out["event"] == "done", out
    op = sim.op_stats(out["body"]["id"])
    # The client's version went upstream, not the gateway's 2025-05-01-preview.
    assert op["api_version"] == "2025-11-01"
    import hashlib
    assert op["body_sha256"] == hashlib.sha256(doc).hexdigest()
    # On an earlier version there is no :analyzeBinary (Azure's 404).
    r = request(gw.base, "POST", "/contentunderstanding/analyzers/a:analyzeBinary?api-version=" + CU_VERSION,
                body=doc, headers={"Content-Type": "application/pdf"})
    assert r.status == 404 and r.header("x-ms-error-code") == "NotFound"


@needs_sdks
def test_kill9_and_restart_during_the_sdks_polling_is_invisible_to_it(procs):
    sim = procs.sim()
    port = free_port()
    store = f"sqlite:{procs.tmp / 'sdk-crash.db'}"
    flags = ["--upstream-kind", "azure-di", "--listen", f"127.0.0.1:{port}", "--client-poll-rate", "0"]
    gw = procs.gateway(sim, *flags, store=store, name="gw-a")
    sdk = Sdk("document_intelligence.mjs",
              di(gw, urlSource="https://docs.example/long.pdf?sim_duration=6s"))
    loc = sdk.wait_event("accepted")["operationLocation"]
    sdk.wait_event("poll")
    gw.kill9()
    gw2 = procs.gateway(sim, *flags, store=store, name="gw-b")
    done = sdk.result()
    assert done["event"] == "done", done
    assert done["status"] == "succeeded"
    assert done["analyzeResult"] == sim_final(sim, loc)["analyzeResult"]
    # The restarted gateway resumed the same operation: one upstream operation in all.
    assert sim.stats()["submits"] == 1
    assert gw2.port == port


@needs_sdks
def test_client_keys_wrong_key_is_the_sdks_401_and_no_key_goes_upstream(procs):
    sim = procs.sim()
    keys = procs.tmp / "keys.txt"
    keys.write_text(f"team-sdk:{CLIENT_KEY}\nteam-other:{OTHER_KEY}\n")
    gw = procs.gateway(sim, "--upstream-kind", "azure-di", "--api-keys-file", str(keys),
                       "--client-poll-rate", "0")
    wrong = run("document_intelligence.mjs", di(gw, key="not-the-key", urlSource="https://docs.example/a.pdf"))
    assert wrong["event"] == "error" and wrong["statusCode"] == 401, wrong
    sdk = Sdk("document_intelligence.mjs", di(gw, key=CLIENT_KEY, urlSource="https://docs.example/a.pdf"))
    loc = sdk.wait_event("accepted")["operationLocation"]
    right = sdk.result()
    assert right["event"] == "done", right
    # The simulator takes only the gateway's upstream key: the client's key
    # never reached it (a forwarded one would have been refused and counted).
    assert sim.stats()["rejected"] == 0
    # Another tenant's key reads it as unknown; two credentials at once are refused.
    other = request(gw.base, "GET", status_path(loc), headers={"Ocp-Apim-Subscription-Key": OTHER_KEY})
    assert other.status == 404
    mine = request(gw.base, "GET", status_path(loc), headers={"Ocp-Apim-Subscription-Key": CLIENT_KEY})
    assert mine.status == 200 and mine.json()["status"] == "succeeded"
    both = request(gw.base, "GET", status_path(loc),
                   headers={"Ocp-Apim-Subscription-Key": CLIENT_KEY, "api-key": CLIENT_KEY})
    assert both.status == 400


def raw_submit(gw, body=None, version=DI_VERSION, model="prebuilt-layout", headers=None, query=""):
    path = f"/documentintelligence/documentModels/{model}:analyze"
    if version is not None:
        path += f"?api-version={version}" + (f"&{query}" if query else "")
    return request(gw.base, "POST", path, body=body or {"urlSource": "https://docs.example/raw.pdf"},
                   headers=headers)


def status_path(op_location):
    return "/" + op_location.split("/", 3)[3]


def test_the_sdks_traps_each_answered_as_azure_does(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--upstream-kind", "azure-di", "--client-poll-rate", "0")
    r = raw_submit(gw, query="pages=1-2&locale=en-US")
    assert r.status == 202, r.body
    loc = r.header("Operation-Location")
    # Absolute, on the gateway's own host, carrying the api-version; no Location.
    assert loc.startswith(f"http://{gw.base}/documentintelligence/") and f"api-version={DI_VERSION}" in loc
    assert r.header("Location") is None
    # The client's other parameters reached the upstream as sent.
    assert sim.op_stats(result_id(loc))["query"] == f"api-version={DI_VERSION}&pages=1-2&locale=en-US"
    # While it runs: 200, the service's own lowercase word, Retry-After >= 1.
    running = request(gw.base, "GET", status_path(loc))
    assert running.status == 200 and running.json()["status"] in ("notStarted", "running")
    assert int(running.header("Retry-After")) >= 1
    # A missing or unknown api-version: Azure's 400 with its code in x-ms-error-code.
    for version, code in [(None, "MissingApiVersionParameter"), ("2022-08-31", "UnsupportedApiVersion")]:
        bad = raw_submit(gw, version=version)
        assert bad.status == 400 and bad.json()["error"]["code"] == code
        assert bad.header("x-ms-error-code") == code
    no_version = request(gw.base, "GET", status_path(loc).split("?")[0])
    assert no_version.status == 400 and no_version.header("x-ms-error-code") == "MissingApiVersionParameter"
    # Final: never an empty body, never "completed".
    deadline = time.time() + 30
    while True:
        final = request(gw.base, "GET", status_path(loc))
        if final.json()["status"] not in ("notStarted", "running") or time.time() > deadline:
            break
        time.sleep(0.3)
    assert final.status == 200 and final.json()["status"] == "succeeded" and final.json()["analyzeResult"]
    assert final.header("Retry-After") is None
    # A cancel reads "canceled", not "Cancelled", with an error the pollers can show.
    c = raw_submit(gw, body={"urlSource": "https://docs.example/c.pdf?sim_duration=60s"})
    cid = result_id(c.header("Operation-Location"))
    assert request(gw.base, "DELETE", f"/operations/{cid}").status == 200
    canceled = request(gw.base, "GET", status_path(c.header("Operation-Location"))).json()
    assert canceled["status"] == "canceled" and canceled["error"]["code"]
    # An unknown id, or the right id under another model: Azure's 404.
    for p in [f"/documentintelligence/documentModels/prebuilt-layout/analyzeResults/nope?api-version={DI_VERSION}",
              status_path(loc).replace("prebuilt-layout", "prebuilt-read")]:
        nf = request(gw.base, "GET", p)
        assert nf.status == 404 and nf.json()["error"]["innererror"]["code"] == "OperationNotFound"
    # The other service's routes are not this gateway's.
    other = request(gw.base, "GET", f"/contentunderstanding/analyzerResults/{cid}?api-version={CU_VERSION}")
    assert other.status == 404 and "Document Intelligence" in other.json()["error"]["message"]


def test_the_sdks_polling_costs_the_upstream_nothing(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--upstream-kind", "azure-di", "--client-poll-rate", "0",
                       "--poll-interval", "2s", "--poll-schedule", "fixed")
    r = raw_submit(gw, body={"urlSource": "https://docs.example/p.pdf?sim_duration=5s"})
    loc = r.header("Operation-Location")
    client_polls = 0
    while True:
        s = request(gw.base, "GET", status_path(loc)).json()["status"]
        client_polls += 1
        if s == "succeeded":
            break
        time.sleep(0.05)
    upstream = sim.op_stats(result_id(loc))["polls"]
    assert client_polls >= 30
    # The poller's fixed schedule: first poll at 1 s, then every 2 s, for 5 s.
    assert upstream <= 5, (client_polls, upstream)


def test_query_and_body_limits_on_the_azure_routes(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--upstream-kind", "azure-di", "--max-body", "1KiB")
    big = raw_submit(gw, body={"base64Source": "A" * 4096})
    assert big.status == 413, big.body
    many = "&".join(f"p{i}=1" for i in range(21))
    assert raw_submit(gw, query=many).status == 400
    assert raw_submit(gw, query="x=%zz").json()["error"]["code"] == "InvalidQueryParameter"
    bad_model = raw_submit(gw, model="bad%20id!")
    assert bad_model.status == 400 and bad_model.json()["error"]["code"] == "InvalidAnalyzerId"
    bad_json = request(gw.base, "POST", f"/documentintelligence/documentModels/m:analyze?api-version={DI_VERSION}",
                       body=b"{not json", headers={"Content-Type": "application/json"})
    assert bad_json.status == 400 and bad_json.header("x-ms-error-code")
    assert sim.stats()["submits"] == 0  # none of these reached the upstream


def test_bearer_tokens_and_repeatability_on_the_azure_routes(procs):
    """What a TokenCredential sends (a bearer token from the issuer) admits
    as on every route, and owns what it submits; Repeatability-Request-ID
    makes a retried submit the same operation, with no second upstream call."""
    sim = procs.sim()
    issuer = f"http://{sim.base}/_sim/oidc"
    aud = "api://lrogate-sdk"
    gw = procs.gateway(sim, "--upstream-kind", "azure-di", "--oidc-issuer", issuer,
                       "--oidc-audience", aud, "--client-poll-rate", "0")
    gw.wait_record("oidc signing keys fetched")

    def token(oid):
        t = request(sim.base, "POST", "/_sim/oidc/token",
                    body={"tid": "tenant-1", "aud": aud, "oid": oid}).json()["access_token"]
        SECRETS.append(t)
        return {"Authorization": f"Bearer {t}"}

    alice, bob = token("alice"), token("bob")
    assert raw_submit(gw).status == 401
    first = raw_submit(gw, headers={**alice, "Repeatability-Request-ID": "retry-1"})
    again = raw_submit(gw, headers={**alice, "Repeatability-Request-ID": "retry-1"})
    assert first.status == again.status == 202, (first.body, again.body)
    assert first.header("Operation-Location") == again.header("Operation-Location")
    assert again.header("Repeatability-Result") == "accepted"
    assert sim.stats()["submits"] == 1
    # The same key with another api-version is another request: refused, not replayed.
    other = request(gw.base, "POST", "/documentintelligence/documentModels/prebuilt-layout:analyze"
                    "?api-version=2024-07-31-preview", body={"urlSource": "https://docs.example/raw.pdf"},
                    headers={**alice, "Repeatability-Request-ID": "retry-1"})
    assert other.status == 422
    path = status_path(first.header("Operation-Location"))
    assert request(gw.base, "GET", path, headers=alice).status == 200
    assert request(gw.base, "GET", path, headers=bob).status == 404


@needs_sdks
def test_a_token_credential_over_https_owns_what_it_submits(procs):
    """A TokenCredential's bearer token (the SDK sends one over https only) on a
    TLS listener, verified against the simulator's OIDC issuer."""
    from test_listener_tls import make_pki
    pki = make_pki(procs.tmp)
    sim = procs.sim()
    aud = "api://lrogate-sdk"
    gw = procs.gateway(sim, "--upstream-kind", "azure-di", "--tls-cert", str(pki / "srv1.pem"),
                       "--tls-key", str(pki / "srv1.key"), "--oidc-issuer", f"http://{sim.base}/_sim/oidc",
                       "--oidc-audience", aud, "--client-poll-rate", "0")
    gw.wait_record("oidc signing keys fetched")
    token = request(sim.base, "POST", "/_sim/oidc/token",
                    body={"tid": "tenant-1", "aud": aud, "oid": "sdk-user"}).json()["access_token"]
    SECRETS.append(token)
    env = {"NODE_EXTRA_CA_CERTS": str(pki / "ca.pem")}
    sdk = Sdk("document_intelligence.mjs", {"endpoint": f"https://127.0.0.1:{gw.port}", "token": token,
                                            "model": "prebuilt-read",
                                            "urlSource": "https://docs.example/tls.pdf"}, env=env)
    loc = sdk.wait_event("accepted")["operationLocation"]
    done = sdk.result()
    assert done["event"] == "done" and done["status"] == "succeeded", done
    # On the TLS listener the Operation-Location is https too.
    assert loc.startswith(f"https://127.0.0.1:{gw.port}/documentintelligence/")
    listed = [op for op in gw.records() if op.get("msg") == "state" and op.get("to") == "NotStarted"]
    assert len(listed) == 1
    # A wrong token is the SDK's 401.
    bad = Sdk("document_intelligence.mjs", {"endpoint": f"https://127.0.0.1:{gw.port}",
                                            "token": "not.a.jwt", "model": "prebuilt-read",
                                            "urlSource": "https://docs.example/x.pdf"}, env=env).result()
    assert bad["event"] == "error" and bad["statusCode"] == 401, bad


@needs_sdks
def test_an_sdk_behind_a_balancer_polls_any_replica(procs, pg_url):
    """Two replicas on PostgreSQL behind one --public-base-url: the SDK
    submits on one; its Operation-Location names the public URL, and every
    replica answers it (here the one that did not accept it, which also does
    no polling), bound to the pool resource that accepted it."""
    sim = procs.sim()
    flags = ["--upstream-kind", "azure-di", "--client-poll-rate", "0", "--lease", "3s",
             "--upstream-timeout", "2s"]
    a = procs.gateway(sim, *flags, store=pg_url, name="a")
    b_port = free_port()
    b = procs.gateway(sim, *flags, "--listen", f"127.0.0.1:{b_port}", "--max-inflight-polls", "0",
                      "--public-base-url", f"http://127.0.0.1:{b_port}", store=pg_url, name="b")
    # The SDK talks to b: it accepts and answers, a polls the upstream.
    done = run("document_intelligence.mjs", di(b, urlSource="https://docs.example/replica.pdf"))
    assert done["event"] == "done" and done["status"] == "succeeded", done
    # And an operation accepted by a is answered by b, from the shared store.
    r = raw_submit(a, body={"urlSource": "https://docs.example/by-a.pdf?sim_duration=1s"})
    path = status_path(r.header("Operation-Location"))
    deadline = time.time() + 30
    while time.time() < deadline:
        body = request(b.base, "GET", path).json()
        if body["status"] == "succeeded":
            break
        time.sleep(0.3)
    assert body["status"] == "succeeded"
    assert body["analyzeResult"] == sim_final(sim, r.header("Operation-Location"))["analyzeResult"]
    assert sim.stats()["submits"] == 2
