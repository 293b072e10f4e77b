"""The background poller: schedule, Retry-After, transient faults, limits."""
import time


def test_retry_after_longer_than_the_interval_is_honoured_at_the_simulator(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)  # --poll-interval 1s
    op_id = gw.submit(url="https://d/a.pdf?sim_duration=8s&sim_retry_after=3").json()["operationId"]
    assert gw.wait_status(op_id, timeout=30) == "Succeeded"
    offsets = sim.op_stats(op_id)["poll_offsets_ms"]
    gaps = [b - a for a, b in zip(offsets, offsets[1:])]
    assert gaps, offsets
    # Every poll after a Running answer waited the 3 s the upstream asked for.
    assert min(gaps) >= 2900, gaps


def test_without_retry_after_the_poll_interval_is_used(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--poll-interval", "500ms")
    op_id = gw.submit(url="https://d/a.pdf?sim_duration=3s").json()["operationId"]
    assert gw.wait_status(op_id) == "Succeeded"
    offsets = sim.op_stats(op_id)["poll_offsets_ms"]
    gaps = [b - a for a, b in zip(offsets, offsets[1:])]
    assert min(gaps) >= 450, gaps
    assert len(offsets) <= 3 / 0.5 + 2


def test_transient_poll_faults_back_off_and_the_operation_completes(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--upstream-timeout", "2s", "--lease", "5s", "--max-backoff", "1s")
    faults = "429,429:date1,503:ms300,500,502,504,badjson,unknown,reset,hang,slow"
    op_id = gw.submit(url=f"https://d/a.pdf?sim_duration=1s&sim_poll_faults={faults}").json()["operationId"]
    assert gw.wait_status(op_id, timeout=60) == "Succeeded"
    r = gw.results(op_id)
    assert r.status == 200 and r.body == sim.final_body(op_id).body
    warned = [x for x in gw.records() if x.get("msg") == "poll failed; will retry" and x.get("operation_id") == op_id]
    assert len(warned) == 11
    codes = {w["error_code"] for w in warned}
    assert {"UpstreamStatus429", "UpstreamStatus503", "UnparsableBody", "UnknownStatus",
            "Upstream_timeout"} <= codes, codes


def test_a_vanished_operation_ends_failed_expired(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    op_id = gw.submit(url="https://d/a.pdf?sim_duration=30s&sim_poll_faults=404").json()["operationId"]
    assert gw.wait_status(op_id) == "Failed"
    doc = gw.operation(op_id).json()
    assert doc["error"]["code"] == "Expired"
    r = gw.results(op_id)
    assert r.status == 500 and "no longer knows" in r.json()["message"]


def test_max_wait_ends_in_timeout(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--max-wait", "3s")
    op_id = gw.submit(url="https://d/a.pdf?sim_duration=60s").json()["operationId"]
    assert gw.wait_status(op_id, timeout=15) == "Failed"
    doc = gw.operation(op_id).json()
    assert doc["error"]["code"] == "Timeout"
    r = gw.results(op_id)
    assert r.status == 500 and "did not finish within 3s" in r.json()["message"]


def test_oversized_result_fails_clearly(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--max-result-size", "64KiB")
    op_id = gw.submit(url="https://d/a.pdf?sim_duration=0s&sim_result_bytes=200000").json()["operationId"]
    assert gw.wait_status(op_id) == "Failed"
    assert gw.operation(op_id).json()["error"]["code"] == "ResultTooLarge"
    ok = gw.submit(url="https://d/b.pdf?sim_duration=0s&sim_result_bytes=30000").json()["operationId"]
    assert gw.wait_status(ok) == "Succeeded"
    assert gw.results(ok).body == sim.final_body(ok).body


def test_polls_are_bounded_in_flight_and_in_rate(procs):
    sim = procs.sim("--latency", "400ms")
    gw = procs.gateway(sim, "--max-inflight-polls", "3", "--upstream-rps", "5", "--poll-interval", "200ms",
                       "--submit-timeout", "5s")
    ids = [gw.submit(url=f"https://d/{i}.pdf?sim_duration=3s").json()["operationId"] for i in range(12)]
    for op_id in ids:
        assert gw.wait_status(op_id, timeout=60) == "Succeeded"
    stats = sim.stats()
    assert stats["max_inflight"] <= 3
    assert stats["overlaps"] == 0
    times = sorted(t for op_id in ids for t in _abs_times(sim, op_id))
    # The token bucket holds 5 tokens and refills 5/s: no 1-second window sees more than 10.
    worst = max(sum(1 for t in times if s <= t < s + 1000) for s in times)
    assert worst <= 10, worst


def _abs_times(sim, op_id):
    st = sim.op_stats(op_id)
    return [st["created_ms"] + o for o in st["poll_offsets_ms"]]
