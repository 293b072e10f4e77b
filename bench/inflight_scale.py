#!/usr/bin/env python3
"""Benchmark 4: 100,000 operations in flight on one node.

Submits N operations (default 100,000) against the simulator with durations
spread over minutes and a 10 s poll interval, then follows them to the end.
Measured:
  - gateway RSS per operation in flight, beyond the empty process (results
    excluded: measured before the first one finishes);
  - gateway CPU time per upstream poll, over a steady window;
  - poll lag p99 from the gateway's own histogram (a poll being due → its
    outcome recorded);
  - the simulator's count of operations that took more than
    ceil(duration / interval) + 1 polls.

    python3 bench/inflight_scale.py [--ops 100000] [--rate 2000]
"""
import argparse
import json
import random
import re
import sys
import time

from harness import Procs, cpu_seconds, get, http_post_bytes, rss_kib, run_open_loop

INTERVAL_S = 10


def lag_buckets(gw):
    """The cumulative buckets of lrogate_poll_lag_seconds: {bound: count}."""
    text = get(f"{gw}/metrics")[1].decode()
    out = {}
    for m in re.finditer(r'lrogate_poll_lag_seconds_bucket\{le="([^"]+)"\} (\d+)', text):
        out[float("inf") if m.group(1) == "+Inf" else float(m.group(1))] = int(m.group(2))
    return out


def lag_p99(after, before=None):
    """p99 (the smallest bucket bound holding 99 %) of the polls between two snapshots."""
    delta = {b: c - (before or {}).get(b, 0) for b, c in after.items()}
    total = max(delta.values(), default=0)
    for bound, count in sorted(delta.items()):
        if total and count >= 0.99 * total:
            return bound, total
    return float("nan"), total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ops", type=int, default=100_000)
    ap.add_argument("--rate", type=float, default=2000)
    ap.add_argument("--min-duration", type=int, default=120)
    ap.add_argument("--max-duration", type=int, default=300)
    args = ap.parse_args()
    procs = Procs()
    try:
        sim_proc, sim = procs.sim()
        gw_proc, gw = procs.gateway(sim, "--poll-interval", f"{INTERVAL_S}s", "--upstream-rps", "0",
                                    "--max-inflight-polls", "256", "--max-wait", "1h",
                                    "--client-poll-rate", "0")
        time.sleep(1)
        rss_empty = rss_kib(gw_proc.pid)
        rng = random.Random(44)
        durations = [rng.randint(args.min_duration, args.max_duration) for _ in range(args.ops)]
        host, port = gw.split("//")[1].split(":")
        path = "/pro-mode/content-analyzers/pro-demo:analyze"
        t_submit = time.time()
        results, _ = run_open_loop(
            host, int(port),
            lambda i: http_post_bytes(f"{host}:{port}", path, {
                "url": f"https://docs.example/m{i}.pdf?sim_duration={durations[i]}s"}),
            rate=args.rate, seconds=args.ops / args.rate, connections=128)
        submit_s = time.time() - t_submit
        accepted = sum(1 for r in results if r[1] == 202)
        if accepted != args.ops:
            raise SystemExit(f"only {accepted} of {args.ops} submits were accepted")
        time.sleep(2)
        rss_full = rss_kib(gw_proc.pid)
        # A steady window: everything submitted, nothing finished yet.
        window = min(30, max(5, args.min_duration - submit_s - 5))
        polls0 = json.loads(get(f"{sim}/_sim/stats")[1])["polls"]
        cpu0 = cpu_seconds(gw_proc.pid)
        lag0 = lag_buckets(gw)
        time.sleep(window)
        polls1 = json.loads(get(f"{sim}/_sim/stats")[1])["polls"]
        cpu1 = cpu_seconds(gw_proc.pid)
        steady_p99, steady_n = lag_p99(lag_buckets(gw), lag0)
        # Follow every operation to its end.
        deadline = time.time() + args.max_duration + 120
        while time.time() < deadline:
            st = json.loads(get(f"{sim}/_sim/stats?interval={INTERVAL_S * 1000}")[1])
            if st["finished_seen"] >= args.ops:
                break
            time.sleep(2)
        st = json.loads(get(f"{sim}/_sim/stats?interval={INTERVAL_S * 1000}")[1])
        p99, lag_n = lag_p99(lag_buckets(gw))
        per_op = (rss_full - rss_empty) * 1024 / args.ops
        per_poll_us = (cpu1 - cpu0) / max(1, polls1 - polls0) * 1e6
        print(f"{args.ops:,} operations, durations {args.min_duration}-{args.max_duration} s, "
              f"poll interval {INTERVAL_S} s, submitted at {args.ops / submit_s:,.0f}/s\n")
        print("| measure | value | goal |")
        print("|---|---|---|")
        print(f"| RSS per operation in flight (beyond the empty process: "
              f"{rss_empty / 1024:.1f} MiB → {rss_full / 1024:.1f} MiB) | {per_op:,.0f} B | ≤ 2,048 B |")
        print(f"| gateway CPU per upstream poll ({polls1 - polls0:,} polls in {window:.0f} s, "
              f"{(polls1 - polls0) / window:,.0f}/s) | {per_poll_us:.0f} µs | — |")
        print(f"| poll lag p99 in the steady window (due → outcome recorded; {steady_n:,} polls) "
              f"| ≤ {steady_p99 * 1000:.0f} ms (histogram bucket) | ≤ 100 ms |")
        print(f"| poll lag p99 over the whole run, submit burst included ({lag_n:,} polls) "
              f"| ≤ {p99 * 1000:.0f} ms (histogram bucket) | — |")
        print(f"| operations over ceil(duration/interval)+1 polls | {st['over_poll_budget']:,} of "
              f"{st['finished_seen']:,} (most polls of one: {st['most_polls']}) | 0 |")
        print(f"| simulator: overlapping polls | {st['overlaps']} | 0 |")
    finally:
        procs.close()


if __name__ == "__main__":
    sys.exit(main())
