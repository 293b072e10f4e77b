"""Client API keys and tenants: every route but /healthz and /readyz needs a
key; an operation belongs to the tenant that created it."""
import hashlib
import os
import signal
import time

from conftest import SECRETS, request

KEY_A = "alpha-" + os.urandom(8).hex()
KEY_B = "beta-" + os.urandom(8).hex()
KEY_C = "gamma-" + os.urandom(8).hex()
SECRETS.extend([KEY_A, KEY_B, KEY_C])


def keys_file(procs, *lines):
    p = procs.tmp / "keys.txt"
    p.write_text("# tenants\n" + "\n".join(lines) + "\n")
    return p


def with_keys(procs, sim, *extra, name="gw"):
    path = keys_file(procs, f"team-a:{KEY_A}", f"team-b:sha256:{hashlib.sha256(KEY_B.encode()).hexdigest()}")
    return procs.gateway(sim, "--api-keys-file", str(path), *extra, name=name), path


def A(h=None):
    return {"Authorization": f"Bearer {KEY_A}", **(h or {})}


def B(h=None):
    return {"x-api-key": KEY_B, **(h or {})}


def test_every_route_but_health_needs_a_key(procs):
    sim = procs.sim()
    gw, _ = with_keys(procs, sim)
    assert request(gw.base, "GET", "/healthz").status == 200
    assert request(gw.base, "GET", "/readyz").status == 200
    for method, path in [("POST", "/pro-mode/content-analyzers/pro-demo:analyze"),
                         ("GET", "/pro-mode/content-analyzers/pro-demo/results/x1"),
                         ("GET", "/operations/x1"), ("GET", "/operations"), ("POST", "/operations"),
                         ("DELETE", "/operations/x1"), ("GET", "/metrics"), ("GET", "/openapi.json")]:
        r = request(gw.base, method, path, body={"url": "u"} if method == "POST" else None)
        assert r.status == 401, (method, path, r.status)
        assert r.header("WWW-Authenticate").startswith("Bearer")
        assert r.json()["error"]["code"] == "Unauthorized"
        wrong = request(gw.base, method, path, headers={"api-key": "not-a-real-key"},
                        body={"url": "u"} if method == "POST" else None)
        assert wrong.status == 401
    assert sim.stats()["submits"] == 0
    # The three header forms all work.
    for h in ({"Authorization": f"Bearer {KEY_A}"}, {"api-key": KEY_A}, {"x-api-key": KEY_A}):
        assert request(gw.base, "GET", "/operations", headers=h).status == 200


def test_tenants_cannot_see_each_others_operations(procs):
    sim = procs.sim()
    gw, _ = with_keys(procs, sim)
    op_a = gw.submit(url="https://d/a.pdf?sim_duration=1s", headers=A()).json()["operationId"]
    assert gw.wait_status(op_a) == "Succeeded"
    assert gw.results(op_a, headers=B()).status == 404
    gw.pace(op_a)
    assert request(gw.base, "GET", f"/operations/{op_a}", headers=B()).status == 404
    assert request(gw.base, "DELETE", f"/operations/{op_a}", headers=B()).status == 404
    assert request(gw.base, "GET", "/operations", headers=B()).json()["value"] == []
    listed = request(gw.base, "GET", "/operations", headers=A()).json()["value"]
    assert [o["id"] for o in listed] == [op_a]
    # The owner still gets it, byte for byte (B's attempts did not consume it).
    r = gw.results(op_a, headers=A())
    assert r.status == 200 and r.body == sim.final_body(op_a).body


def test_idempotency_keys_are_per_tenant(procs):
    sim = procs.sim()
    gw, _ = with_keys(procs, sim)
    a = gw.submit(headers=A({"Idempotency-Key": "same"})).json()["operationId"]
    b = gw.submit(headers=B({"Idempotency-Key": "same"})).json()["operationId"]
    assert a != b and sim.stats()["submits"] == 2


def test_fallback_lookup_is_off_with_keys_unless_asked_for(procs):
    sim = procs.sim("--duration", "0s")
    from test_simulator import analyze
    op_id = analyze(sim).json()["id"]
    gw, _ = with_keys(procs, sim)
    assert gw.results(op_id, headers=A()).status == 404
    gw2, _ = with_keys(procs, sim, "--fallback-lookup", "on", name="gw2")
    assert gw2.results(op_id, headers=A()).status == 200


def test_sighup_reloads_the_keys(procs):
    sim = procs.sim()
    gw, path = with_keys(procs, sim)
    assert request(gw.base, "GET", "/operations", headers={"api-key": KEY_C}).status == 401
    path.write_text(f"team-c:{KEY_C}\n")
    gw.p.send_signal(signal.SIGHUP)
    deadline = time.time() + 5
    while time.time() < deadline and request(gw.base, "GET", "/operations", headers={"api-key": KEY_C}).status != 200:
        time.sleep(0.1)
    assert request(gw.base, "GET", "/operations", headers={"api-key": KEY_C}).status == 200
    assert request(gw.base, "GET", "/operations", headers=A()).status == 401  # removed
    # A broken file keeps the old keys.
    path.write_text("broken line without colon\n")
    gw.p.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    assert request(gw.base, "GET", "/operations", headers={"api-key": KEY_C}).status == 200
    assert any(r.get("msg") == "api keys not reloaded; the old ones stay" for r in gw.records())


def test_a_bad_keys_file_stops_start_up_without_echoing_it(procs):
    sim = procs.sim()
    path = keys_file(procs, f"team-a:{KEY_A}", "team b has a space:" + KEY_B)
    gw = procs.gateway(sim, "--api-keys-file", str(path), start=False)
    try:
        gw.start(timeout=5)
        raise AssertionError("started with a bad keys file")
    except RuntimeError as e:
        assert "line 3" in str(e)
    assert KEY_A not in gw.text() and KEY_B not in gw.text()


def test_open_gateway_warns_and_client_keys_never_leak(procs):
    sim = procs.sim()
    open_gw = procs.gateway(sim, name="open")
    assert any("no client API keys" in r.get("msg", "") for r in open_gw.records())
    gw, _ = with_keys(procs, sim)
    bodies = [gw.submit(headers=A()), gw.submit(headers={"api-key": KEY_B + "x"}),
              request(gw.base, "GET", "/operations", headers=B()),
              request(gw.base, "GET", "/metrics", headers=A())]
    for b in bodies:
        assert KEY_A.encode() not in b.body and KEY_B.encode() not in b.body
    for p in (gw, sim):
        assert KEY_A not in p.text() and KEY_B not in p.text()
