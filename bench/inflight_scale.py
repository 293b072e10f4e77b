#!/usr/bin/env python3
"""Benchmark 4: 100,000 operations in flight on one node.

Submits N operations (default 100,000) against the simulator with durations
spread over minutes and a 10 s poll interval, then follows them to the end.
Measured:
  - gateway RSS per operation in flight, beyond the empty process (results
    excluded: measured before the first one finishes);
  - gateway CPU time per upstream poll, and the simulator's, over a steady
    window;
  - poll lag p99 from the gateway's own histogram (a poll being due → its
    outcome recorded);
  - the simulator's count of operations that took more than
    ceil(duration / interval) + 1 polls.

    python3 bench/inflight_scale.py [--ops 100000] [--rate 2000]
        [--reference-bin PATH] [--gateway-arg=--poller-shards=2 ...]
        [--variant='--poller-shards 1'] [--skip-follow] [--perf-out DIR] [--settle S]

--reference-bin measures another build (e.g. the commit before) in the same
invocation, first, with the same settings and its own simulator; the table
then has one column per build. --gateway-arg adds a flag to the measured
build only (the reference may not know it). --skip-follow stops after the
steady window (the poll-budget row then counts only what finished so far).
--variant adds a run of the measured build with other flags (say
--variant='--poller-shards 1'), after the others.
--perf-out records `perf record -e cpu-clock -g` of each gateway during the
steady window into DIR/<build>.perf.data, and its /metrics at the window's
end into DIR/<build>.metrics.txt. --settle S opens the steady window S
seconds later (the burst's backlog drained); the table shows the window's
lag p99 per 5 s slice either way.
"""
import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import time

from harness import BIN, Procs, cpu_seconds, get, http_post_bytes, rss_kib, run_open_loop

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


def measure(binary, label, args, extra):
    """One build's run: its own simulator, gateway and store. A dict of figures."""
    procs = Procs(binary)
    try:
        sim_proc, sim = procs.sim()
        gw_proc, gw = procs.gateway(sim, "--poll-interval", f"{INTERVAL_S}s", "--upstream-rps", "0",
                                    "--max-inflight-polls", "256", "--max-wait", "1h",
                                    "--client-poll-rate", "0", *extra)
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
            raise SystemExit(f"{label}: only {accepted} of {args.ops} submits were accepted")
        time.sleep(2)
        rss_full = rss_kib(gw_proc.pid)
        # The backlog the submit burst left may still be draining: --settle
        # waits before the window opens.
        time.sleep(args.settle)
        # A steady window: everything submitted, nothing finished yet.
        window = min(30, max(5, args.min_duration - submit_s - 5 - args.settle))
        perf = None
        if args.perf_out:
            os.makedirs(args.perf_out, exist_ok=True)
            perf = subprocess.Popen(
                ["perf", "record", "-e", "cpu-clock", "-g", "-p", str(gw_proc.pid), "-o",
                 os.path.join(args.perf_out, f"{label}.perf.data")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        polls0 = json.loads(get(f"{sim}/_sim/stats")[1])["polls"]
        cpu0, sim_cpu0 = cpu_seconds(gw_proc.pid), cpu_seconds(sim_proc.pid)
        lag0 = lag_buckets(gw)
        # The window in 5 s slices, each with its own lag p99: whether the
        # window is steady, or still paying for the burst, shows.
        slices, prev, left = [], lag0, window
        while left > 0:
            step = min(5, left)
            time.sleep(step)
            left -= step
            now = lag_buckets(gw)
            slices.append(lag_p99(now, prev)[0])
            prev = now
        polls1 = json.loads(get(f"{sim}/_sim/stats")[1])["polls"]
        cpu1, sim_cpu1 = cpu_seconds(gw_proc.pid), cpu_seconds(sim_proc.pid)
        steady_p99, steady_n = lag_p99(lag_buckets(gw), lag0)
        if perf:
            perf.send_signal(signal.SIGINT)
            perf.wait(60)
            with open(os.path.join(args.perf_out, f"{label}.metrics.txt"), "w") as f:
                f.write(get(f"{gw}/metrics")[1].decode())
        if not args.skip_follow:
            # Follow every operation to its end.
            deadline = time.time() + args.max_duration + 120
            while time.time() < deadline:
                st = json.loads(get(f"{sim}/_sim/stats?interval={INTERVAL_S * 1000}")[1])
                if st["finished_seen"] >= args.ops:
                    break
                time.sleep(2)
        st = json.loads(get(f"{sim}/_sim/stats?interval={INTERVAL_S * 1000}")[1])
        p99, lag_n = lag_p99(lag_buckets(gw))
        polls = max(1, polls1 - polls0)
        return {
            "submit_rate": args.ops / submit_s,
            "rss_empty": rss_empty, "rss_full": rss_full,
            "per_op": (rss_full - rss_empty) * 1024 / args.ops,
            "window": window, "polls": polls1 - polls0,
            "per_poll_us": (cpu1 - cpu0) / polls * 1e6,
            "sim_per_poll_us": (sim_cpu1 - sim_cpu0) / polls * 1e6,
            "gw_cores": (cpu1 - cpu0) / window, "sim_cores": (sim_cpu1 - sim_cpu0) / window,
            "steady_p99": steady_p99, "steady_n": steady_n, "p99": p99, "lag_n": lag_n,
            "slices": slices,
            "over": st["over_poll_budget"], "finished": st["finished_seen"],
            "most": st["most_polls"], "overlaps": st["overlaps"],
        }
    finally:
        procs.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ops", type=int, default=100_000)
    ap.add_argument("--rate", type=float, default=2000)
    ap.add_argument("--min-duration", type=int, default=120)
    ap.add_argument("--max-duration", type=int, default=300)
    ap.add_argument("--reference-bin", help="another lrogate binary, measured first in this run")
    ap.add_argument("--gateway-arg", action="append", default=[],
                    help="an extra flag for the measured build's gateway (repeatable; "
                         "write --gateway-arg=--flag=value)")
    ap.add_argument("--variant", action="append", default=[],
                    help="one more run of the measured build with these flags (one string, "
                         "split on spaces; repeatable), e.g. --variant='--poller-shards 1'")
    ap.add_argument("--skip-follow", action="store_true",
                    help="stop after the steady window instead of following every operation")
    ap.add_argument("--perf-out", help="a folder for perf recordings of the steady window")
    ap.add_argument("--settle", type=float, default=0,
                    help="seconds to wait after the submits (and the 2 s after them) before "
                         "the steady window opens")
    args = ap.parse_args()
    runs = []
    if args.reference_bin:
        runs.append(("reference", measure(args.reference_bin, "reference", args, [])))
    runs.append(("measured", measure(BIN, "measured", args, args.gateway_arg)))
    for i, v in enumerate(args.variant):
        runs.append((f"measured {v}", measure(BIN, f"variant{i + 1}", args, v.split())))
    print(f"{args.ops:,} operations, durations {args.min_duration}-{args.max_duration} s, "
          f"poll interval {INTERVAL_S} s; window opened {2 + args.settle:.0f} s after the "
          f"submits; measured build's extra flags: "
          f"{' '.join(args.gateway_arg) or 'none'}\n")
    print("| measure | " + " | ".join(name for name, _ in runs) + " | goal |")
    print("|---|" + "---|" * len(runs) + "---|")

    def row(what, fmt, goal="—"):
        print(f"| {what} | " + " | ".join(fmt(r) for _, r in runs) + f" | {goal} |")

    row("submitted at", lambda r: f"{r['submit_rate']:,.0f}/s")
    row("RSS per operation in flight (beyond the empty process)",
        lambda r: f"{r['per_op']:,.0f} B ({r['rss_empty'] / 1024:.1f} → {r['rss_full'] / 1024:.1f} MiB)",
        "≤ 2,048 B")
    row("upstream polls in the steady window", lambda r: f"{r['polls']:,} in {r['window']:.0f} s "
        f"({r['polls'] / r['window']:,.0f}/s)")
    row("gateway CPU per upstream poll", lambda r: f"{r['per_poll_us']:.0f} µs")
    row("simulator CPU per upstream poll", lambda r: f"{r['sim_per_poll_us']:.0f} µs")
    row("cores used: gateway / simulator", lambda r: f"{r['gw_cores']:.2f} / {r['sim_cores']:.2f}")
    row("poll lag p99 in the steady window (due → outcome recorded; histogram bucket)",
        lambda r: f"≤ {r['steady_p99'] * 1000:.0f} ms ({r['steady_n']:,} polls)", "≤ 100 ms")
    row("poll lag p99 by 5 s slice of the steady window (ms)",
        lambda r: " ".join(f"{b * 1000:.0f}" for b in r["slices"]))
    row("poll lag p99 over the whole run, submit burst included",
        lambda r: f"≤ {r['p99'] * 1000:.0f} ms ({r['lag_n']:,} polls)")
    row("operations over ceil(duration/interval)+1 polls",
        lambda r: f"{r['over']:,} of {r['finished']:,} finished (most polls: {r['most']})", "0")
    row("simulator: overlapping polls", lambda r: f"{r['overlaps']}", "0")


if __name__ == "__main__":
    sys.exit(main())
