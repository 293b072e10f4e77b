#!/usr/bin/env python3
"""Benchmark 5: completion to client.

N operations with durations spread over a few seconds. For lrogate a client
long-polls each one (`Prefer: wait=30` on /operations/{id}); for the original
design a client polls its results route once a second (its own rate limit).
Latency = the moment the client holds the final 200 − the moment the
simulator received the poll that found the operation done (so the poll
schedule's own delay — how long after completion the next upstream poll
comes — is taken out). The simulator records every poll's time.

    python3 bench/completion_latency.py [--ops 100] [--postgres postgresql://...]

--postgres adds two replicas on that database: A polls the upstream, B
(`--max-inflight-polls 0`) never does; the client submits to A and
long-polls B, so every answer it gets is a completion A wrote, heard by B
through the store's change feed.
"""
import argparse
import json
import os
import random
import sys
import threading
import time

from harness import KEY, Procs, free_port, get, percentile, post, wait_http

SEED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared",
                    "peers", "seed_gateway")


def done_seen_at(sim, op_id):
    """Epoch ms of the upstream poll that found the operation finished."""
    st = json.loads(get(f"{sim}/_sim/operations/{op_id}")[1])
    return st["created_ms"] + st["poll_offsets_ms"][-1]


def run(submit, wait_done, ops, rng):
    ids = [submit(f"https://docs.example/c{i}.pdf?sim_duration={rng.randint(1500, 6000)}ms")
           for i in range(ops)]
    held = {}

    def client(op_id):
        wait_done(op_id)
        held[op_id] = time.time() * 1000

    threads = [threading.Thread(target=client, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return ids, held


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ops", type=int, default=100)
    ap.add_argument("--postgres", help="a PostgreSQL URL: also measure replica A → replica B")
    args = ap.parse_args()
    procs = Procs()
    rows = []
    try:
        _, sim = procs.sim()
        _, gw = procs.gateway(sim, "--poll-interval", "1s", "--upstream-rps", "0",
                              "--client-poll-rate", "0")

        def gw_submit(url):
            return post(f"{gw}/pro-mode/content-analyzers/pro-demo:analyze",
                        {"url": url})["operationId"]

        def gw_wait(op_id):
            while True:
                status, body = get(f"{gw}/operations/{op_id}", {"Prefer": "wait=30"})
                if status == 200 and json.loads(body)["status"] in ("Succeeded", "Failed"):
                    return

        ids, held = run(gw_submit, gw_wait, args.ops, random.Random(5))
        lat = [held[i] - done_seen_at(sim, i) for i in ids]
        rows.append(("lrogate, long-poll (Prefer: wait=30)", lat))

        if args.postgres:
            _, gw_a = procs.gateway(sim, "--poll-interval", "1s", "--upstream-rps", "0",
                                    "--client-poll-rate", "0", store=args.postgres, name="a")
            _, gw_b = procs.gateway(sim, "--max-inflight-polls", "0", "--client-poll-rate", "0",
                                    store=args.postgres, name="b")

            def a_submit(url):
                return post(f"{gw_a}/pro-mode/content-analyzers/pro-demo:analyze",
                            {"url": url})["operationId"]

            def b_wait(op_id):
                while True:
                    status, body = get(f"{gw_b}/operations/{op_id}", {"Prefer": "wait=30"})
                    if status == 200 and json.loads(body)["status"] in ("Succeeded", "Failed"):
                        return

            ids, held = run(a_submit, b_wait, args.ops, random.Random(6))
            lat = [held[i] - done_seen_at(sim, i) for i in ids]
            rows.append(("lrogate on PostgreSQL: replica A polls, the client long-polls replica B", lat))

        if os.path.exists(os.path.join(SEED, "seed_gateway.py")):
            port = free_port()
            procs.start(["/usr/bin/python3", "-m", "uvicorn", "seed_gateway:app", "--host", "127.0.0.1",
                         "--port", str(port), "--log-level", "warning"], "seed", cwd=SEED,
                        env={"UPSTREAM": sim, "UPSTREAM_KEY": KEY, "POLL_INTERVAL": "1"})
            seed = f"http://127.0.0.1:{port}"
            wait_http(f"{seed}/docs")

            def seed_submit(url):
                return post(f"{seed}/pro-mode/content-analyzers/pro-demo:analyze",
                            {"url": url})["operationId"]

            def seed_wait(op_id):
                while True:
                    status, _ = get(f"{seed}/pro-mode/content-analyzers/pro-demo/results/{op_id}")
                    if status in (200, 500):
                        return
                    time.sleep(1.0)

            ids, held = run(seed_submit, seed_wait, args.ops, random.Random(5))
            lat = [held[i] - done_seen_at(sim, i) for i in ids]
            rows.append(("original design, client polling 1/s (its limit)", lat))

        print(f"{args.ops} operations, durations 1.5-6 s, gateway poll interval 1 s\n")
        print("| client | p50 ms | p99 ms | max ms |")
        print("|---|---|---|---|")
        for name, lat in rows:
            print(f"| {name} | {percentile(lat, 50):.1f} | {percentile(lat, 99):.1f} | {max(lat):.1f} |")
    finally:
        procs.close()


if __name__ == "__main__":
    sys.exit(main())
