#!/usr/bin/env python3
"""Benchmark 6: recovery after kill -9.

N operations (default 10,000) in flight on the SQLite store, long durations.
The gateway is killed with kill -9, stays down one poll interval (so every
operation is due when it comes back), and is restarted on the same store.
Measured: time from the restart (process start) to the gateway answering,
and to every operation having been polled again upstream (the simulator's
count of operations polled since the restart).

    python3 bench/recovery.py [--ops 10000] [--rounds 3]
"""
import argparse
import json
import statistics
import sys
import time

from harness import Procs, get, http_post_bytes, run_open_loop, wait_http

FLAGS = ["--poll-interval", "5s", "--upstream-rps", "0", "--max-inflight-polls", "256",
         "--max-wait", "2h", "--client-poll-rate", "0"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ops", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    procs = Procs()
    try:
        _, sim = procs.sim("--duration", "2h")
        store = f"sqlite:{procs.dir}/recovery.db"
        gw_proc, gw = procs.gateway(sim, *FLAGS, store=store, name="gw-0")
        host, port = gw.split("//")[1].split(":")
        path = "/pro-mode/content-analyzers/pro-demo:analyze"
        results, _ = run_open_loop(
            host, int(port),
            lambda i: http_post_bytes(f"{host}:{port}", path,
                                      {"url": f"https://docs.example/r{i}.pdf?sim_duration=2h"}),
            rate=1000, seconds=args.ops / 1000)
        accepted = sum(1 for r in results if r[1] == 202)
        if accepted != args.ops:
            raise SystemExit(f"only {accepted} of {args.ops} submits were accepted")
        time.sleep(6)  # every operation polled at least once: steady state
        rows = []
        for rnd in range(args.rounds):
            gw_proc.kill()  # SIGKILL
            gw_proc.wait()
            time.sleep(5)  # one poll interval: everything is due at the restart
            started = time.time()
            gw_proc = procs.start([a for a in gw_proc.args], f"gw-{rnd + 1}",
                                  env={"AZURE_CU_KEY": "bench-key"})
            wait_http(f"{gw}/healthz")
            answering = time.time() - started
            since = int(started * 1000)
            deadline = started + 120
            while time.time() < deadline:
                polled = json.loads(get(f"{sim}/_sim/stats?since={since}")[1])["polled_since"]
                if polled >= args.ops:
                    break
                time.sleep(0.05)
            all_polled = time.time() - started
            rows.append((answering, all_polled, polled))
        print(f"{args.ops:,} operations in flight, SQLite store, kill -9, down 5 s, restart; "
              f"{args.rounds} rounds\n")
        print("| round | answering HTTP after | every operation polled again after |")
        print("|---|---|---|")
        for i, (a, p, n) in enumerate(rows):
            print(f"| {i + 1} | {a:.2f} s | {p:.2f} s ({n:,} polled) |")
        print(f"\nmedian: answering {statistics.median(r[0] for r in rows):.2f} s, "
              f"all polled {statistics.median(r[1] for r in rows):.2f} s")
    finally:
        procs.close()


if __name__ == "__main__":
    sys.exit(main())
