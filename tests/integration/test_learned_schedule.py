"""Learned poll schedules (docs/design.md, "Learned poll schedules"): once an
analyzer has enough completions, its analyses are polled where they may have
finished, not every --poll-interval; the history is in the store, so a
restart keeps it; --poll-schedule fixed polls as before."""
import concurrent.futures
import re

from conftest import request
from test_pool import metric, metrics

WARM_UP = 20  # the schedule's min_samples


def submit_and_finish(gw, analyzer, n, tag):
    """Submits n analyses of `analyzer` at once and waits for them all to
    succeed; their operation ids."""
    def one(i):
        r = gw.submit(url=f"https://docs.example/{tag}-{i}.pdf", analyzer=analyzer)
        assert r.status == 202, r.body
        return r.json()["operationId"]
    with concurrent.futures.ThreadPoolExecutor(n) as ex:
        ids = list(ex.map(one, range(n)))
    for op in ids:
        assert gw.wait_status(op, timeout=60) == "Succeeded"
    return ids


def polls(sim, ids):
    return sorted(sim.op_stats(op)["polls"] for op in ids)


def learned(gw, *analyzers):
    q = "&".join(f"analyzer={a}" for a in analyzers)
    return request(gw.base, "GET", f"/learned-durations?{q}")


def test_a_warmed_analyzer_is_polled_fewer_times_than_a_cold_one_and_a_restart_keeps_it(procs):
    # Every analysis takes 6 s; the gateway polls every 1 s (the fixture's).
    sim = procs.sim("--duration", "6s", "--analyzers", "warm,cold")
    gw = procs.gateway(sim)
    warm_up = submit_and_finish(gw, "warm", WARM_UP, "warm-up")
    cold_polls = polls(sim, warm_up)
    # The fixed schedule: 1 s, 2 s, … until done (fewer when its timers run
    # late, as under ASan: the comparisons below are between schedules).
    assert min(cold_polls) >= 3

    r = learned(gw, "warm", "cold")
    assert r.status == 200
    body = r.json()
    assert body["schedule"] == "learned"
    [entry] = body["value"]  # nothing learned of "cold" yet
    assert entry["analyzerId"] == "warm" and entry["samples"] == WARM_UP
    assert 4.5 <= entry["medianSeconds"] <= 7.5, entry
    m = metrics(gw)
    assert metric(m, "lrogate_learned_duration_samples", analyzer="warm") == WARM_UP
    assert metric(m, "lrogate_polls_per_operation_count", analyzer="warm") == WARM_UP

    warm = submit_and_finish(gw, "warm", 5, "warm")
    cold = submit_and_finish(gw, "cold", 5, "cold")
    warm_polls, cold_now = polls(sim, warm), polls(sim, cold)
    print("polls: warm", warm_polls, "cold", cold_now)
    assert max(warm_polls) < min(cold_now)
    # Exact results either way.
    for op in warm[:2] + cold[:2]:
        res = gw.results(op, analyzer="warm" if op in warm else "cold")
        assert res.status == 200 and res.body == sim.final_body(op).body

    # The history is in the store: a restarted gateway polls warm at once.
    store = f"sqlite:{procs.tmp / 'gw.db'}"
    gw.stop()
    gw2 = procs.gateway(sim, name="gw2", store=store)
    after = submit_and_finish(gw2, "warm", 5, "after-restart")
    assert max(polls(sim, after)) < min(cold_now), polls(sim, after)
    gw2.stop()

    # --poll-schedule fixed: learned, not used.
    gw3 = procs.gateway(sim, "--poll-schedule", "fixed", name="gw3", store=store)
    assert learned(gw3, "warm").json()["schedule"] == "fixed"
    fixed = submit_and_finish(gw3, "warm", 5, "fixed")
    assert min(polls(sim, fixed)) > max(polls(sim, after)), polls(sim, fixed)


def test_learned_durations_refuses_bad_queries(procs):
    sim = procs.sim()
    gw = procs.gateway(sim)
    for query, code in [("", "MissingAnalyzer"), ("analyzer=a%20b", "InvalidAnalyzerId"),
                        ("top=3", "InvalidQuery"),
                        ("&".join(f"analyzer=a{i}" for i in range(21)), "TooManyAnalyzers")]:
        r = request(gw.base, "GET", "/learned-durations?" + query)
        assert r.status == 400, (query, r.body)
        assert r.json()["error"]["code"] == code, (query, r.body)
    # Twenty are fine, and an analyzer nothing is known of is simply absent.
    r = request(gw.base, "GET", "/learned-durations?" + "&".join(f"analyzer=a{i}" for i in range(20)))
    assert r.status == 200 and r.json()["value"] == []
    assert re.search(r"lrogate_learned_duration", metrics(gw)) is None  # nothing learned yet
