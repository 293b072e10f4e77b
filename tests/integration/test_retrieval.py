"""After the first retrieval a record lives for --retrieval-grace (0s: the
original's delete on first read); unretrieved ones for --result-ttl."""
import time


def _done(procs, *flags):
    sim = procs.sim()
    gw = procs.gateway(sim, *flags)
    op_id = gw.submit(url="https://docs.example/r.pdf?sim_duration=0s").json()["operationId"]
    assert gw.wait_status(op_id) == "Succeeded"
    return sim, gw, op_id


def test_grace_lets_a_client_ask_again_then_the_record_expires(procs):
    sim, gw, op_id = _done(procs, "--retrieval-grace", "2s", "--fallback-lookup", "off", "--sweep-interval", "500ms")
    first = gw.results(op_id)
    assert first.status == 200
    time.sleep(1.1)
    again = gw.results(op_id)  # the first response was "lost"
    assert again.status == 200 and again.body == first.body
    time.sleep(1.5)
    assert gw.results(op_id).status == 404
    assert gw.operation(op_id).status == 404
    time.sleep(0.6)
    assert any(x.get("msg") == "swept expired operations" for x in gw.records())


def test_zero_grace_deletes_on_first_retrieval(procs):
    sim, gw, op_id = _done(procs, "--retrieval-grace", "0s", "--fallback-lookup", "off")
    assert gw.results(op_id).status == 200
    assert gw.operation(op_id).status == 404
    time.sleep(1.1)
    assert gw.results(op_id).status == 404


def test_zero_grace_with_fallback_asks_the_upstream_again_as_the_original_did(procs):
    sim, gw, op_id = _done(procs, "--retrieval-grace", "0s")
    first = gw.results(op_id)
    assert first.status == 200
    time.sleep(1.1)
    second = gw.results(op_id)
    assert second.status == 200 and second.body == first.body
    assert gw.operation(op_id).status == 404  # the record itself is gone


def test_unretrieved_results_expire_after_the_ttl(procs):
    sim, gw, op_id = _done(procs, "--result-ttl", "2s", "--fallback-lookup", "off")
    time.sleep(2.2)
    assert gw.results(op_id).status == 404
