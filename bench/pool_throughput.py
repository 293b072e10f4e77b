#!/usr/bin/env python3
"""Benchmark 11: a pool of upstream resources at and over its quota (issue 15).

Four simulators, each one Azure resource throttling like Document
Intelligence S0 (`simulate --analyze-rps 15`: 429 + Retry-After past 15
analyze calls in any 1 s), behind one gateway whose pool file gives each
resource `limits.submits_per_second = 15`. An open-loop generator (harness.py's
run_open_loop; latency from each request's scheduled send time) sends analyze
submits on the compat route at 100 % of the pool's quota (60/s) and then at
120 % (72/s), each phase after a short warm-up at its rate, with a pause
between the phases so that each starts from an empty queue.

Beside it, in the same run, the references:
  one        ONE simulator behind a pool of one with the same limit, at 15/s
             and 18/s: what one resource gives (the pool's ratio is
             pool / (4 x one));
  no limits  the same four simulators' pool WITHOUT limits in the file (the
             gateway does not know the quotas): what the limits buy.

Per phase: 202s a second of the schedule (as a share of the quota) and the
upstream's sustained rate (the median second of the simulators' admitted
analyze calls); answers by status; whether every 503 carries Retry-After;
the simulators' 429s (the goal is zero) and the most any one admitted in a
1 s window; submit latency p50/p99; the queue's wait (the gateway's
lrogate_submit_queue_wait_seconds histogram, which counts only the submits
that waited: p50/p99 interpolated inside its buckets); each resource's share
of the submits. Upstream counts cover the whole phase (warm-up and the
queue's drain included); client figures only the measured requests.

Simulated analyses last 1 h (`--duration 1h`, poll interval 1 h): each
operation is polled once, about 1 s after its submit, and then not again
within the run, so polls (which count against a status quota the simulators
do not limit here) cost little and the submits are what is measured.

    python3 bench/pool_throughput.py [--seconds 30] [--over-seconds 60] [--warmup 3]
                                     [--submit-timeout 10] [--rounds 1] [--only NAME ...]
"""
import argparse
import json
import math
import re
import statistics
import sys
import time
import urllib.request

from harness import Procs, get, http_post_bytes, percentile, run_open_loop, wait_http

QUOTA = 15          # analyze calls a second per resource (Document Intelligence S0)
PATH = "/pro-mode/content-analyzers/pro-demo:analyze"
DOC = "https://docs.example/pool-{i}.pdf"
LOAD = (1.0, 1.2)   # the phases, as shares of the pool's quota
CONFIGS = {          # name: (resources, limits in the pool file)
    "pool": (4, True),
    "one": (1, True),
    "no limits": (4, False),
}


def pool_file(path, sims, limits):
    lines = []
    for i, url in enumerate(sims):
        lines += ["[[resource]]", f'name = "r{i}"', f'endpoint = "{url}"',
                  "[resource.auth]", 'mode = "key"', 'key_env = "POOL_KEY"']
        if limits:
            lines += ["[resource.limits]", f"submits_per_second = {QUOTA}"]
        lines.append("")
    with open(path, "w") as f:
        f.write("\n".join(lines))


def sim_stats(url):
    status, body = get(f"{url}/_sim/stats")
    assert status == 200, status
    return json.loads(body)


def sim_reset(url):
    req = urllib.request.Request(f"{url}/_sim/throttle", data=b'{"reset":true}', method="PUT",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200, r.status


def scrape(gw):
    status, body = get(f"{gw}/metrics")
    assert status == 200, status
    return body.decode()


def samples(text, name):
    """{labels text: value} of one metric's samples."""
    out = {}
    for line in text.splitlines():
        m = re.match(re.escape(name) + r"(\{[^}]*\})? (\S+)$", line)
        if m:
            out[m.group(1) or ""] = float(m.group(2))
    return out


def wait_histogram(before, after):
    """The queue-wait histogram's buckets over the phase: [(upper bound, count)]
    (cumulative, +Inf last) from two scrapes."""
    name = "lrogate_submit_queue_wait_seconds_bucket"
    b, a = samples(before, name), samples(after, name)
    rows = []
    for labels, v in a.items():
        le = re.search(r'le="([^"]+)"', labels).group(1)
        rows.append((math.inf if le == "+Inf" else float(le), v - b.get(labels, 0)))
    return sorted(rows)


def histogram_quantile(buckets, q):
    """Prometheus's estimate: linear inside the bucket that holds rank q*n
    (the last finite bound when it falls in +Inf). nan when nothing waited."""
    n = buckets[-1][1] if buckets else 0
    if n == 0:
        return float("nan"), (0, 0)
    rank, lo, below = q * n, 0.0, 0.0
    for hi, count in buckets:
        if count >= rank:
            if math.isinf(hi):
                return lo, (lo, hi)
            inside = count - below
            return lo + (hi - lo) * ((rank - below) / inside if inside else 1), (lo, hi)
        lo, below = hi, count
    return lo, (lo, math.inf)


def metric_sum(before, after, name):
    return sum(samples(after, name).values()) - sum(samples(before, name).values())


def retry_after(head):
    m = re.search(rb"\r\nretry-after: *([0-9]+)", head, re.IGNORECASE)
    return int(m.group(1)) if m else None


def sustained(stats_list, t_first, t_last):
    """The median of the simulators' summed admitted analyze calls per epoch
    second, over the whole seconds strictly inside [t_first, t_last]."""
    per_s = {}
    for st in stats_list:
        for s in st.get("per_second", []):
            per_s[s["t"]] = per_s.get(s["t"], 0) + s["analyze"]
    inside = [n for t, n in per_s.items() if t_first < t < t_last]
    return statistics.median(inside) if inside else float("nan")


def run_phase(args, gw, sims, rate, seconds):
    host, port = gw.split("//")[1].split(":")
    hp = f"{host}:{port}"
    for s in sims:
        sim_reset(s)
    stats0 = [sim_stats(s) for s in sims]
    m0 = scrape(gw)
    total = args.warmup + seconds
    warm = int(rate * args.warmup)
    # Up to one connection for every request that can be waiting at once
    # (the submit timeout's worth and a margin): the load stays open loop.
    conns = int(rate * (args.submit_timeout + 3)) + 16
    t_start = time.time()
    results, late = run_open_loop(host, int(port), lambda i: http_post_bytes(
        hp, PATH, {"url": DOC.format(i=f"{t_start:.0f}-{i}")}), rate, total,
        connections=16, max_connections=conns, keep_head=True)
    t_end = time.time()
    stats1 = [sim_stats(s) for s in sims]
    m1 = scrape(gw)
    measured = [r for r in results if r[3] >= warm]
    by_status = {}
    for r in measured:
        by_status[r[1]] = by_status.get(r[1], 0) + 1
    ok = [r[0] * 1000 for r in measured if r[1] == 202]
    busy = [r for r in measured if r[1] == 503]
    ras = [retry_after(r[4]) for r in busy]
    buckets = wait_histogram(m0, m1)
    p99, p99_bucket = histogram_quantile(buckets, 0.99)
    p50, _ = histogram_quantile(buckets, 0.50)
    submits = [b["submits"] - a["submits"] for a, b in zip(stats0, stats1)]
    return {
        "rate": rate, "seconds": seconds, "n": len(measured), "late": late,
        "accepted_per_s": len(ok) / seconds,
        "sustained": sustained(stats1, t_start + args.warmup, t_end),
        "status": by_status,
        "busy": len(busy), "busy_with_retry_after": sum(1 for v in ras if v is not None),
        "retry_after": (min(v for v in ras if v is not None), max(v for v in ras if v is not None))
        if any(v is not None for v in ras) else None,
        "sim_429": sum(s["throttled_analyze"] for s in stats1),
        "gw_429": metric_sum(m0, m1, "lrogate_resource_throttled_total"),
        "max_1s": max(s["max_analyze_1s"] for s in stats1),
        "p50": percentile(ok, 50), "p99": percentile(ok, 99),
        "p99_all": percentile([r[0] * 1000 for r in measured], 99),
        "waited": buckets[-1][1] if buckets else 0,
        "wait_p50": p50, "wait_p99": p99, "wait_p99_bucket": p99_bucket,
        "share": [n / sum(submits) if sum(submits) else float("nan") for n in submits],
        "upstream_submits": sum(submits),
    }


def run_config(args, name):
    n, limits = CONFIGS[name]
    procs = Procs()
    try:
        sims = [procs.sim("--analyze-rps", str(QUOTA), "--duration", "1h", name=f"sim{i}")[1]
                for i in range(n)]
        path = f"{procs.dir}/pool.toml"
        pool_file(path, sims, limits)
        _, gw = procs.gateway(None, "--upstreams", path, "--submit-timeout",
                              f"{args.submit_timeout:g}s", "--poll-interval", "1h",
                              "--max-wait", "2h", "--result-ttl", "3h",
                              env={"POOL_KEY": "bench-key"})
        wait_http(f"{gw}/readyz")
        rows = []
        for i, load in enumerate(LOAD):
            if i:
                time.sleep(args.pause)  # windows empty, breakers closed
            rate = load * QUOTA * n
            seconds = args.seconds if load <= 1.0 else args.over_seconds
            rows.append((load, run_phase(args, gw, sims, rate, seconds)))
        return rows
    finally:
        procs.close()


def fmt_status(st):
    other = sum(v for k, v in st.items() if k not in (202, 503))
    return f"{st.get(202, 0):,} / {st.get(503, 0):,} / {other:,}"


def report(args, rounds):
    print(f"open loop (harness.py asyncio generator), {args.warmup:g}s warm-up then "
          f"{args.seconds:g}s at 100 % and {args.over_seconds:g}s at 120 % of the quota "
          f"({QUOTA}/s per resource), --submit-timeout {args.submit_timeout:g}s, "
          f"{len(rounds)} round(s)\n")
    print("| round | config | offered/s | 202s/s (of quota) | upstream sustained/s | "
          "202 / 503 / other | 503 with Retry-After (s) | upstream 429s (gateway saw) | "
          "max in 1 s, one resource | latency 202 p50 / p99 ms | waited | queue wait p50 / p99 s "
          "(p99's bucket) | share per resource | sent late |")
    print("|---" * 14 + "|")
    for k, rnd in enumerate(rounds):
        for name, rows in rnd.items():
            n = CONFIGS[name][0]
            for load, r in rows:
                quota = QUOTA * n
                ra = (f"{r['busy_with_retry_after']:,} of {r['busy']:,} "
                      f"({r['retry_after'][0]}–{r['retry_after'][1]})" if r["retry_after"]
                      else f"{r['busy_with_retry_after']} of {r['busy']}")
                lo, hi = r["wait_p99_bucket"]
                print(f"| {k + 1} | {name} | {r['rate']:g} | {r['accepted_per_s']:.1f} "
                      f"({r['accepted_per_s'] / quota * 100:.1f} %) | {r['sustained']:g} "
                      f"({r['sustained'] / quota * 100:.0f} %) | {fmt_status(r['status'])} | {ra} "
                      f"| {r['sim_429']:,} ({r['gw_429']:,.0f}) | {r['max_1s']} "
                      f"| {r['p50']:.0f} / {r['p99']:.0f} | {r['waited']:,.0f} "
                      f"| {r['wait_p50']:.2f} / {r['wait_p99']:.2f} ({lo:g}–{hi:g}) "
                      f"| {' '.join(f'{s * 100:.0f}' for s in r['share'])} % | {r['late']} |")
    print()
    for k, rnd in enumerate(rounds):
        if "pool" not in rnd or "one" not in rnd:
            continue
        for (load, p), (_, o) in zip(rnd["pool"], rnd["one"]):
            print(f"round {k + 1}, {load * 100:.0f} %: pool / (4 x one): 202s/s "
                  f"{p['accepted_per_s'] / (4 * o['accepted_per_s']):.3f}, sustained "
                  f"{p['sustained'] / (4 * o['sustained']):.3f}")
        p = rnd["pool"][0][1]
        met = p["accepted_per_s"] >= 0.95 * QUOTA * 4 and p["sim_429"] == 0
        print(f"round {k + 1}: goal (≥ 95 % of {QUOTA * 4}/s accepted at 100 %, zero upstream "
              f"429s): {'met' if met else 'NOT met'} ({p['accepted_per_s'] / (QUOTA * 4) * 100:.1f} %, "
              f"{p['sim_429']} 429s); at 120 %: queue wait p99 {rnd['pool'][1][1]['wait_p99']:.2f} s, "
              f"{rnd['pool'][1][1]['busy_with_retry_after']} of {rnd['pool'][1][1]['busy']} 503s "
              f"with Retry-After")
    print("\nraw:", json.dumps([{n: [(l, {k: v for k, v in r.items()}) for l, r in rows]
                                  for n, rows in rnd.items()} for rnd in rounds], default=str))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=30, help="measured seconds at 100 %% (30)")
    ap.add_argument("--over-seconds", type=float, default=60,
                    help="measured seconds at 120 %% (60: the queue reaches the submit "
                    "timeout after about 45 s, so 503s show)")
    ap.add_argument("--warmup", type=float, default=3,
                    help="seconds sent at the phase's rate first, not counted (3)")
    ap.add_argument("--pause", type=float, default=3, help="seconds between the phases (3)")
    ap.add_argument("--submit-timeout", type=float, default=10, help="the gateway's (10 s)")
    ap.add_argument("--rounds", type=int, default=1, help="rounds over the configs (1)")
    ap.add_argument("--only", nargs="+", choices=list(CONFIGS), help="run only these configs")
    args = ap.parse_args()
    names = args.only or list(CONFIGS)
    rounds = [{name: run_config(args, name) for name in names} for _ in range(args.rounds)]
    report(args, rounds)


if __name__ == "__main__":
    sys.exit(main())
