"""Crash cycles: ~200 operations in flight, the gateway killed with kill -9 at
random moments 20 times and restarted on the same store. Every submitted
operation ends with its correct result, none is lost or duplicated, and the
simulator never sees two concurrent polls of one operation."""
import json
import os
import random
import time

from conftest import request

OPS = 200
CYCLES = 20


def submit_until_accepted(gw_ref, key, url, deadline):
    """A client that retries with its Idempotency-Key until it gets a 202."""
    while time.time() < deadline:
        gw = gw_ref[0]
        try:
            r = gw.submit(url=url, headers={"Idempotency-Key": key}, timeout=5)
            if r.status == 202:
                return r.json()["operationId"]
            if r.status in (409, 503):
                time.sleep(0.2)
                continue
            raise AssertionError(f"submit {key}: {r.status} {r.body[:200]}")
        except (ConnectionError, OSError):
            time.sleep(0.05)  # the gateway is down: retry on the next one
    raise AssertionError(f"submit {key} never accepted")


def test_kill9_twenty_times_with_200_operations_in_flight(procs):
    rng = random.Random(20261129)
    sim = procs.sim("--latency", "20ms")
    store = f"sqlite:{procs.tmp / 'crash.db'}"
    flags = ["--poll-interval", "500ms", "--upstream-rps", "0", "--max-inflight-polls", "64",
             "--client-poll-rate", "0", "--max-wait", "5m"]
    gw_ref = [procs.gateway(sim, *flags, store=store, name="gw-0")]
    ids = {}
    deadline = time.time() + 240
    per_cycle = OPS // CYCLES
    n = 0
    for cycle in range(CYCLES):
        for _ in range(per_cycle):
            key = f"doc-{n}"
            url = f"https://docs.example/{key}.pdf?sim_duration={rng.randint(3, 30)}s"
            ids[key] = submit_until_accepted(gw_ref, key, url, deadline)
            n += 1
            if rng.random() < 0.05:
                break  # sometimes kill right in the middle of a burst of submits
        time.sleep(rng.uniform(0.05, 1.5))
        gw_ref[0].kill9()
        time.sleep(0.1)  # let the simulator answer the dead process's last polls
        gw_ref[0] = procs.gateway(sim, *flags, store=store, name=f"gw-{cycle + 1}")
    # Submit whatever the early kills cut short, on the last gateway.
    while n < OPS:
        key = f"doc-{n}"
        ids[key] = submit_until_accepted(gw_ref, key, f"https://docs.example/{key}.pdf?sim_duration=3s", deadline)
        n += 1
    gw = gw_ref[0]
    assert len(set(ids.values())) == OPS  # one operation per logical submit

    # Wait until every operation is final.
    while time.time() < deadline:
        listed = request(gw.base, "GET", "/operations?status=Succeeded&top=1000").json()["value"]
        if len(listed) >= OPS:
            break
        time.sleep(1)
    succeeded = {o["id"] for o in request(gw.base, "GET", "/operations?status=Succeeded&top=1000").json()["value"]}
    everything = {o["id"] for o in request(gw.base, "GET", "/operations?top=1000").json()["value"]}
    assert succeeded == set(ids.values()), (len(succeeded), len(everything))
    assert everything == set(ids.values())  # nothing extra: no duplicates

    for key, op_id in ids.items():
        r = gw.results(op_id)
        assert r.status == 200, (key, r.status)
        assert r.body == sim.final_body(op_id).body
        fields = json.loads(r.body)["result"]["contents"][0]["fields"]
        assert fields["Checksum"]["valueString"] == sim.op_stats(op_id)["checksum"]
        assert fields["Source"]["valueString"].startswith(f"https://docs.example/{key}.pdf")
    assert sim.stats()["overlaps"] == 0
    stats = sim.stats()
    report = {"operations": OPS, "kills": CYCLES, "upstream_polls": stats["polls"],
              "upstream_submits": stats["submits"], "overlapping_polls": stats["overlaps"]}
    out_dir = os.environ.get("LROGATE_REPORT_DIR")
    if out_dir:
        os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, "crash-cycles.json"), "w") as f:
            json.dump(report, f)
