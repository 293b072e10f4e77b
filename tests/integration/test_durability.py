"""Durable state: kill -9 at any moment loses nothing that was acknowledged."""
import random
import time


def test_kill9_with_20_operations_in_flight_then_restart(procs):
    sim = procs.sim()
    store = f"sqlite:{procs.tmp / 'durable.db'}"
    gw = procs.gateway(sim, store=store, name="gw-a")
    rng = random.Random(7)
    ids = []
    for i in range(20):
        r = gw.submit(url=f"https://docs.example/doc-{i}.pdf?sim_duration={rng.randint(3, 6)}s")
        assert r.status == 202
        ids.append(r.json()["operationId"])
    time.sleep(1.5)  # some polls made, none finished
    gw.kill9()

    gw2 = procs.gateway(sim, store=store, name="gw-b")
    started = gw2.wait_record("poller started")
    assert started["resumed"] == 20
    for op_id in ids:
        assert gw2.wait_status(op_id, timeout=40) == "Succeeded"
    for op_id in ids:
        r = gw2.results(op_id)
        assert r.status == 200
        assert r.body == sim.final_body(op_id).body  # correct content, byte for byte
    assert sim.stats()["overlaps"] == 0


def test_completed_results_are_served_after_a_restart(procs):
    sim = procs.sim()
    store = f"sqlite:{procs.tmp / 'done.db'}"
    gw = procs.gateway(sim, store=store, name="gw-a")
    op_id = gw.submit(url="https://docs.example/x.pdf?sim_duration=0s").json()["operationId"]
    assert gw.wait_status(op_id) == "Succeeded"
    gw.kill9()
    # Without the fallback, only the store can answer.
    gw2 = procs.gateway(sim, "--fallback-lookup", "off", store=store, name="gw-b")
    r = gw2.results(op_id)
    assert r.status == 200 and r.body == sim.final_body(op_id).body


def test_acknowledged_submit_is_never_unknown(procs):
    """An id the gateway answered 202 for reads as processing at once, even
    straight after a kill -9 (the row is written before the answer)."""
    sim = procs.sim()
    store = f"sqlite:{procs.tmp / 'ack.db'}"
    gw = procs.gateway(sim, "--fallback-lookup", "off", store=store, name="gw-a")
    op_id = gw.submit(url="https://docs.example/y.pdf?sim_duration=30s").json()["operationId"]
    gw.kill9()
    gw2 = procs.gateway(sim, "--fallback-lookup", "off", store=store, name="gw-b")
    assert gw2.results(op_id).status == 202


def test_a_second_gateway_on_the_same_sqlite_file_is_refused(procs):
    sim = procs.sim()
    store = f"sqlite:{procs.tmp / 'one.db'}"
    procs.gateway(sim, store=store, name="gw-a")
    second = procs.gateway(sim, store=store, name="gw-b", start=False)
    try:
        second.start(timeout=5)
        raise AssertionError("second gateway started on a locked store")
    except RuntimeError as e:
        assert "in use by another lrogate process" in str(e)


def test_sigterm_drains_and_exits_zero(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    gw.submit(url="https://docs.example/z.pdf?sim_duration=30s")
    assert gw.stop() == 0
    assert any(x.get("msg") == "stopped" for x in gw.records())
