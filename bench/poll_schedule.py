#!/usr/bin/env python3
"""Benchmark 13: the learned poll schedule against the fixed one (issue 16).

In one run, side by side, per distribution of durations: two gateways, each
on its own SQLite store in its own folder, each in front of its own
simulator on its own port, every simulator with the same --seed (so a
document takes the same time on all of them: sim/durations.h). One gateway
polls on the fixed schedule (`--poll-schedule fixed`: every --poll-interval),
the other on the learned one (`--poll-schedule learned`); both with
--poll-interval 10 s. Two distributions at once, each on its own analyzer:
  prebuilt-read    lognormal:120s:0.3   (median 120 s, σ of ln 0.3)
  prebuilt-layout  bimodal:30s:300s:0.1 (half around 30 s, half around 300 s)
so 4 gateways and 4 simulators, light at these rates.

Warm-up: W operations (default 200, URLs https://docs.example/warm-<i>.pdf)
per analyzer on every gateway, waited for until every simulator has seen
them done. Then N operations (default 1,000, https://docs.example/doc-<i>.pdf),
the same documents submitted to every gateway of a distribution at the same
moments, over --spread seconds (default 20), followed to the end.

Per operation, from the simulator's GET /_sim/operations/{id}: the upstream
polls, and the lateness = the offset of the poll that found it done −
duration_ms (how long the upstream had finished while the gateway could not
yet know). Per document: the learned gateway's detection − the fixed one's
(both offsets from the simulator's creation; durations are equal). The
table: polls per operation (median / p90 / p99), lateness (median / p99 /
max), documents the learned gateway knew more than 1 s later than the fixed
one, and — when the gateway's /metrics has lrogate_store_writes_total —
store rows per unchanged poll over the measured phase: its own (progress
rows, lease renewals, and the claims beyond the one after each insert and
each transition write, over the polls that changed nothing), and the older
estimate (all writes minus one per submit and one per poll that changed the
status, over the same polls); the counter's labels are printed too.

    python3 bench/poll_schedule.py [--scale 1] [--ops 1000] [--warmup 200] [--spread 20]
        [--schedules fixed,learned] [--json poll_schedule.json]

--schedules BASE,CANDIDATE: the two schedules compared (the per-document
column is CANDIDATE − BASE). A build whose `serve --help` has no
--poll-schedule gets no flag at all, which is the fixed schedule: there
run `--schedules fixed,fixed` (LROGATE_BENCH_HAS_SCHEDULE=1 or 0 overrides
the detection). --scale F divides every duration, the poll interval and the
1 s threshold by F for a quick trial (the output says so; the recorded
figures use scale 1); the polls a second then grow F times (at scale 10
the four gateways poll ~4,000 times a second on 2 cores, and the fixed
schedule's lateness shows that load), so a trial may also take fewer --ops.
A scale-1 run takes about 15 minutes (the bimodal tail, ~300 s · e^0.3,
twice: warm-up and measured).
"""
import argparse
import concurrent.futures
import json
import math
import os
import re
import subprocess
import sys
import time

from harness import BIN, Procs, get, http_post_bytes, percentile, run_open_loop

DISTS = [("lognormal", "prebuilt-read", "lognormal:{a}:0.3", (120,)),
         ("bimodal", "prebuilt-layout", "bimodal:{a}:{b}:0.1", (30, 300))]
SEED = 16
INTERVAL_S = 10
LATE_S = 1.0


def ms_text(seconds):
    return f"{max(1, round(seconds * 1000))}ms"


def has_schedule_flag(binary):
    forced = os.environ.get("LROGATE_BENCH_HAS_SCHEDULE")
    if forced in ("0", "1"):
        return forced == "1"
    out = subprocess.run([binary, "serve", "--help"], capture_output=True, timeout=30)
    return b"--poll-schedule" in out.stdout + out.stderr


def schedule_args(name, supported):
    if supported:
        return ["--poll-schedule", name]
    if name == "fixed":
        return []  # a build without the flag polls on the fixed schedule
    raise SystemExit(f"this build's gateway has no --poll-schedule, so it cannot run '{name}': "
                     "run with --schedules fixed,fixed (or set LROGATE_BENCH_HAS_SCHEDULE=1)")


def store_writes(gw):
    """The samples of lrogate_store_writes_total: {labels: value}, or None when absent."""
    text = get(f"{gw}/metrics")[1].decode(errors="replace")
    out = {}
    for m in re.finditer(r"^lrogate_store_writes_total(\{[^}]*\})? ([0-9.eE+-]+)$", text, re.M):
        out[m.group(1) or ""] = out.get(m.group(1) or "", 0) + float(m.group(2))
    return out or None


def sim_stats(sim, interval_ms):
    return json.loads(get(f"{sim}/_sim/stats?interval={interval_ms}")[1])


def wait_finished(sims, count, interval_ms, timeout_s, what):
    """Until every simulator has seen `count` operations done (polled at or after their end)."""
    deadline = time.time() + timeout_s
    while True:
        seen = [sim_stats(s, interval_ms)["finished_seen"] for s in sims]
        if min(seen) >= count:
            return
        if time.time() > deadline:
            raise SystemExit(f"{what}: after {timeout_s:.0f} s only {seen} of {count} seen done")
        time.sleep(1)


def submit_all(gateways, docs, spread_s):
    """Submits docs[j] to every gateway at once, the documents spread evenly
    over spread_s: request i goes to gateways[i % G] with docs[i // G].
    Returns, per gateway, the operation ids in the order of docs."""
    targets = []
    for gw in gateways:
        host, port = gw["url"].split("//")[1].split(":")
        targets.append((host, int(port)))
    g = len(gateways)

    def make(i):
        gw = gateways[i % g]
        host, port = targets[i % g]
        return http_post_bytes(f"{host}:{port}",
                               f"/pro-mode/content-analyzers/{gw['analyzer']}:analyze",
                               {"url": docs[i // g]})

    total = g * len(docs)
    rate = total / spread_s
    # seconds such that int(rate * seconds) is exactly `total`.
    results, _ = run_open_loop(None, None, make, rate=rate, seconds=(total + 0.5) / rate,
                               connections=8, max_connections=64, targets=targets, keep_head=True)
    ids = [[None] * len(docs) for _ in gateways]
    bad = 0
    for _, status, body, i, _ in results:
        if status == 202:
            ids[i % g][i // g] = json.loads(body)["operationId"]
        else:
            bad += 1
    if bad or any(None in per for per in ids):
        raise SystemExit(f"{bad} of {total} submits were not accepted")
    return ids


def op_figures(sim, op_id):
    st = json.loads(get(f"{sim}/_sim/operations/{op_id}")[1])
    d = st["duration_ms"]
    offsets = st["poll_offsets_ms"]
    done = next((o for o in offsets if o >= d), None)
    # The status each poll answered, from the simulator's rule (NotStarted
    # before a tenth of the duration, Running until it, then final); a poll
    # that changed it is a transition for the gateway's store.
    prev, changed = "NotStarted", 0
    for o in offsets:
        now = "final" if o >= d else ("NotStarted" if o * 10 < d else "Running")
        if now != prev:
            changed += 1
        prev = now
    return {"created_ms": st["created_ms"], "duration_ms": d, "polls": st["polls"], "done_ms": done,
            "lateness_ms": None if done is None else done - d, "changed_polls": changed,
            "poll_offsets_ms": offsets}


def collect(gateways, ids):
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for gw, per in zip(gateways, ids):
            gw["ops"] = list(pool.map(lambda i, s=gw["sim"]: op_figures(s, i), per))


def summary(gw, writes_before, writes_after):
    ops = gw["ops"]
    polls = [o["polls"] for o in ops]
    late = [o["lateness_ms"] for o in ops if o["lateness_ms"] is not None]
    row = {"schedule": gw["schedule"], "dist": gw["dist"], "analyzer": gw["analyzer"],
           "operations": len(ops), "not_seen_done": len(ops) - len(late),
           "polls_p50": percentile(polls, 50), "polls_p90": percentile(polls, 90),
           "polls_p99": percentile(polls, 99), "polls_mean": sum(polls) / len(polls),
           "lateness_p50_ms": percentile(late, 50), "lateness_p99_ms": percentile(late, 99),
           "lateness_max_ms": max(late, default=float("nan"))}
    if writes_after is not None:
        delta = {k: v - (writes_before or {}).get(k, 0) for k, v in writes_after.items()}
        changed = sum(o["changed_polls"] for o in ops)
        unchanged = sum(polls) - changed
        total = sum(delta.values())
        row["store_writes"] = delta
        row["store_writes_total"] = total
        row["unchanged_polls"] = unchanged
        row["writes_per_unchanged_poll_est"] = (
            (total - len(ops) - changed) / unchanged if unchanged > 0 else float("nan"))
        # What the unchanged polls themselves cost: progress rows, lease
        # renewals, and the claims beyond the one after the insert and the
        # one after each transition write (which releases the lease).
        def w(kind):
            return delta.get(f'{{write="{kind}"}}', 0)
        own = w("progress") + w("renew") + w("claim") - w("insert") - w("transition")
        row["unchanged_poll_rows"] = own
        row["rows_per_unchanged_poll"] = own / unchanged if unchanged > 0 else float("nan")
    return row


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", type=float, default=1.0,
                    help="divide every duration, the poll interval and the 1 s threshold by this")
    ap.add_argument("--ops", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--spread", type=float, default=20.0,
                    help="seconds over which the measured submits are spread (not scaled)")
    ap.add_argument("--schedules", default="fixed,learned", help="BASE,CANDIDATE")
    ap.add_argument("--dists", default="lognormal,bimodal", help="which distributions to run")
    ap.add_argument("--json", default="poll_schedule.json", help="where to write the figures")
    ap.add_argument("--lease", default=None,
                    help="the gateways' --lease (default: theirs, 60s); not scaled")
    args = ap.parse_args()
    schedules = args.schedules.split(",")
    if len(schedules) != 2:
        raise SystemExit("--schedules takes two names: BASE,CANDIDATE")
    chosen = [d for d in DISTS if d[0] in args.dists.split(",")]
    f = args.scale
    interval_s = INTERVAL_S / f
    interval_ms = max(1, round(interval_s * 1000))
    rules = []
    for _, analyzer, spec, medians in chosen:
        rules += ["--analyzer-duration",
                  f"{analyzer}=" + spec.format(**dict(zip("ab", (ms_text(m / f) for m in medians))))]
    supported = has_schedule_flag(BIN)
    started = time.time()
    procs = Procs()
    try:
        gateways = []
        for dist, analyzer, _, medians in chosen:
            for k, schedule in enumerate(schedules):
                name = f"{dist}-{k}-{schedule}"
                _, sim = procs.sim(*rules, "--seed", str(SEED), name=f"sim-{name}")
                folder = os.path.join(procs.dir, name)
                os.makedirs(folder)
                _, gw = procs.gateway(
                    sim, "--poll-interval", ms_text(interval_s), "--upstream-rps", "0",
                    "--max-inflight-polls", "256", "--client-poll-rate", "0", "--max-polls", "0",
                    "--max-wait", "2h", *schedule_args(schedule, supported),
                    *(["--lease", args.lease] if args.lease else []),
                    store=f"sqlite:{os.path.join(folder, 'lrogate.db')}", name=f"gw-{name}")
                gateways.append({"dist": dist, "analyzer": analyzer, "schedule": schedule,
                                 "role": "base" if k == 0 else "candidate", "sim": sim, "url": gw,
                                 "longest_s": max(medians) / f * math.exp(0.3 * 5)})
        sims = [g["sim"] for g in gateways]
        tail_s = max(g["longest_s"] for g in gateways) + 3 * interval_s + 60
        # Warm-up: the learned gateway's history; the fixed one gets the same.
        if args.warmup:
            warm = [f"https://docs.example/warm-{i}.pdf" for i in range(args.warmup)]
            submit_all(gateways, warm, max(1.0, args.spread * args.warmup / args.ops))
            wait_finished(sims, args.warmup, interval_ms, tail_s + args.spread, "warm-up")
            time.sleep(max(1.0, interval_s / 10))  # the last completions recorded
        warmed = time.time()
        writes_before = [store_writes(g["url"]) for g in gateways]
        docs = [f"https://docs.example/doc-{i}.pdf" for i in range(args.ops)]
        ids = submit_all(gateways, docs, args.spread)
        wait_finished(sims, args.warmup + args.ops, interval_ms, tail_s + args.spread, "measured")
        time.sleep(1)
        writes_after = [store_writes(g["url"]) for g in gateways]
        collect(gateways, ids)
        rows = [summary(g, b, a) for g, b, a in zip(gateways, writes_before, writes_after)]
        # Per document: the candidate's detection against the base's.
        late_limit_ms = LATE_S * 1000 / f
        for dist, *_ in chosen:
            base = next(g for g in gateways if g["dist"] == dist and g["role"] == "base")
            cand = next(g for g in gateways if g["dist"] == dist and g["role"] == "candidate")
            diffs = []
            for a, b in zip(base["ops"], cand["ops"]):
                if a["duration_ms"] != b["duration_ms"]:
                    raise SystemExit(f"{dist}: the simulators disagree on a duration "
                                     f"({a['duration_ms']} vs {b['duration_ms']} ms): same --seed?")
                if a["done_ms"] is not None and b["done_ms"] is not None:
                    diffs.append(b["done_ms"] - a["done_ms"])
            row = rows[gateways.index(cand)]
            row["later_than_base"] = sum(1 for d in diffs if d > late_limit_ms)
            row["detection_diff_p50_ms"] = percentile(diffs, 50)
            row["detection_diff_max_ms"] = max(diffs, default=float("nan"))
        wall = time.time() - started
    finally:
        procs.close()

    scale_note = "" if f == 1 else (f" — SCALE {f:g}: durations, the poll interval and the "
                                    f"lateness threshold divided by {f:g} (a trial, not a record)")
    print(f"{args.ops:,} operations per gateway after a warm-up of {args.warmup:,}, submitted "
          f"over {args.spread:g} s; poll interval {interval_s:g} s; --seed {SEED}; "
          f"schedules {schedules[0]} (base) vs {schedules[1]} (candidate); "
          f"--poll-schedule passed: {'yes' if supported else 'no (this build has none)'}"
          f"{scale_note}; measured phase {wall - (warmed - started):.0f} s, whole run {wall:.0f} s\n")
    print("| distribution | schedule | polls/op p50 / p90 / p99 (mean) | lateness p50 / p99 / max ms "
          f"| docs known > {late_limit_ms / 1000:g} s later than base (per-doc Δ p50 / max ms) "
          "| store rows per unchanged poll: its own (all writes' estimate) |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        later = "—"
        if "later_than_base" in r:
            later = (f"{r['later_than_base']} of {r['operations']} "
                     f"({r['detection_diff_p50_ms']:.0f} / {r['detection_diff_max_ms']:.0f})")
        writes = "no counter"
        if "store_writes_total" in r:
            writes = (f"{r['rows_per_unchanged_poll']:.2f} ({r['writes_per_unchanged_poll_est']:.2f}; "
                      f"{r['unchanged_poll_rows']:.0f} rows, {r['unchanged_polls']} unchanged polls)")
        unseen = f", {r['not_seen_done']} never seen done" if r["not_seen_done"] else ""
        print(f"| {r['dist']} ({r['analyzer']}) | {r['schedule']} "
              f"| {r['polls_p50']} / {r['polls_p90']} / {r['polls_p99']} ({r['polls_mean']:.1f}) "
              f"| {r['lateness_p50_ms']:.0f} / {r['lateness_p99_ms']:.0f} / {r['lateness_max_ms']:.0f}"
              f"{unseen} | {later} | {writes} |")
    for r in rows:
        if r.get("store_writes"):
            print(f"\nlrogate_store_writes_total, measured phase, {r['dist']} {r['schedule']}: "
                  + ", ".join(f"{k or '(no labels)'} {v:.0f}" for k, v in r["store_writes"].items()))
    out = {"scale": f, "ops": args.ops, "warmup": args.warmup, "spread_s": args.spread,
           "poll_interval_s": interval_s, "seed": SEED, "schedules": schedules,
           "poll_schedule_flag": supported, "wall_s": wall, "rows": rows,
           "per_operation": {f"{g['dist']}/{g['role']}/{g['schedule']}": g["ops"] for g in gateways}}
    with open(args.json, "w") as fh:
        json.dump(out, fh, indent=1)
    print(f"\nfigures: {args.json}")


if __name__ == "__main__":
    sys.exit(main())
