"""Large JSON bodies: what one costs the gateway (peak RSS, RSS held after it,
/healthz latency while it is handled), beside an ordinary submit in the same
run. The cases are the probe's: 60 MB of small elements to POST /operations
(6,000,000 {"x":[1]}) and to :analyze (20,000,000 []), and a legitimate
60 MB base64 input to :analyze. Each case gets a fresh gateway, so VmHWM is
that request's peak. The upstream is a sink (it reads the body and answers
202), so the simulator's own parsing is not in the figures. Loopback only.

    python3 bench/body_amplification.py [--mb 60] [--allocator glibc|jemalloc|both]
        [--reference-bin PATH]   # also the same cases on another build (e.g. the commit before)
"""
import argparse
import http.client
import http.server
import json
import os
import socket
import threading
import time
import uuid

from harness import Procs, percentile

JEMALLOC = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"


class Sink(http.server.BaseHTTPRequestHandler):
    """An upstream that accepts every analysis and never finishes one."""
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        while n > 0:
            n -= len(self.rfile.read(min(n, 1 << 20)))
        op = uuid.uuid4().hex
        loc = f"http://{self.headers['Host']}/contentunderstanding/analyzerResults/{op}?api-version=2025-05-01-preview"
        self.send_response(202)
        self.send_header("Operation-Location", loc)
        self.send_header("Content-Type", "application/json")
        body = json.dumps({"id": op, "status": "NotStarted"}).encode()
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        body = b'{"status":"Running"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def bodies(mb):
    size = mb * 1_000_000
    elems = size // 10
    native = (b'{"analyzerId":"prebuilt-layout","input":{"url":"https://d/a.pdf","a":['
              + b'{"x":[1]},' * elems + b'{}]}}')
    arrays = b"[" + b"[]," * (size // 3) + b"[]]"
    data = b"QUJD" * (size // 4)
    base64 = b'{"inputs":[{"name":"a.pdf","data":"' + data + b'"}]}'
    return [
        ("ordinary submit (reference)", "/pro-mode/content-analyzers/prebuilt-layout:analyze",
         b'{"url":"https://d/a.pdf"}', []),
        (f"{mb} MB small elements, POST /operations", "/operations", native, []),
        (f"{mb} MB small elements, POST /operations, --max-json-body 64MiB", "/operations", native,
         ["--max-json-body", "64MiB"]),
        (f"{mb} MB [] elements, :analyze", "/pro-mode/content-analyzers/prebuilt-layout:analyze",
         arrays, []),
        (f"{mb} MB base64 input, :analyze", "/pro-mode/content-analyzers/prebuilt-layout:analyze",
         base64, []),
    ]


def read_status(sock):
    """The status of the next response on sock; its head and body are read."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            return 0
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return status


def send_expecting_100(port, path, body):
    """POSTs body as a client that honours an early answer: with Expect:
    100-continue, a refusal at the header (413) comes before any body byte."""
    s = socket.create_connection(("127.0.0.1", port), timeout=120)
    try:
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n".encode())
        status = read_status(s)
        if status != 100:
            return status
        s.sendall(body)
        return read_status(s)
    finally:
        s.close()


def run_case(procs, upstream, path, body, flags, env, name):
    p, url = procs.gateway(upstream, *flags, name=name, env=env)
    port = int(url.rsplit(":", 1)[1])
    time.sleep(0.3)
    before = status_kib(p.pid, "VmRSS")
    lat = []
    done = threading.Event()

    def probe():
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while not done.is_set():
            t0 = time.perf_counter()
            try:
                c.request("GET", "/healthz")
                c.getresponse().read()
                lat.append(time.perf_counter() - t0)
            except OSError:
                lat.append(30.0)
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            time.sleep(0.01)

    t = threading.Thread(target=probe)
    t.start()
    time.sleep(0.1)
    t0 = time.perf_counter()
    status = send_expecting_100(port, path, body)
    took = time.perf_counter() - t0
    time.sleep(0.2)
    done.set()
    t.join()
    peak = status_kib(p.pid, "VmHWM")
    time.sleep(2)
    held = status_kib(p.pid, "VmRSS")
    p.terminate()
    p.wait(15)
    return {"status": status, "seconds": took, "rss_before_mb": before / 1024,
            "peak_mb": peak / 1024, "cost_mb": (peak - before) / 1024, "held_after_mb": held / 1024,
            "healthz_p50_ms": percentile(lat, 50) * 1000, "healthz_p99_ms": percentile(lat, 99) * 1000,
            "healthz_max_ms": max(lat) * 1000 if lat else float("nan"), "probes": len(lat)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=60)
    ap.add_argument("--allocator", choices=["glibc", "jemalloc", "both"], default="both")
    ap.add_argument("--threads", type=int, default=1,
                    help="the gateway's I/O threads: with one, any work on it shows in /healthz "
                         "(with two, the probe may land on the other thread and hide a stall)")
    ap.add_argument("--reference-bin", help="another lrogate binary to run the cases on (glibc; "
                    "cases with flags it may not know are skipped)")
    args = ap.parse_args()
    sink = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    upstream = f"http://127.0.0.1:{sink.server_address[1]}"
    allocators = ["glibc", "jemalloc"] if args.allocator == "both" else [args.allocator]
    if "jemalloc" in allocators and not os.path.exists(JEMALLOC):
        print(f"(no {JEMALLOC}: apt-get install libjemalloc2; jemalloc skipped)")
        allocators.remove("jemalloc")
    runs = [(alloc, None) for alloc in allocators]
    if args.reference_bin:
        runs.append(("glibc", args.reference_bin))
    rows = []
    try:
        for alloc, binary in runs:
            procs = Procs(binary)
            env = {"LD_PRELOAD": JEMALLOC} if alloc == "jemalloc" else {}
            try:
                for i, (label, path, body, flags) in enumerate(bodies(args.mb)):
                    if binary and flags:  # the reference may not know them
                        continue
                    r = run_case(procs, upstream, path, body,
                                 ["--threads", str(args.threads), *flags], env, f"gw-{alloc}-{i}")
                    r.update(case=label, allocator=alloc + (" (reference build)" if binary else ""))
                    rows.append(r)
                    print(json.dumps(r), flush=True)
            finally:
                procs.close()
    finally:
        sink.shutdown()
    print()
    print("| allocator | case | answer | s | peak MB (cost over idle) | held after, MB | /healthz p50 / p99 / max ms |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['allocator']} | {r['case']} | {r['status']} | {r['seconds']:.2f} | "
              f"{r['peak_mb']:.0f} ({r['cost_mb']:+.0f}) | {r['held_after_mb']:.0f} | "
              f"{r['healthz_p50_ms']:.1f} / {r['healthz_p99_ms']:.1f} / {r['healthz_max_ms']:.1f} |")


if __name__ == "__main__":
    main()
