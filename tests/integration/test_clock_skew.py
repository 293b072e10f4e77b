"""Replicas whose clocks differ by minutes, on one PostgreSQL store (issue 15,
item 6): times written by one replica and judged by another — due times,
leases, --max-wait, TTLs — are all on the database's clock, so a replica
two minutes ahead or behind neither fails the others' operations early nor
takes a lease another replica still holds.

The skewed replica runs under Debian's libfaketime (package faketime),
preloaded: its wall clock (clock_gettime(CLOCK_REALTIME), time(), ...) is
shifted; its monotonic clock, which only times intervals, is not."""
import os

import pytest

from test_replicas import REPLICA_FLAGS

FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"

def skewed_env(offset):
    # scripts/install-deps.sh --test installs it; a missing one is a failure,
    # not a skip.
    assert os.path.exists(FAKETIME_LIB), "libfaketime missing: apt-get install faketime"
    env = {"LD_PRELOAD": FAKETIME_LIB, "FAKETIME": offset, "FAKETIME_DONT_FAKE_MONOTONIC": "1",
           "FAKETIME_NO_CACHE": "1"}
    # Under AddressSanitizer the preload comes before ASan's runtime, which
    # ASan refuses unless told that this is intended.
    asan = os.environ.get("ASAN_OPTIONS")
    if asan is not None:
        env["ASAN_OPTIONS"] = asan + ":verify_asan_link_order=0"
    return env


@pytest.mark.parametrize("offset", ["+120s", "-120s"])
def test_a_replica_minutes_off_the_others_neither_fails_nor_double_polls(procs, pg_url, offset):
    sim = procs.sim()
    # --max-wait 1m: judged by the skewed replica's own clock, the others'
    # operations would be two minutes old (+120 s) at once; and a lease of
    # 3 s would look lapsed to it (+120 s) or far from lapsing to the others
    # (-120 s).
    flags = [*REPLICA_FLAGS, "--max-wait", "1m"]
    normal = procs.gateway(sim, *flags, store=pg_url, name="normal")
    skewed = procs.gateway(sim, *flags, store=pg_url, name="skewed", env=skewed_env(offset))
    # The skew is real: the skewed replica's own log lines carry its clock.
    rec = skewed.wait_record("listening")
    assert rec
    ops = []
    for i in range(30):
        gw = (normal, skewed)[i % 2]
        r = gw.submit(url=f"https://docs.example/skew{i}.pdf?sim_duration={2 + i % 4}s")
        assert r.status == 202, r.body
        ops.append(r.json()["operationId"])
    for i, op_id in enumerate(ops):
        # Fetched at the other replica than the one that took the submit.
        final = (skewed, normal)[i % 2].wait_final(op_id, timeout=60)
        assert final.status == 200, (op_id, final.body)
        assert final.body == sim.final_body(op_id).body
    stats = sim.stats()
    assert stats["overlaps"] == 0, stats
    assert stats["submits"] == 30
    # The skewed replica measured how far off it is, and said so.
    offsets = [r for r in skewed.records() if r.get("msg") == "clock offset from the database"]
    assert offsets, "the skewed replica logged no clock offset"
    measured_s = offsets[0]["offset_ms"] / 1000
    expected_s = -120 if offset.startswith("+") else 120
    assert abs(measured_s - expected_s) < 5, offsets[0]
