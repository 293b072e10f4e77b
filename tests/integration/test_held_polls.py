"""Polls that change nothing write (almost) nothing (issue 16, item 3): the
shard holds an operation in memory between polls under its lease and renews
leases in batches, so a still-Running answer costs a fraction of a row."""
import sqlite3
import time

import pytest

from conftest import request
from test_pool import metric, metrics

# Polls 5 a second, lease 6 s: the heartbeat (every 2 s) renews a held
# lease about every 4 s, one row per ~20 unchanged polls.
FLAGS = ("--poll-interval", "200ms", "--lease", "6s", "--upstream-timeout", "2s",
         "--poll-schedule", "fixed")


def writes(gw):
    text = metrics(gw)
    return ({w: metric(text, "lrogate_store_writes_total", write=w) or 0
             for w in ("insert", "claim", "progress", "transition", "renew", "finish")},
            metric(text, "lrogate_polls_unchanged_total") or 0)


def run_ops(procs, store, n=4, duration="6s"):
    sim = procs.sim()
    gw = procs.gateway(sim, *FLAGS, store=store)
    ids = [gw.submit(url=f"https://d/{i}.pdf?sim_duration={duration}").json()["operationId"]
           for i in range(n)]
    for op_id in ids:
        assert gw.wait_status(op_id, timeout=60) == "Succeeded"
    return sim, gw, ids


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_unchanged_polls_write_well_under_one_row_each(procs, request_store, backend):
    store = request_store(backend)
    sim, gw, ids = run_ops(procs, store)
    w, unchanged = writes(gw)
    polls = sum(sim.op_stats(i)["polls"] for i in ids)
    assert unchanged >= 10 * len(ids), (unchanged, polls)
    # Rows written for polls that changed nothing: their progress writes
    # and the lease renewals (claims beyond the first two of each
    # operation, before and after its NotStarted -> Running write, too).
    extra_claims = max(0, w["claim"] - 2 * len(ids))
    per_poll = (w["progress"] + w["renew"] + extra_claims) / unchanged
    assert per_poll <= 0.5, (w, unchanged, polls)
    assert w["finish"] == len(ids) and w["insert"] == len(ids), w


def test_held_polls_are_counted_exactly_when_written(procs, tmp_path):
    db = tmp_path / "held.db"
    sim, gw, ids = run_ops(procs, f"sqlite:{db}", n=2)
    # One more, still running when the gateway stops: its held polls are
    # written at stop.
    running = gw.submit(url="https://d/long.pdf?sim_duration=60s").json()["operationId"]
    deadline = time.time() + 30
    while sim.op_stats(running)["polls"] < 8 and time.time() < deadline:
        time.sleep(0.2)
    gw.stop()
    con = sqlite3.connect(str(db))
    try:
        for op_id in ids + [running]:
            (count,) = con.execute("SELECT poll_count FROM operations WHERE id = ?",
                                   (op_id,)).fetchone()
            assert count == sim.op_stats(op_id)["polls"], op_id
    finally:
        con.close()


def test_a_cancel_while_held_stops_its_polls(procs):
    sim = procs.sim()
    gw = procs.gateway(sim, *FLAGS)
    op_id = gw.submit(url="https://d/c.pdf?sim_duration=60s").json()["operationId"]
    deadline = time.time() + 30
    while sim.op_stats(op_id)["polls"] < 6 and time.time() < deadline:
        time.sleep(0.2)
    _, unchanged = writes(gw)
    assert unchanged >= 3  # held between polls when the cancel comes
    r = request(gw.base, "DELETE", f"/operations/{op_id}")
    assert r.status in (200, 202, 204), r.status
    time.sleep(1)
    after_cancel = sim.op_stats(op_id)["polls"]
    time.sleep(2)  # ten poll intervals: none comes
    assert sim.op_stats(op_id)["polls"] <= after_cancel + 1
    assert gw.operation(op_id).json()["status"] == "Canceled"


@pytest.fixture
def request_store(tmp_path, request):
    def make(backend):
        if backend == "sqlite":
            return f"sqlite:{tmp_path / 'gw.db'}"
        return request.getfixturevalue("pg_url")
    return make
