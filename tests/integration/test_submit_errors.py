"""How the gateway answers when the upstream refuses or fails a submit."""
import time

from conftest import KEY, SECRETS, free_port


def test_400_and_404_pass_the_upstream_code_and_message_on(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    r = gw.submit(analyzer="no-such-analyzer")
    assert r.status == 404
    err = r.json()["error"]
    assert err["code"] == "ModelNotFound" and "no-such-analyzer" in err["message"]
    # Valid JSON the upstream rejects (no url): its 400 comes through.
    r = gw.submit(url="https://d/a.pdf?sim_outcome=Exploded")
    assert r.status == 400 and r.json()["error"]["code"] == "InvalidRequest"


def test_refused_credentials_are_a_502_that_never_shows_the_key(procs):
    sim = procs.sim()
    wrong = "wrong-key-" + KEY[-8:]
    SECRETS.append(wrong)  # the gateway's (refused) upstream key is a secret too
    gw = procs.gateway(sim, key=wrong)
    r = gw.submit()
    assert r.status == 502
    err = r.json()["error"]
    assert err["code"] == "UpstreamAuthRefused"
    assert "credentials" in err["message"]
    assert wrong.encode() not in r.body and KEY.encode() not in r.body
    assert wrong not in gw.text()


def test_429_is_retried_honouring_retry_after(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    t0 = time.time()
    r = gw.submit(url="https://d/a.pdf?sim_submit_faults=429:2")
    assert r.status == 202
    assert time.time() - t0 >= 1.9  # waited the upstream's Retry-After
    assert sim.stats()["submits"] == 2


def test_429_beyond_the_submit_budget_is_503_with_retry_after(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--submit-timeout", "2s")
    r = gw.submit(url="https://d/a.pdf?sim_submit_faults=429:1,429:1,429:1,429:1,429:1,429:1")
    assert r.status == 503
    assert r.json()["error"]["code"] == "UpstreamThrottled"
    assert int(r.header("Retry-After")) >= 1


def test_5xx_is_retried_with_backoff_then_succeeds(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    r = gw.submit(url="https://d/a.pdf?sim_submit_faults=500,503")
    assert r.status == 202
    assert sim.stats()["submits"] == 3


def test_persistent_5xx_is_a_502_within_the_budget(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--submit-timeout", "2s")
    faults = ",".join(["503"] * 50)
    t0 = time.time()
    r = gw.submit(url=f"https://d/a.pdf?sim_submit_faults={faults}")
    assert r.status == 502
    assert r.json()["error"]["code"] == "UpstreamUnavailable"
    assert time.time() - t0 < 4


def test_hanging_upstream_is_a_502_within_the_budget(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--submit-timeout", "2s")
    t0 = time.time()
    r = gw.submit(url="https://d/a.pdf?sim_submit_faults=hang,hang,hang", timeout=10)
    assert r.status == 502
    assert time.time() - t0 < 4


def test_connection_refused_is_a_502(procs):
    gw = procs.gateway(f"http://127.0.0.1:{free_port()}", "--submit-timeout", "1s")
    r = gw.submit()
    assert r.status == 502
    err = r.json()["error"]
    assert err["code"] == "UpstreamUnavailable" and "connect" in err["message"]


def test_foreign_operation_location_is_refused(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    r = gw.submit(url="https://d/a.pdf?sim_location=foreign")
    assert r.status == 502
    assert r.json()["error"]["code"] == "ForeignOperationLocation"
