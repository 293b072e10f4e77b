#!/usr/bin/env python3
"""Per-request costs of a status poll, counted rather than timed, so the
figures repeat on a busy machine: heap allocations (an LD_PRELOAD counter,
bench/malloc_count.c), system calls (strace -c) and instructions (valgrind
--tool=callgrind) per request, for lrogate's compatible results route (202
processing, 200 completed with a ~2 KiB body) and for nginx serving the same
bytes as static files (one worker, no master process).

    python3 bench/allocs_per_request.py [--what allocs,syscalls,instructions]
                                        [--requests N] [--bin PATH] [--no-nginx]

One client sends N requests one after another on one keep-alive connection,
after a warm-up. What the process does meanwhile on its own (the poller, the
WAL checkpointer) is measured over an idle window as long as the requests
took, and subtracted. Loopback only; needs gcc, strace, valgrind, nginx.
"""
import argparse
import http.client
import os
import re
import signal
import subprocess
import sys
import time

from harness import KEY, Procs, free_port, get, post, wait_http

HERE = os.path.dirname(os.path.abspath(__file__))
GW_FLAGS = ["--client-poll-rate", "0", "--max-polls", "0", "--retrieval-grace", "50m",
            "--fallback-lookup", "off", "--poll-interval", "1s", "--log-level", "warn"]


def send(host, port, path, n):
    """n GETs of path on one keep-alive connection; returns the seconds taken."""
    c = http.client.HTTPConnection(host, port, timeout=60)
    t0 = time.time()
    for _ in range(n):
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        if r.status not in (200, 202):
            raise SystemExit(f"{path}: status {r.status}")
    c.close()
    return time.time() - t0


class Counter:
    """One way of counting; start() before, stop() after; returns a count."""

    def __init__(self, what, pid, count_file, workdir):
        self.what, self.pid, self.count_file, self.dir = what, pid, count_file, workdir
        self.n = 0

    def read_allocs(self):
        with open(self.count_file, "rb") as f:
            return int.from_bytes(f.read(8), "little")

    def start(self):
        if self.what == "allocs":
            self.base = self.read_allocs()
        elif self.what == "syscalls":
            self.n += 1
            self.out = os.path.join(self.dir, f"strace.{self.n}")
            self.proc = subprocess.Popen(["strace", "-f", "-c", "-o", self.out, "-p", str(self.pid)],
                                         stderr=open(self.out + ".err", "w"))
            time.sleep(1.0)  # attached to every thread
        else:
            subprocess.run(["callgrind_control", "-z", str(self.pid)], check=True,
                           capture_output=True)

    def stop(self):
        if self.what == "allocs":
            return self.read_allocs() - self.base
        if self.what == "syscalls":
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(30)
            text = open(self.out).read()
            # "% time, seconds, usecs/call, calls, [errors,] syscall": calls of the total line.
            totals = [l.split() for l in text.splitlines() if l.rstrip().endswith(" total")]
            self.names = {l.split()[-1]: int(l.split()[3]) for l in text.splitlines()
                          if re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+\d+", l) and not l.rstrip().endswith(" total")}
            return int(totals[-1][3]) if totals else 0  # no summary: no call at all
        before = set(os.listdir(self.dir))
        subprocess.run(["callgrind_control", "-d", str(self.pid)], check=True, capture_output=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            new = [f for f in set(os.listdir(self.dir)) - before if f.startswith("callgrind.out")]
            if new:
                time.sleep(0.5)
                text = open(os.path.join(self.dir, new[0])).read()
                m = re.search(r"^(?:totals|summary):\s+(\d+)", text, re.M)
                if m:
                    return int(m.group(1))
            time.sleep(0.2)
        raise SystemExit("callgrind wrote no dump")


def measure(what, pid, host, port, paths, n, count_file, workdir):
    c = Counter(what, pid, count_file, workdir)
    out = {}
    for label, path in paths:
        send(host, port, path, max(50, n // 10))  # warm-up
        c.start()
        took = send(host, port, path, n)
        busy = c.stop()
        if what == "syscalls":
            print(f"{label}: " + ", ".join(f"{k} {v / n:.2f}" for k, v in
                                           sorted(c.names.items(), key=lambda kv: -kv[1])))
        c.start()
        time.sleep(took)
        idle = c.stop()
        out[label] = (busy - idle) / n, busy / n
    return out


def wrapped(what, count_file, workdir, cmd):
    if what == "instructions":
        return ["valgrind", "--tool=callgrind", f"--callgrind-out-file={workdir}/callgrind.out.%p",
                "--dump-line=no", *cmd]
    return cmd


def env_for(what, count_file, lib):
    return {"LD_PRELOAD": lib, "MALLOC_COUNT_FILE": count_file} if what == "allocs" else {}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--what", default="allocs,syscalls,instructions")
    ap.add_argument("--requests", type=int, default=0, help="default: 20000 (2000 under callgrind)")
    ap.add_argument("--bin", help="the lrogate binary (default: build/lrogate, or $LROGATE_BIN)")
    ap.add_argument("--no-nginx", action="store_true")
    args = ap.parse_args()
    procs = Procs(args.bin)
    lib = os.path.join(procs.dir, "malloc_count.so")
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", lib, os.path.join(HERE, "malloc_count.c")],
                   check=True)
    rows = []
    try:
        _, sim = procs.sim("--duration", "0s")
        doc = "https://docs.example/bench.pdf"
        body202 = body200 = None
        for what in args.what.split(","):
            n = args.requests or (2000 if what == "instructions" else 20000)
            wdir = os.path.join(procs.dir, what)
            os.makedirs(wdir)
            count_file = os.path.join(wdir, "count")
            port = free_port()
            gw = f"http://127.0.0.1:{port}"
            cmd = [procs.bin, "serve", "--listen", f"127.0.0.1:{port}", "--upstream-endpoint", sim,
                   "--store", f"sqlite:{wdir}/gw.db", *GW_FLAGS]
            p = procs.start(wrapped(what, count_file, wdir, cmd), f"gw-{what}",
                            env={"AZURE_CU_KEY": KEY, **env_for(what, count_file, lib)})
            wait_http(f"{gw}/healthz", timeout=120)
            running = post(f"{gw}/pro-mode/content-analyzers/pro-demo:analyze",
                           {"url": doc + "?sim_duration=1h"})["operationId"]
            done = post(f"{gw}/pro-mode/content-analyzers/pro-demo:analyze",
                        {"url": doc + "?sim_duration=0s&sim_result_bytes=1500"})["operationId"]
            deadline = time.time() + 60
            while get(f"{gw}/operations/{done}")[1].find(b'"Succeeded"') < 0 and time.time() < deadline:
                time.sleep(0.2)
            r202 = f"/pro-mode/content-analyzers/pro-demo/results/{running}"
            r200 = f"/pro-mode/content-analyzers/pro-demo/results/{done}"
            s202, body202 = get(gw + r202)
            s200, body200 = get(gw + r200)
            assert (s202, s200) == (202, 200), (s202, s200)
            res = measure(what, p.pid, "127.0.0.1", port, [("202", r202), ("200", r200)], n,
                          count_file, wdir)
            rows += [(what, "lrogate", k, v, n) for k, v in res.items()]
            p.send_signal(signal.SIGTERM)
            p.wait(60)
            if args.no_nginx:
                continue
            nport = free_port()
            www = os.path.join(wdir, "www")
            os.makedirs(www)
            open(os.path.join(www, "r202.json"), "wb").write(body202)
            open(os.path.join(www, "r200.json"), "wb").write(body200)
            conf = os.path.join(wdir, "nginx.conf")
            open(conf, "w").write(f"""
master_process off; worker_processes 1; daemon off;
pid {wdir}/nginx.pid; error_log {wdir}/error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off; default_type application/json;
  client_body_temp_path {wdir}; proxy_temp_path {wdir}; fastcgi_temp_path {wdir};
  uwsgi_temp_path {wdir}; scgi_temp_path {wdir};
  server {{ listen 127.0.0.1:{nport}; root {www}; keepalive_requests 1000000; }}
}}""")
            np_ = procs.start(wrapped(what, count_file, wdir, ["nginx", "-c", conf]), f"nginx-{what}",
                              env=env_for(what, count_file, lib))
            wait_http(f"http://127.0.0.1:{nport}/r200.json", timeout=120)
            res = measure(what, np_.pid, "127.0.0.1", nport, [("202", "/r202.json"), ("200", "/r200.json")],
                          n, count_file, wdir)
            rows += [(what, "nginx", k, v, n) for k, v in res.items()]
            np_.send_signal(signal.SIGTERM)
            np_.wait(60)
        print(f"bodies: 202 = {len(body202)} B, 200 = {len(body200)} B; one keep-alive connection\n")
        print("| count | server | answer | per request (idle subtracted) | per request (raw) | requests |")
        print("|---|---|---|---|---|---|")
        for what, server, kind, (net, raw), n in rows:
            print(f"| {what} | {server} | {kind} | {net:,.1f} | {raw:,.1f} | {n} |")
    finally:
        if not os.environ.get("KEEP"): procs.close()
        else: print(procs.dir)


if __name__ == "__main__":
    sys.exit(main())
