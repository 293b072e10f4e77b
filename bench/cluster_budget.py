#!/usr/bin/env python3
"""Benchmark 12: the budget shared by replicas (issue 15 item 4).

Benchmark 11's pool (bench/pool_throughput.py: four simulators, each
`simulate --analyze-rps 15 --duration 1h`, a pool file with
`limits.submits_per_second = 15` each) behind THREE gateways on one
PostgreSQL database (a throw-away server, scripts/pg-test-server.sh; a fresh
database for each run of a build), every replica with the same pool file.
harness.py's open-loop generator sends the analyze submits round-robin over
the three replicas (request i to replica i % 3, so each gets a third of the
schedule) at 100 % of the pool's quota (60/s) and then at 120 % (72/s), each
phase after a short warm-up at its rate, a pause between the phases.

Two builds, alternating within each round:
  head  this tree's build (--bin): since cac4f4f the replicas hold each
        limit together (upstream/shared_budget.h, places of 200 ms slots
        taken from PostgreSQL by the ledger);
  ref   --ref-bin, the build of b2ada90: each replica holds the limits
        alone, so three may send three times a resource's quota.

Per phase: 202s a second as a share of the quota (60/s); answers by status
(and each replica's 202s); the simulators' 429s (sum of throttled_analyze;
goal zero) and, per resource, the most admitted in any 1 s window
(max_analyze_1s; goal <= 15 + 3, the limit plus one slot); submit latency
p50/p99 (the 202s, from each request's scheduled send); the replicas'
lrogate_resource_shared_budget_total summed (places asked, granted; asks
that failed): with a slot of 3 places a slice is one place, so "asked" is
also the number of the ledger's round trips. Upstream counts cover the whole
phase (warm-up and the queue's drain included); client figures only the
measured requests.

    python3 bench/cluster_budget.py --ref-bin /work/ref-b2ada90/build/lrogate
        [--bin build/lrogate] [--seconds 30] [--over-seconds 60] [--warmup 3]
        [--submit-timeout 10] [--rounds 1] [--replicas 3] [--sim-analyze-rps 15]
        [--only head|ref ...]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid

from harness import BIN, ROOT, Procs, http_post_bytes, percentile, run_open_loop, wait_http
from pool_throughput import (DOC, LOAD, PATH, QUOTA, metric_sum, pool_file, retry_after, samples,
                             scrape, sim_reset, sim_stats, sustained)

RESOURCES = 4
SLOT = QUOTA // 5   # one slot's cap: what the cluster may send over the limit in 1 s
PG_SCRIPT = os.path.join(ROOT, "scripts", "pg-test-server.sh")


def psql(url, sql):
    subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql],
                   check=True, capture_output=True, text=True, timeout=60)


class PgServer:
    """A throw-away PostgreSQL server in a directory of /tmp (its user must
    reach it); stop() stops it and removes the directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="lrogate-bench-pg-", dir="/tmp")
        self.url = subprocess.run(["bash", PG_SCRIPT, "start", self.dir], check=True,
                                  capture_output=True, text=True, timeout=120).stdout.strip()

    def create_db(self):
        name = "lrogate_bench_" + uuid.uuid4().hex[:12]
        psql(self.url, f"CREATE DATABASE {name}")
        return name, self.url.rsplit("/", 1)[0] + "/" + name

    def drop_db(self, name):
        psql(self.url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self):
        try:
            subprocess.run(["bash", PG_SCRIPT, "stop", self.dir], check=True, timeout=60)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def budget(m0s, m1s, outcome):
    """The replicas' lrogate_resource_shared_budget_total{outcome} over the
    phase, summed (0 for a build without the metric)."""
    name = "lrogate_resource_shared_budget_total"
    total = 0.0
    for m0, m1 in zip(m0s, m1s):
        pick = lambda text: sum(v for k, v in samples(text, name).items()  # noqa: E731
                                if f'outcome="{outcome}"' in k)
        total += pick(m1) - pick(m0)
    return total


def run_phase(args, gws, sims, rate, seconds):
    targets = [(u.split("//")[1].split(":")[0], int(u.split(":")[-1])) for u in gws]
    hp = f"{targets[0][0]}:{targets[0][1]}"
    for s in sims:
        sim_reset(s)
    stats0 = [sim_stats(s) for s in sims]
    m0 = [scrape(g) for g in gws]
    total = args.warmup + seconds
    warm = int(rate * args.warmup)
    # Per replica, a connection for every request that can wait at once (the
    # submit timeout's worth of its share, and a margin): open loop.
    conns = int(rate / len(gws) * (args.submit_timeout + 3)) + 16
    t_start = time.time()
    results, late = run_open_loop(None, None, lambda i: http_post_bytes(
        hp, PATH, {"url": DOC.format(i=f"{t_start:.0f}-{i}")}), rate, total,
        connections=8, max_connections=conns, keep_head=True, targets=targets)
    t_end = time.time()
    stats1 = [sim_stats(s) for s in sims]
    m1 = [scrape(g) for g in gws]
    measured = [r for r in results if r[3] >= warm]
    by_status = {}
    for r in measured:
        by_status[r[1]] = by_status.get(r[1], 0) + 1
    ok = [r[0] * 1000 for r in measured if r[1] == 202]
    busy = [r for r in measured if r[1] == 503]
    per_replica = [sum(1 for r in measured if r[1] == 202 and r[3] % len(gws) == k)
                   for k in range(len(gws))]
    submits = [b["submits"] - a["submits"] for a, b in zip(stats0, stats1)]
    return {
        "rate": rate, "seconds": seconds, "elapsed": t_end - t_start, "n": len(measured),
        "late": late,
        "accepted_per_s": len(ok) / seconds,
        "sustained": sustained(stats1, t_start + args.warmup, t_end),
        "status": by_status, "per_replica_202": per_replica,
        "busy": len(busy),
        "busy_with_retry_after": sum(1 for r in busy if retry_after(r[4]) is not None),
        "sim_429": sum(s["throttled_analyze"] for s in stats1),
        "gw_429": sum(metric_sum(a, b, "lrogate_resource_throttled_total") for a, b in zip(m0, m1)),
        "max_1s": [s["max_analyze_1s"] for s in stats1],
        "p50": percentile(ok, 50), "p99": percentile(ok, 99),
        "asked": budget(m0, m1, "asked"), "granted": budget(m0, m1, "granted"),
        "failed": budget(m0, m1, "failed"),
        "upstream_submits": sum(submits),
    }


def run_build(args, pg, binary):
    db, url = pg.create_db()
    procs = Procs(binary)
    try:
        sims = [procs.sim("--analyze-rps", str(args.sim_analyze_rps), "--duration", "1h",
                          name=f"sim{i}")[1]
                for i in range(RESOURCES)]
        path = f"{procs.dir}/pool.toml"
        pool_file(path, sims, True)
        gws = [procs.gateway(None, "--upstreams", path, "--submit-timeout",
                             f"{args.submit_timeout:g}s", "--poll-interval", "1h",
                             "--max-wait", "2h", "--result-ttl", "3h", store=url,
                             name=f"gw{k}", env={"POOL_KEY": "bench-key"})[1]
               for k in range(args.replicas)]
        for g in gws:
            wait_http(f"{g}/readyz")
        rows = []
        for i, load in enumerate(LOAD):
            if i:
                time.sleep(args.pause)  # windows and slots empty, queues drained
            rate = load * QUOTA * RESOURCES
            seconds = args.seconds if load <= 1.0 else args.over_seconds
            rows.append((load, run_phase(args, gws, sims, rate, seconds)))
        return rows
    finally:
        procs.close()
        pg.drop_db(db)


def fmt_status(st):
    other = sum(v for k, v in st.items() if k not in (202, 503))
    return f"{st.get(202, 0):,} / {st.get(503, 0):,} / {other:,}"


def report(args, rounds):
    quota = QUOTA * RESOURCES
    print(f"{args.replicas} replicas on one PostgreSQL database, {RESOURCES} resources x "
          f"{QUOTA}/s (simulators refuse past {args.sim_analyze_rps or 'no limit'}/s); open loop round-robin over the replicas, {args.warmup:g}s warm-up then "
          f"{args.seconds:g}s at 100 % and {args.over_seconds:g}s at 120 % of the quota, "
          f"--submit-timeout {args.submit_timeout:g}s, {len(rounds)} round(s)\n")
    print("| round | build | offered/s | 202s/s (of quota) | upstream admitted/s, median second | "
          "202 / 503 / other | 202s per replica | upstream 429s (gateways saw) | "
          "most in 1 s per resource | 202 latency p50 / p99 ms | shared budget asked / granted "
          "(a second of the phase) / failed | sent late |")
    print("|---" * 12 + "|")
    for k, rnd in enumerate(rounds):
        for name, rows in rnd.items():
            for load, r in rows:
                span = r["elapsed"]  # warm-up, measured seconds and the queue's drain
                print(f"| {k + 1} | {name} | {r['rate']:g} | {r['accepted_per_s']:.1f} "
                      f"({r['accepted_per_s'] / quota * 100:.1f} %) | {r['sustained']:g} "
                      f"| {fmt_status(r['status'])} | {' '.join(map(str, r['per_replica_202']))} "
                      f"| {r['sim_429']:,} ({r['gw_429']:,.0f}) "
                      f"| {' '.join(map(str, r['max_1s']))} "
                      f"| {r['p50']:.0f} / {r['p99']:.0f} "
                      f"| {r['asked']:,.0f} / {r['granted']:,.0f} ({r['granted'] / span:.1f}) "
                      f"/ {r['failed']:,.0f} | {r['late']} |")
    print()
    for k, rnd in enumerate(rounds):
        if "head" not in rnd:
            continue
        (_, full), (_, over) = rnd["head"]
        worst = max(max(full["max_1s"]), max(over["max_1s"]))
        met = (full["accepted_per_s"] >= 0.95 * quota and full["sim_429"] == 0
               and over["sim_429"] == 0 and worst <= QUOTA + SLOT)
        print(f"round {k + 1}: head goal (>= 95 % of {quota}/s accepted at 100 %, zero 429s, "
              f"at most {QUOTA + SLOT} in 1 s per resource): {'met' if met else 'NOT met'} "
              f"({full['accepted_per_s'] / quota * 100:.1f} %, 429s {full['sim_429']} + "
              f"{over['sim_429']}, most in 1 s {worst})")
        if "ref" in rnd:
            (_, rfull), (_, rover) = rnd["ref"]
            print(f"round {k + 1}: head / ref 202s/s: {full['accepted_per_s'] / rfull['accepted_per_s']:.3f} "
                  f"at 100 %, {over['accepted_per_s'] / rover['accepted_per_s']:.3f} at 120 %; "
                  f"ref 429s {rfull['sim_429']} + {rover['sim_429']}")
    print("\nraw:", json.dumps([{n: [(l, r) for l, r in rows] for n, rows in rnd.items()}
                                  for rnd in rounds], default=str))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=BIN, help="the build measured (build/lrogate)")
    ap.add_argument("--ref-bin", help="the reference build (b2ada90's lrogate)")
    ap.add_argument("--replicas", type=int, default=3, help="gateways on the database (3)")
    ap.add_argument("--seconds", type=float, default=30, help="measured seconds at 100 %% (30)")
    ap.add_argument("--over-seconds", type=float, default=60,
                    help="measured seconds at 120 %% (60: the queue reaches the submit "
                    "timeout only after about 45 s)")
    ap.add_argument("--warmup", type=float, default=3, help="seconds not counted first (3)")
    ap.add_argument("--pause", type=float, default=3, help="seconds between the phases (3)")
    ap.add_argument("--submit-timeout", type=float, default=10, help="the gateways' (10 s)")
    ap.add_argument("--rounds", type=int, default=1, help="rounds over the builds (1)")
    ap.add_argument("--sim-analyze-rps", type=int, default=QUOTA,
                    help="the simulators' analyze quota (15); 0: they refuse nothing, so "
                    "their most in 1 s is what the cluster sent")
    ap.add_argument("--only", nargs="+", choices=["head", "ref"], help="run only these builds")
    args = ap.parse_args()
    if not 1 <= args.replicas <= 16:
        ap.error("--replicas: 1 to 16")
    if not 0 <= args.sim_analyze_rps <= 100_000:
        ap.error("--sim-analyze-rps: 0 to 100000")
    builds = {"head": args.bin, "ref": args.ref_bin}
    names = args.only or ["head", "ref"]
    for n in names:
        if not builds[n] or not os.access(builds[n], os.X_OK):
            ap.error(f"{n}: no executable build ({builds[n]}); --ref-bin for ref")
    pg = PgServer()
    try:
        rounds = []
        for k in range(args.rounds):
            order = names if k % 2 == 0 else names[::-1]  # alternate which goes first
            rnd = {n: run_build(args, pg, builds[n]) for n in order}
            rounds.append({n: rnd[n] for n in names})
    finally:
        pg.stop()
    report(args, rounds)


if __name__ == "__main__":
    sys.exit(main())
