#!/usr/bin/env python3
"""Benchmark 1 and 2 of the performance issue: status-poll throughput.

wrk -t2 -c64 (keep-alive) against the compatible results route of lrogate for
(a) an operation still processing (202) and (b) a completed one with a ~2 KiB
result (200), beside nginx (1 and 2 workers) serving a static file of the same
size, and beside the original FastAPI design (../shared/peers/seed_gateway) —
client poll limits off on both gateways. Loopback only, bounded in time.
Prints a Markdown table: medians of ROUNDS runs, ratios against nginx in the
same run. Needs: wrk nginx-light python3-fastapi python3-uvicorn python3-httpx.

    python3 bench/status_poll.py [--seconds 5] [--rounds 3] [--reference-bin PATH]
                                 [--store postgresql://...] [--reference-store URL]

--reference-bin also measures another build (e.g. the commit before) in the
same rounds, beside this one. --store puts the gateways on that store instead
of a SQLite file each (a PostgreSQL database: both builds then share it, as
replicas do); --reference-store gives the reference a database of its own,
for a reference built before a schema migration (it refuses a newer schema).
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

from harness import KEY, Procs, free_port, get, post, wait_http

SEED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared",
                    "peers", "seed_gateway")


def wrk(url, seconds, headers=()):
    extra = [a for h in headers for a in ("-H", h)]
    out = subprocess.run(["wrk", "-t2", "-c64", f"-d{seconds}s", "--latency", *extra, url],
                         capture_output=True, text=True, timeout=seconds + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, float(p99.group(1)) * scale, int(non2xx.group(1)) if non2xx else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--reference-bin", help="another lrogate binary, measured in the same rounds")
    ap.add_argument("--store", help="a store URL for the gateways (default: a SQLite file each)")
    ap.add_argument("--reference-store",
                    help="the reference's own store URL (default: --store); needed when this "
                         "build migrated --store to a schema the reference refuses")
    args = ap.parse_args()
    procs = Procs()
    tmp = procs.dir
    start = procs.start
    try:
        _, sim = procs.sim("--duration", "0s")
        _, gw = procs.gateway(sim, "--client-poll-rate", "0", "--max-polls", "0",
                              "--retrieval-grace", "50m", "--fallback-lookup", "off",
                              "--poll-interval", "1s", store=args.store)
        doc = "https://docs.example/bench.pdf"
        running = post(f"{gw}/pro-mode/content-analyzers/pro-demo:analyze", {"url": doc + "?sim_duration=1h"})["operationId"]
        done = post(f"{gw}/pro-mode/content-analyzers/pro-demo:analyze",
                    {"url": doc + "?sim_duration=0s&sim_result_bytes=1500"})["operationId"]
        deadline = time.time() + 15
        while get(f"{gw}/operations/{done}")[1].find(b'"Succeeded"') < 0 and time.time() < deadline:
            time.sleep(0.2)
        s202, body202 = get(f"{gw}/pro-mode/content-analyzers/pro-demo/results/{running}")
        s200, body200 = get(f"{gw}/pro-mode/content-analyzers/pro-demo/results/{done}")
        assert s202 == 202 and s200 == 200, (s202, s200)
        if args.reference_bin:
            ref_procs = Procs(args.reference_bin)
            procs.procs_extra = ref_procs  # closed with the others
            _, ref = ref_procs.gateway(sim, "--client-poll-rate", "0", "--max-polls", "0",
                                       "--retrieval-grace", "50m", "--fallback-lookup", "off",
                                       "--poll-interval", "1s", name="ref",
                                       store=args.reference_store or args.store)
            ref_running = post(f"{ref}/pro-mode/content-analyzers/pro-demo:analyze",
                               {"url": doc + "?sim_duration=1h"})["operationId"]
            ref_done = post(f"{ref}/pro-mode/content-analyzers/pro-demo:analyze",
                            {"url": doc + "?sim_duration=0s&sim_result_bytes=1500"})["operationId"]
            deadline = time.time() + 15
            while get(f"{ref}/operations/{ref_done}")[1].find(b'"Succeeded"') < 0 and time.time() < deadline:
                time.sleep(0.2)

        seed_port = free_port()
        seed_ok = os.path.exists(os.path.join(SEED, "seed_gateway.py"))
        if seed_ok:
            start(["/usr/bin/python3", "-m", "uvicorn", "seed_gateway:app", "--host", "127.0.0.1",
                   "--port", str(seed_port), "--log-level", "warning"], "seed", cwd=SEED,
                  env={"UPSTREAM": sim, "UPSTREAM_KEY": KEY, "POLL_INTERVAL": "1", "RATE_LIMIT": "0"})
            seed = f"http://127.0.0.1:{seed_port}"
            wait_http(f"{seed}/docs")
            seed_running = post(f"{seed}/pro-mode/content-analyzers/pro-demo:analyze", {"url": doc + "?sim_duration=1h"})["operationId"]
            seed_done = post(f"{seed}/pro-mode/content-analyzers/pro-demo:analyze",
                             {"url": doc + "?sim_duration=0s&sim_result_bytes=1500"})["operationId"]
            time.sleep(1.5)

        nginx_urls = {}
        for workers in (1, 2):
            port = free_port()
            d = os.path.join(tmp, f"nginx{workers}")
            os.makedirs(os.path.join(d, "www"), mode=0o755)
            os.chmod(d, 0o755)
            open(os.path.join(d, "www", "r202.json"), "wb").write(body202)
            open(os.path.join(d, "www", "r200.json"), "wb").write(body200)
            for f in ("r202.json", "r200.json"):
                os.chmod(os.path.join(d, "www", f), 0o644)
            open(os.path.join(d, "nginx.conf"), "w").write(f"""
worker_processes {workers};
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  default_type application/json;
  client_body_temp_path {d}; proxy_temp_path {d}; fastcgi_temp_path {d}; uwsgi_temp_path {d}; scgi_temp_path {d};
  server {{ listen 127.0.0.1:{port}; root {d}/www; keepalive_requests 1000000; }}
}}""")
            start(["nginx", "-c", os.path.join(d, "nginx.conf"), "-g", "daemon off;"], f"nginx{workers}")
            nginx_urls[workers] = f"http://127.0.0.1:{port}"
            wait_http(f"{nginx_urls[workers]}/r200.json")

        targets = [
            ("nginx 1 worker, static 202-size file", f"{nginx_urls[1]}/r202.json", "202"),
            ("nginx 2 workers, static 202-size file", f"{nginx_urls[2]}/r202.json", "202"),
            ("lrogate, processing (202)", f"{gw}/pro-mode/content-analyzers/pro-demo/results/{running}", "202"),
        ] + ([
            ("lrogate reference build, processing (202)", f"{ref}/pro-mode/content-analyzers/pro-demo/results/{ref_running}", "202"),
        ] if args.reference_bin else []) + [
            ("nginx 1 worker, static 2 KiB file", f"{nginx_urls[1]}/r200.json", "200"),
            ("nginx 2 workers, static 2 KiB file", f"{nginx_urls[2]}/r200.json", "200"),
            ("lrogate, completed 2 KiB result (200)", f"{gw}/pro-mode/content-analyzers/pro-demo/results/{done}", "200"),
        ] + ([
            ("lrogate reference build, completed 2 KiB result (200)", f"{ref}/pro-mode/content-analyzers/pro-demo/results/{ref_done}", "200"),
        ] if args.reference_bin else [])
        if seed_ok:
            targets += [
                ("original design, processing (202)", f"{seed}/pro-mode/content-analyzers/pro-demo/results/{seed_running}", "202"),
                ("original design, completed (200, via its upstream fallback)", f"{seed}/pro-mode/content-analyzers/pro-demo/results/{seed_done}", "200"),
            ]
        results = {name: [] for name, _, _ in targets}
        for _ in range(args.rounds):
            for name, url, _ in targets:
                results[name].append(wrk(url, args.seconds))
        for name, v in results.items():
            if any(r[2] for r in v) and "original" not in name:
                raise SystemExit(f"{name}: non-2xx answers, the run measured errors")
        med = {n: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v), max(r[2] for r in v))
               for n, v in results.items()}
        store = "PostgreSQL" if args.store else "SQLite"
        print(f"wrk -t2 -c64 -d{args.seconds}s, {args.rounds} rounds, medians; store {store}; bodies: 202 = {len(body202)} B, 200 = {len(body200)} B\n")
        print("| target | requests/s | p99 ms | non-2xx | vs best nginx |")
        print("|---|---|---|---|---|")
        for name, _, kind in targets:
            best = max(med[f"nginx {w} worker{'s' if w == 2 else ''}, static {'202-size' if kind == '202' else '2 KiB'} file"][0] for w in (1, 2))
            rps, p99, bad = med[name]
            print(f"| {name} | {rps:,.0f} | {p99:.2f} | {bad} | {rps / best:.2f}× |")
    finally:
        if getattr(procs, "procs_extra", None):
            procs.procs_extra.close()
        procs.close()


if __name__ == "__main__":
    sys.exit(main())
