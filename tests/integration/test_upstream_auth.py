"""Entra ID tokens for the upstream (--upstream-auth client-credentials and
managed-identity), against the simulator's token endpoints: the gateway sends
Authorization: Bearer instead of the key, fetches a token once for many
waiting calls, refreshes it before it expires (the simulator refuses expired
ones), backs off and says why when the authority refuses or fails, and never
shows a secret or a token (the harness checks every answer and log)."""
import concurrent.futures
import os
import subprocess
import time

from conftest import BIN, CLIENT_SECRET, IDENTITY_HEADER, request

SIM_ENV = {"LROGATE_SIM_CLIENT_SECRET": CLIENT_SECRET, "LROGATE_SIM_IDENTITY_HEADER": IDENTITY_HEADER}


def app_gateway(procs, sim, secret=CLIENT_SECRET, *extra):
    return procs.gateway(sim, "--upstream-auth", "client-credentials",
                         "--authority", f"http://{sim.base}/_sim/aad", "--tenant-id", "contoso.example",
                         "--client-id", "11111111-2222-3333-4444-555555555555", *extra,
                         key=None, env={"AZURE_CLIENT_SECRET": secret})


def test_client_credentials_token_is_fetched_once_refreshed_and_accepted(procs):
    # Tokens live 4 s; the authority takes 0.5 s to answer.
    sim = procs.sim("--token-lifetime", "4s", "--token-delay", "500ms", env=SIM_ENV)
    gw = app_gateway(procs, sim)
    # Eight submits at once: all wait on one token request.
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        first = list(pool.map(lambda i: gw.submit(f"https://docs.example/burst{i}.pdf"), range(8)))
    assert [r.status for r in first] == [202] * 8, [r.body for r in first]
    assert sim.stats()["token_requests"] == 1
    # More work over the next ~9 s outlives two token lifetimes.
    later = []
    for i in range(6):
        time.sleep(1.5)
        r = gw.submit(f"https://docs.example/later{i}.pdf")
        assert r.status == 202, r.body
        later.append(r)
    for r in first + later:
        op_id = r.json()["operationId"]
        final = gw.wait_final(op_id)
        assert final.status == 200
        assert final.body == sim.final_body(op_id).body
    st = sim.stats()
    assert st["rejected"] == 0 and st["bearer_rejected"] == 0, st  # never an expired token
    assert st["bearer_accepted"] >= 14
    assert st["tokens_issued"] >= 3, st  # refreshed before expiry, more than once
    assert st["token_max_inflight"] == 1, st  # one refresh at a time
    obtained = [r for r in gw.records() if r.get("msg") == "upstream token obtained"]
    assert len(obtained) == st["tokens_issued"]
    assert all(r["auth"] == "client-credentials" for r in obtained)


def test_a_token_the_upstream_refuses_is_replaced(procs):
    sim = procs.sim(env=SIM_ENV)
    gw = app_gateway(procs, sim)
    r = gw.submit("https://docs.example/revoked.pdf?sim_duration=6s")
    assert r.status == 202, r.body
    op_id = r.json()["operationId"]
    # After the first poll, the upstream stops honouring the token.
    deadline = time.time() + 10
    while sim.op_stats(op_id)["polls"] < 1 and time.time() < deadline:
        time.sleep(0.05)
    assert request(sim.base, "DELETE", "/_sim/tokens").status == 200
    final = gw.wait_final(op_id)
    assert final.status == 200 and final.body == sim.final_body(op_id).body
    st = sim.stats()
    assert st["bearer_rejected"] >= 1 and st["tokens_issued"] == 2, st
    gw.wait_record("the upstream refused the gateway's token; refreshing it early")


def test_refused_secret_is_reported_clearly_and_backed_off(procs):
    sim = procs.sim(env=SIM_ENV)
    gw = app_gateway(procs, sim, secret="not-the-secret-" + CLIENT_SECRET[-6:])
    r = gw.submit()
    assert r.status == 502
    err = r.json()["error"]
    assert err["code"] == "UpstreamTokenRefused"
    assert "refused the gateway's credentials" in err["message"]
    assert "invalid_client (AADSTS7000215)" in err["message"]
    rec = gw.wait_record("upstream token refresh failed")
    assert rec["level"] == "warn" and "AADSTS7000215" in rec["reason"] and rec["retry_in_ms"] >= 1000
    # Within the backoff, further submits fail at once without asking again.
    for _ in range(3):
        assert gw.submit().status == 502
    assert sim.stats()["token_requests"] == 1
    assert sim.stats()["submits"] == 0  # nothing reached the upstream


def test_token_outage_is_retried_within_the_submit_budget(procs):
    # The first two token requests answer 503; the third succeeds.
    sim = procs.sim("--token-faults", "503,503", env=SIM_ENV)
    gw = app_gateway(procs, sim)
    r = gw.submit()
    assert r.status == 202, r.body
    assert gw.wait_final(r.json()["operationId"]).status == 200
    assert sim.stats()["token_requests"] == 3
    failures = [x for x in gw.records() if x.get("msg") == "upstream token refresh failed"]
    assert len(failures) == 2
    assert all("HTTP 503" in x["reason"] for x in failures)


def test_managed_identity_through_identity_endpoint(procs):
    sim = procs.sim(env=SIM_ENV)
    gw = procs.gateway(sim, "--upstream-auth", "managed-identity", key=None,
                       env={"IDENTITY_ENDPOINT": f"http://{sim.base}/_sim/msi/token",
                            "IDENTITY_HEADER": IDENTITY_HEADER})
    r = gw.submit()
    assert r.status == 202, r.body
    op_id = r.json()["operationId"]
    assert gw.wait_final(op_id).body == sim.final_body(op_id).body
    st = sim.stats()
    assert st["tokens_issued"] == 1 and st["bearer_accepted"] >= 2


def test_managed_identity_through_imds(procs):
    sim = procs.sim(env=SIM_ENV)
    gw = procs.gateway(sim, "--upstream-auth", "managed-identity", "--imds-endpoint", f"http://{sim.base}",
                       key=None)
    r = gw.submit()
    assert r.status == 202, r.body
    op_id = r.json()["operationId"]
    assert gw.wait_final(op_id).body == sim.final_body(op_id).body
    assert sim.stats()["tokens_issued"] == 1


def test_wrong_identity_header_is_refused(procs):
    sim = procs.sim(env=SIM_ENV)
    gw = procs.gateway(sim, "--upstream-auth", "managed-identity", key=None,
                       env={"IDENTITY_ENDPOINT": f"http://{sim.base}/_sim/msi/token",
                            "IDENTITY_HEADER": "wrong-" + IDENTITY_HEADER[-5:]})
    r = gw.submit()
    assert r.status == 502
    assert r.json()["error"]["code"] == "UpstreamTokenRefused"
    assert sim.stats()["submits"] == 0


def run_serve(sim, tmp, args, env):
    """`lrogate serve` with bad settings: it must exit 2 at once, saying why."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("LROGATE_", "AZURE_", "IDENTITY_"))}
    full_env.update(env)
    return subprocess.run([BIN, "serve", "--listen", "127.0.0.1:0", "--upstream-endpoint", f"http://{sim.base}",
                           "--store", f"sqlite:{tmp / 'bad.db'}", *args],
                          env=full_env, capture_output=True, timeout=10)


def test_auth_settings_are_checked_at_start(procs):
    sim = procs.sim(env=SIM_ENV)
    secret = {"AZURE_CLIENT_SECRET": CLIENT_SECRET}
    cases = [
        (["--upstream-auth", "client-credentials", "--tenant-id", "t", "--client-id", "c"], {},
         "AZURE_CLIENT_SECRET"),
        (["--upstream-auth", "client-credentials", "--client-id", "c"], secret, "tenant"),
        (["--upstream-auth", "client-credentials", "--tenant-id", "t", "--client-id", "c",
          "--authority", "http://login.example"], secret, "https"),
        (["--upstream-auth", "managed-identity"], {"IDENTITY_ENDPOINT": "http://127.0.0.1:1/x"},
         "IDENTITY_HEADER"),
        (["--upstream-auth", "password"], {}, "upstream-auth"),
        ([], {}, "no upstream key"),
    ]
    for args, env, says in cases:
        p = run_serve(sim, procs.tmp, args, env)
        out = p.stdout + p.stderr
        assert p.returncode == 2, (args, out)
        assert says.encode() in out, (args, out)
        assert CLIENT_SECRET.encode() not in out
