"""The /ui dashboard end to end in a real browser: Debian's headless
Chromium driven by playwright-core (tests/ui/dashboard.mjs). The gateway
requires client API keys; the page must be refused without one, then submit
a document URL, show it go Running → Succeeded and open the result, which
must be the simulator's final JSON, and cancel a long one. Screenshots are kept in test-artifacts/."""
import json
import os
import subprocess

from conftest import ROOT, UI_DIR, browser_ready, needs_browser, request

CLIENT_KEY = "ui-client-key-0123456789"


def test_dashboard_assets_are_served_with_a_strict_policy(procs, tmp_path):
    keys = tmp_path / "keys"
    keys.write_text(f"alice:{CLIENT_KEY}\n")
    gw = procs.gateway(procs.sim(), "--api-keys-file", str(keys))
    page = request(gw.base, "GET", "/ui")  # no key needed for the page itself
    assert page.status == 200 and page.header("Content-Type").startswith("text/html")
    assert b'<script src="/ui/app.js"' in page.body
    csp = page.header("Content-Security-Policy")
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    js = request(gw.base, "GET", "/ui/app.js")
    assert js.status == 200 and js.header("Content-Type").startswith("text/javascript")
    assert request(gw.base, "GET", "/ui/app.css").header("Content-Type").startswith("text/css")
    assert request(gw.base, "GET", "/ui/index.html").status == 404
    # A path through /ui/ reaches nothing else: a stranger gets the 401 that
    # every unknown route gives (no route is revealed), a key holder the 404.
    assert request(gw.base, "GET", "/ui/../operations").status == 401
    assert request(gw.base, "GET", "/ui/../operations",
                   headers={"api-key": CLIENT_KEY}).status == 404
    # The data behind it still needs the key.
    assert request(gw.base, "GET", "/operations").status == 401


@needs_browser
def test_dashboard_in_headless_chromium(procs, tmp_path):
    assert browser_ready(), "node, /usr/bin/chromium or tests/ui/node_modules is missing"
    keys = tmp_path / "keys"
    keys.write_text(f"alice:{CLIENT_KEY}\n")
    sim = procs.sim()
    gw = procs.gateway(sim, "--api-keys-file", str(keys))
    artifacts = os.path.join(ROOT, "test-artifacts")
    env = dict(os.environ, LROGATE_UI_BASE=f"http://{gw.base}", LROGATE_UI_KEY=CLIENT_KEY,
               LROGATE_UI_DOCUMENT="https://docs.example/ui.pdf?sim_duration=5s",
               LROGATE_UI_LONG_DOCUMENT="https://docs.example/long.pdf?sim_duration=120s",
               LROGATE_UI_ARTIFACTS=artifacts)
    p = subprocess.run(["node", os.path.join(UI_DIR, "dashboard.mjs")], env=env, capture_output=True,
                       timeout=120, cwd=UI_DIR)
    assert p.returncode == 0, p.stderr.decode(errors="replace")[-3000:]
    seen = json.loads(p.stdout.decode().strip().splitlines()[-1])
    assert seen["pageErrors"] == [] and seen["consoleErrors"] == [], seen
    assert seen["title"].startswith("lrogate")
    assert "401" in seen["bannerWithoutKey"] and "API key" in seen["bannerWithoutKey"]
    assert "401" in seen["bannerWrongKey"]
    op_id = seen["operationId"]
    # Live: the page showed the operation running, then done.
    assert "Running" in seen["statuses"] and seen["statuses"][-1] == "Succeeded", seen["statuses"]
    assert seen["statuses"].index("Running") < seen["statuses"].index("Succeeded")
    assert seen["analyzerCell"] == "pro-demo"
    assert seen["elapsed"].endswith(" s")
    assert float(seen["elapsed"].split()[0]) >= 4.5  # the simulated analysis took 5 s
    # The result it opened is the upstream's final JSON.
    assert json.loads(seen["resultText"]) == json.loads(sim.final_body(op_id).body)
    assert op_id in seen["resultPath"]
    for shot in seen["screenshots"]:
        assert os.path.getsize(shot) > 10_000, shot
    # The long one was canceled from the page, after a confirmation.
    assert seen["canceledStatus"] == "Canceled" and seen["canceledId"] in seen["confirmText"]
    assert gw.wait_status(seen["canceledId"]) == "Canceled"
    assert sim.op_stats(seen["canceledId"])["id"] == seen["canceledId"]
