#!/usr/bin/env python3
"""Benchmark 3: the submit path.

An open-loop client sends analyze requests at a fixed rate (default 1,000/s)
for a few seconds: to a trivial endpoint (nginx answering 202 from memory: the
floor, what the generator and the machine add by themselves), straight to the
simulator, then to lrogate in front of the same simulator, in turn, ROUNDS
times. Latency is measured from each request's scheduled send time. Gateway
overhead = gateway latency − simulator latency at the same percentile, from
the same round and the same generator. Every gateway answer must be a 202 with
an operation id (each one is a row in its store).

The generator is bench/loadgen.cpp (--loadgen cpp, the default; built by
bench/loadgen.sh into $BUILD_DIR, default build/) or the asyncio one in
harness.py (--loadgen python); --loadgen both runs the two in the same rounds.
Each measurement follows a warm-up at the same rate (--warmup, 1 s; not
counted), so the figures are the steady state's. Beside the latencies: the
target's CPU and context switches per request, and how busy the machine was
with processes not ours (other users) and with time stolen by the hypervisor,
so a noisy run shows as such. --perf-out FILE records the gateway (perf record
-e cpu-clock --call-graph dwarf) during the last round's gateway run with the
first generator named. --reference-bin PATH runs a second gateway from another
build (the commit before, say) in front of the same simulator, measured in the
same rounds right after this build's ("reference" rows; its overhead against
the same round's simulator).

    python3 bench/submit_path.py [--rate 1000] [--seconds 5] [--rounds 3]
                                 [--warmup 1] [--loadgen cpp|python|both] [--perf-out FILE]
                                 [--reference-bin PATH]
"""
import argparse
import glob
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time

from harness import (API_VERSION, KEY, ROOT, Procs, cpu_seconds, free_port, http_post_bytes,
                     percentile, run_open_loop, wait_http)

CONNECTIONS = 64
DOC = "https://docs.example/s{i}.pdf?sim_duration=1h"
NAMES = {"cpp": "C++", "python": "Python"}


def measure_python(url, path, headers, rate, seconds):
    host, port = url.split("//")[1].split(":")
    hp = f"{host}:{port}"

    def req(i):
        return http_post_bytes(hp, path, {"url": DOC.format(i=i)}, headers)

    results, late = run_open_loop(host, int(port), req, rate, seconds, connections=CONNECTIONS)
    lat = [r[0] * 1000 for r in results]
    ok = sum(1 for r in results if r[1] in (201, 202))
    return {"p50": percentile(lat, 50), "p99": percentile(lat, 99), "p999": percentile(lat, 99.9),
            "ok": ok, "n": len(results), "late": late, "lateness99": float("nan"),
            "rps": len(results) / seconds}


def measure_cpp(loadgen, url, path, headers, rate, seconds, warmup):
    cmd = [loadgen, "--url", url + path, "--rate", str(rate), "--seconds", str(seconds),
           "--warmup", str(warmup),
           "--connections", str(CONNECTIONS), "--body", json.dumps({"url": DOC})]
    for k, v in headers.items():
        cmd += ["--header", f"{k}: {v}"]
    j = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True,
                                  timeout=seconds + 120).stdout)
    lat = j["latency_ms"]
    ok = sum(n for code, n in j["status"].items() if code in ("201", "202"))
    return {"p50": lat["p50"], "p99": lat["p99"], "p999": lat["p999"], "ok": ok, "n": j["count"],
            "late": j["late"], "lateness99": j["send_lateness_ms"]["p99"],
            "rps": j["answered"] / seconds}


def machine_cpu():
    """(busy CPU seconds, stolen CPU seconds) of the whole machine so far."""
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, f.readline().split()[1:9])
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / tick, steal / tick


def family(pids):
    """pids and their children (nginx's worker, say)."""
    pids = set(pids)
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) in pids:
                        pids.add(int(d))
            except (OSError, ValueError):
                pass
    return pids


def tree_cpu(pids):
    """CPU seconds so far of pids and their children; gone processes are left out."""
    total = 0.0
    for pid in family(pids):
        try:
            total += cpu_seconds(pid)
        except OSError:
            pass
    return total


def context_switches(pid):
    """Context switches so far of pid, its children and all their threads:
    each one a wait for work, and a wake-up that, on an idle virtual CPU, the
    hypervisor has to serve."""
    n = 0
    for p in family([pid]):
        for path in glob.glob(f"/proc/{p}/task/*/status"):
            try:
                with open(path) as f:
                    n += sum(int(line.split()[1]) for line in f if "ctxt_switches" in line)
            except OSError:
                pass
    return n


def our_cpu(procs):
    """CPU seconds so far of this benchmark: this process (the Python
    generator), its finished children (the C++ one) and what Procs runs."""
    return sum(os.times()[:4]) + tree_cpu(p.pid for p in procs.procs if p.poll() is None)


def build_loadgen(procs):
    env = {**os.environ, "BUILD_DIR": os.environ.get("BUILD_DIR", "build")}
    out = subprocess.run(["bash", os.path.join(ROOT, "bench", "loadgen.sh")], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout.split()[-1]
    # A copy, as for lrogate: a rebuild during the run must not change it.
    copy = os.path.join(procs.dir, "loadgen")
    shutil.copy2(os.path.join(ROOT, out), copy)
    return copy


def start_floor(procs):
    """nginx answering every request with a 202 and a small JSON body from
    memory (no file, no upstream): the floor. None when nginx is missing."""
    if not shutil.which("nginx"):
        return None
    port, d = free_port(), os.path.join(procs.dir, "nginx")
    os.makedirs(d, mode=0o755)
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write(f"""
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {d}; proxy_temp_path {d}; fastcgi_temp_path {d}; uwsgi_temp_path {d}; scgi_temp_path {d};
  server {{ listen 127.0.0.1:{port}; keepalive_requests 1000000;
    location / {{ default_type application/json;
      return 202 '{{"id":"00000000-0000-0000-0000-000000000000","status":"Running"}}'; }} }}
}}""")
    procs.start(["nginx", "-c", os.path.join(d, "nginx.conf"), "-g", "daemon off;"], "nginx")
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/")
    return url


def measure(args, procs, g, target, loadgen, pid, perf):
    """One measurement, with what the machine did meanwhile: the target's CPU
    and context switches per request, and the CPU of processes not ours (other
    users of the machine) and stolen by the hypervisor, in % of all cores."""
    url, path, headers = target
    if g == "python" and args.warmup > 0:
        measure_python(url, path, headers, args.rate, args.warmup)
    rec = None
    if perf:
        rec = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "1000", "--call-graph",
                                "dwarf", "-q", "-p", str(pid), "-o", args.perf_out],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    busy0, steal0, ours0, target0 = *machine_cpu(), our_cpu(procs), tree_cpu([pid])
    switches0 = context_switches(pid)
    t0 = time.monotonic()
    if g == "cpp":
        r = measure_cpp(loadgen, url, path, headers, args.rate, args.seconds, args.warmup)
    else:
        r = measure_python(url, path, headers, args.rate, args.seconds)
    wall = (time.monotonic() - t0) * os.cpu_count()
    busy1, steal1, ours1, target1 = *machine_cpu(), our_cpu(procs), tree_cpu([pid])
    switches1 = context_switches(pid)
    if rec:
        rec.send_signal(signal.SIGINT)
        rec.wait(60)
    r["other"] = max(0.0, (busy1 - busy0) - (ours1 - ours0)) / wall * 100
    r["steal"] = (steal1 - steal0) / wall * 100
    # The C++ generator's warm-up is inside its run: the target's CPU covers both.
    sent = r["n"] * (1 + (args.warmup / args.seconds if g == "cpp" else 0))
    r["cpu_us"] = (target1 - target0) / sent * 1e6
    r["switches"] = (switches1 - switches0) / sent
    return r


def run_rounds(args, procs, targets, loadgen):
    rows = {(g, t): [] for g in args.gens for t in targets}
    for rnd in range(args.rounds):
        for g in args.gens:
            for t, target in targets.items():
                perf = (args.perf_out and t == "gateway" and g == args.gens[0]
                        and rnd == args.rounds - 1)
                r = measure(args, procs, g, target[:3], loadgen, target[3], perf)
                if r["ok"] != r["n"]:
                    raise SystemExit(f"{NAMES[g]} → {t}: {r['n'] - r['ok']} answers were not 2xx")
                rows[(g, t)].append(r)
    return rows


def report(args, targets, rows):
    keys = ("p50", "p99", "p999", "rps", "late", "lateness99", "cpu_us", "switches", "other",
            "steal")
    med = {k: {f: statistics.median(r[f] for r in rs) for f in keys} for k, rs in rows.items()}
    print(f"open loop, {args.rate:.0f} submits/s for {args.seconds:g}s after a {args.warmup:g}s "
          f"warm-up, {CONNECTIONS} keep-alive connections to start, {args.rounds} rounds, medians; "
          f"target CPU and context switches per request; CPU of other "
          f"processes and stolen, % of {os.cpu_count()} cores\n")
    print("| generator | target | submits/s | p50 ms | p99 ms | p99.9 ms | send lateness p99 ms "
          "| sent > 1 ms late | target CPU µs | target switches | other % | stolen % |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for g in args.gens:
        for t in targets:
            m = med[(g, t)]
            lateness = "—" if m["lateness99"] != m["lateness99"] else f"{m['lateness99']:.2f}"
            print(f"| {NAMES[g]} | {t} | {m['rps']:,.0f} | {m['p50']:.2f} | {m['p99']:.2f} "
                  f"| {m['p999']:.2f} | {lateness} | {m['late']:.0f} | {m['cpu_us']:.0f} "
                  f"| {m['switches']:.1f} | {m['other']:.0f} | {m['steal']:.0f} |")
    print()
    for g in args.gens:
        for t in [t for t in targets if t.startswith(("gateway", "reference"))]:
            over = {p: [gw[p] - sim[p] for gw, sim in zip(rows[(g, t)], rows[(g, "simulator")])]
                    for p in ("p50", "p99")}
            print(f"{t} overhead, {NAMES[g]} generator: p50 {statistics.median(over['p50']):.2f} "
                  f"ms, p99 {statistics.median(over['p99']):.2f} ms (per round: "
                  f"{', '.join(f'{o:.2f}' for o in over['p99'])})")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rate", type=float, default=1000, help="submits per second (1000)")
    ap.add_argument("--seconds", type=float, default=5, help="length of each measurement (5)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds over all targets (3)")
    ap.add_argument("--warmup", type=float, default=1,
                    help="seconds sent at the rate before each measurement, not counted")
    ap.add_argument("--loadgen", choices=("cpp", "python", "both"), default="cpp",
                    help="bench/loadgen.cpp (default), harness.py's asyncio one, or both")
    ap.add_argument("--perf-out", help="perf.data path for the gateway (last round)")
    ap.add_argument("--reference-bin", help="another lrogate build, measured as a second gateway "
                    "in the same rounds")
    args = ap.parse_args()
    args.gens = ["cpp", "python"] if args.loadgen == "both" else [args.loadgen]
    procs = Procs()
    try:
        loadgen = build_loadgen(procs) if "cpp" in args.gens else None
        sim_proc, sim = procs.sim("--duration", "1h")
        gw_proc, gw = procs.gateway(sim, "--upstream-rps", "1", "--poll-interval", "1h",
                                    "--max-wait", "2h", "--result-ttl", "3h")
        targets = {}
        floor = start_floor(procs)
        if floor:
            targets["floor: nginx return 202"] = (floor, "/analyze", {}, procs.procs[-1].pid)
        targets["simulator"] = (
            sim, f"/contentunderstanding/analyzers/pro-demo:analyze?api-version={API_VERSION}",
            {"Ocp-Apim-Subscription-Key": KEY}, sim_proc.pid)
        targets["gateway"] = (gw, "/pro-mode/content-analyzers/pro-demo:analyze", {}, gw_proc.pid)
        if args.reference_bin:
            ref_proc, ref = procs.gateway(sim, "--upstream-rps", "1", "--poll-interval", "1h",
                                          "--max-wait", "2h", "--result-ttl", "3h", name="ref",
                                          binary=procs.copy_bin(args.reference_bin, "lrogate-ref"))
            targets["reference gateway"] = (ref, "/pro-mode/content-analyzers/pro-demo:analyze",
                                            {}, ref_proc.pid)
        report(args, targets, run_rounds(args, procs, targets, loadgen))
    finally:
        procs.close()


if __name__ == "__main__":
    sys.exit(main())
