"""The original frontend's flow in a real browser (issue 13): a static page
(tests/ui/spa) served from its own origin, driven in Debian's headless
Chromium by tests/ui/spa.mjs, gets a token from the simulator's OIDC issuer,
sets up its analyzer through the gateway (PUT), submits a document, polls the
results route every second until 200 and renders result.contents[0].fields,
which must be the simulator's. The same page from an origin --cors-origins
does not list must fail with a CORS error, read nothing and start nothing."""
import functools
import http.server
import json
import os
import subprocess
import threading
import time
import urllib.parse

import pytest

from conftest import KEY, SECRETS, UI_DIR, browser_ready, needs_browser, request

SPA_DIR = os.path.join(UI_DIR, "spa")
AUD = "api://lrogate-spa"
GROUP = "receipts-team"
ANALYZER = "receipts-spa"
API_VERSION = "2025-05-01-preview"


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def static_servers():
    """Serves tests/ui/spa on loopback; each call is a server (an origin) of its own."""
    started = []

    def serve():
        handler = functools.partial(QuietHandler, directory=SPA_DIR)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server in started:
        server.shutdown()
        server.server_close()


def start(procs, allowed_origin):
    sim = procs.sim()
    issuer = f"http://{sim.base}/_sim/oidc"
    gw = procs.gateway(sim, "--oidc-issuer", issuer, "--oidc-audience", AUD,
                       "--cors-origins", allowed_origin)
    gw.wait_record("oidc signing keys fetched")
    return sim, gw


def open_page(page_origin, sim, gw, document):
    query = urllib.parse.urlencode({
        "gateway": f"http://{gw.base}", "token": f"http://{sim.base}/_sim/oidc/token",
        "analyzer": ANALYZER, "document": document, "group": GROUP, "audience": AUD})
    env = dict(os.environ, LROGATE_SPA_URL=f"{page_origin}/index.html?{query}")
    p = subprocess.run(["node", os.path.join(UI_DIR, "spa.mjs")], env=env, capture_output=True,
                       timeout=120, cwd=UI_DIR)
    assert p.returncode == 0, p.stderr.decode(errors="replace")[-3000:]
    return json.loads(p.stdout.decode().strip().splitlines()[-1])


def token(sim):
    """A token of a member of the page's group, for the test's own calls."""
    r = request(sim.base, "POST", "/_sim/oidc/token",
                body={"oid": "checker", "groups": [GROUP], "aud": AUD})
    assert r.status == 200, r.body
    t = r.json()["access_token"]
    SECRETS.append(t)
    return {"Authorization": f"Bearer {t}", "X-Group-ID": GROUP}


def final_record(gw, location, headers, timeout=20):
    """GET location (a status monitor) within the client poll rate until it is final."""
    deadline = time.time() + timeout
    while True:
        r = request(gw.base, "GET", location, headers=headers)
        assert r.status in (200, 429), r.body
        if r.status == 200 and r.json()["status"] in ("Succeeded", "Failed", "Canceled"):
            return r.json()
        assert time.time() < deadline, f"{location} not final after {timeout}s: {r.body}"
        time.sleep(1.05)


def upstream_analyzer(sim):
    return request(sim.base, "GET",
                   f"/contentunderstanding/analyzers/{ANALYZER}?api-version={API_VERSION}",
                   headers={"Ocp-Apim-Subscription-Key": KEY})


@needs_browser
def test_the_page_on_a_listed_origin_renders_the_simulators_fields(procs, static_servers):
    assert browser_ready(), "node, /usr/bin/chromium or tests/ui/node_modules is missing"
    origin = static_servers()
    sim, gw = start(procs, origin)
    document = f"{origin}/receipt.pdf?sim_duration=3s"
    seen = open_page(origin, sim, gw, document)
    assert seen["state"] == "done", seen
    # A poll the gateway found too early (429) is retried by the page; Chromium logs it.
    console = [e for e in seen["consoleErrors"] if "status of 429" not in e]
    assert seen["error"] == "" and seen["pageErrors"] == [] and console == [], seen
    # Token, analyzer set-up, submit, then polls until the result: all read by the page.
    steps = seen["steps"]
    assert steps[:3] == ["token 200", "PUT 201", "POST 202"], steps
    assert steps[-1] == "GET 200" and set(steps[3:-1]) <= {"GET 202", "GET 429"}, steps
    # The fields it rendered are the simulator's, for this document.
    op_id = seen["operationId"]
    truth = sim.final_body(op_id)
    assert truth.status == 200, truth.body
    fields = truth.json()["result"]["contents"][0]["fields"]
    assert seen["fields"] == fields
    assert fields["Source"]["valueString"] == document
    assert sim.op_stats(op_id)["id"] == op_id
    assert sim.stats()["submits"] == 1
    # The analyzer's creation was followed by the gateway and is visible there.
    location = seen["creation"]
    assert location.startswith("/operations/"), seen
    record = final_record(gw, location, token(sim))
    assert record["status"] == "Succeeded", record
    assert record["result"]["analyzerId"] == ANALYZER
    assert record["result"]["description"] == "Receipts"
    up = upstream_analyzer(sim)
    assert up.status == 200 and up.json()["status"] == "ready", up.body


@needs_browser
def test_the_page_on_an_unlisted_origin_fails_with_a_cors_error_and_reads_nothing(
        procs, static_servers):
    assert browser_ready(), "node, /usr/bin/chromium or tests/ui/node_modules is missing"
    listed = static_servers()
    stranger = static_servers()
    sim, gw = start(procs, listed)
    seen = open_page(stranger, sim, gw, f"{stranger}/receipt.pdf?sim_duration=3s")
    assert seen["state"] == "error", seen
    # The issuer answers any origin; the gateway's preflight refuses this one,
    # so the browser gives the page no answer at all (a TypeError).
    assert seen["steps"] == ["token 200", "PUT failed"], seen
    assert "PUT: fetch failed (TypeError" in seen["error"], seen
    assert any("CORS policy" in e for e in seen["consoleErrors"]), seen["consoleErrors"]
    assert seen["fields"] == {} and seen["operationId"] == "" and seen["creation"] == ""
    assert seen["pageErrors"] == [], seen
    # Nothing reached the upstream: no analyzer, no analysis.
    assert sim.stats()["submits"] == 0
    assert upstream_analyzer(sim).status == 404
    # The gateway answered the preflight 403 and nothing else reached it.
    calls = [(r["method"], r["route"], r["status"]) for r in gw.records()
             if r.get("msg") == "request"]
    assert calls == [("OPTIONS", "/pro-mode/content-analyzers/{analyzerId}", 403)], calls
