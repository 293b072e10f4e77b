"""The poller on two shards (--poller-shards 2): every operation is completed
exactly once, never polled by two shards at once (the simulator counts
overlapping polls), and polled no more than ceil(duration/interval) + 1
times; a drain with polls in flight on both shards hands every lease back,
and the next start finishes the rest, still once each."""
import collections
import time

from conftest import request

N = 120


def _finals(gw):
    """{operation id: [final states logged]} from the gateway's log."""
    out = collections.defaultdict(list)
    for r in gw.records():
        if r.get("msg") == "state" and r.get("to") in ("Succeeded", "Failed", "Canceled"):
            out[r["operation_id"]].append(r["to"])
    return out


def _wait_all(gws, ids, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        finals = collections.defaultdict(list)
        for gw in gws:
            for op_id, states in _finals(gw).items():
                finals[op_id] += states
        if all(op_id in finals for op_id in ids):
            return finals
        time.sleep(0.2)
    missing = [i for i in ids if i not in finals]
    raise AssertionError(f"{len(missing)} of {len(ids)} not final after {timeout}s")


def _submit(gw, n, tag):
    ids = []
    for i in range(n):
        r = gw.submit(url=f"https://d/{tag}{i}.pdf?sim_duration={1 + i % 4}s")
        assert r.status == 202, r.body
        ids.append(r.json()["operationId"])
    return ids


def test_two_shards_complete_every_operation_once_within_the_poll_budget(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, "--poller-shards", "2", "--max-inflight-polls", "16",
                       "--upstream-rps", "0", "--client-poll-rate", "0")
    assert gw.wait_record("listening")["poller_shards"] == 2
    ids = _submit(gw, N, "a")
    finals = _wait_all([gw], ids)
    assert all(finals[i] == ["Succeeded"] for i in ids), {i: finals[i] for i in ids if finals[i] != ["Succeeded"]}
    stats = request(sim.base, "GET", "/_sim/stats?interval=1000").json()
    assert stats["finished_seen"] == N
    assert stats["over_poll_budget"] == 0, stats
    assert stats["overlaps"] == 0
    assert stats["max_inflight"] <= 16
    for op_id in ids[:5]:
        assert gw.results(op_id).body == sim.final_body(op_id).body
    assert "poll outcome not recorded" not in gw.text()


def test_a_drain_on_two_shards_hands_every_lease_back(procs, tmp_path):
    sim = procs.sim("--latency", "200ms")
    store = f"sqlite:{tmp_path / 'shards.db'}"
    first = procs.gateway(sim, "--poller-shards", "2", "--max-inflight-polls", "8",
                          "--upstream-rps", "0", "--client-poll-rate", "0", store=store, name="first")
    ids = _submit(first, 40, "b")
    time.sleep(2.5)  # both shards have polls in flight and work queued
    assert first.stop() == 0
    log = first.text()
    assert "polls still in flight at exit" not in log
    assert "stopped" in log
    second = procs.gateway(sim, "--poller-shards", "2", "--max-inflight-polls", "8",
                           "--upstream-rps", "0", "--client-poll-rate", "0", store=store,
                           name="second")
    # Every lease came back at the drain: nothing was left for the next start to free.
    assert second.wait_record("poller started").get("leases_freed") == 0
    finals = _wait_all([first, second], ids)
    assert all(finals[i] == ["Succeeded"] for i in ids), {i: finals[i] for i in ids if finals[i] != ["Succeeded"]}
    assert sim.stats()["overlaps"] == 0
