#!/usr/bin/env python3
"""Benchmark 14: completion to receiver (issue 18: 10,000 completions with a
healthy receiver, delivery p99 ≤ 100 ms after the final transition).

N operations (durations 1.5–6 s, submitted over --spread seconds) on one
gateway (SQLite, `--poll-interval 1s`), each submitted with a callbackUrl to a
receiver of this script's own (an HTTP server that answers 204 and records
when each event arrived). Latency = the moment the receiver holds the event −
the moment the simulator received the poll that found the operation done
(bench 5's measure: the poll schedule's delay is taken out, what is left is
the gateway's own path: the poll's answer, the completion's transaction with
its outbox row, the dispatcher's claim, the signed POST).

Beside it, in the same run and on the same gateway, a reference: --clients
operations more, each with a callback and also long-polled by a client
(`Prefer: wait=30` on /operations/{id}: bench 5's path), so one completion
is measured both ways.

    python3 bench/webhook_delivery.py [--ops 10000] [--spread 50] [--clients 200]
"""
import argparse
import base64
import json
import os
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import Procs, get, percentile, run_open_loop, http_post_bytes


def post_json(url, body):
    import urllib.request
    req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ops", type=int, default=10000)
    ap.add_argument("--spread", type=float, default=50.0, help="seconds the submits are spread over")
    ap.add_argument("--clients", type=int, default=200, help="operations also long-polled")
    ap.add_argument("--gateway-arg", action="append", default=[],
                    help="one more argument for lrogate serve (repeatable)")
    args = ap.parse_args()

    arrived = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            at = time.time() * 1000
            with lock:
                arrived.setdefault(self.headers["webhook-id"], at)
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a):
            pass

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.daemon_threads = True
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{receiver.server_address[1]}/hook"

    procs = Procs()
    try:
        secrets = os.path.join(procs.dir, "secrets.txt")
        with open(secrets, "w") as f:
            f.write("default:whsec_" + base64.b64encode(os.urandom(32)).decode() + "\n")
        _, sim = procs.sim()
        _, gw = procs.gateway(sim, "--poll-interval", "1s", "--upstream-rps", "0",
                              "--client-poll-rate", "0", "--max-polls", "0",
                              "--max-inflight-polls", "256",
                              "--webhook-allowed-hosts", "127.0.0.1",
                              "--webhook-allowed-networks", "127.0.0.1/32",
                              "--webhook-secrets-file", secrets, *args.gateway_arg)
        rng = random.Random(14)
        docs = [f"https://docs.example/w{i}.pdf?sim_duration={rng.randint(1500, 6000)}ms"
                for i in range(args.ops)]
        host_port = gw.split("//", 1)[1]
        host, port = host_port.rsplit(":", 1)

        def make(i):
            return http_post_bytes(host_port, "/operations",
                                   {"analyzerId": "pro-demo", "documentUrl": docs[i],
                                    "callbackUrl": hook})

        rate = args.ops / args.spread
        started = time.time()
        results, _ = run_open_loop(None, None, make, rate=rate, seconds=(args.ops + 0.5) / rate,
                                   connections=8, max_connections=64,
                                   targets=[(host, int(port))], keep_head=True)
        ids = [None] * args.ops
        for _, status, body, i, _ in results:
            if status == 202:
                ids[i] = json.loads(body)["id"]
        if None in ids:
            raise SystemExit(f"{ids.count(None)} of {args.ops} submits were not accepted")

        deadline = time.time() + 300
        while time.time() < deadline:
            with lock:
                if sum(1 for i in ids if f"msg_{i}" in arrived) >= len(ids):
                    break
            time.sleep(0.5)

        # The reference: operations each submitted with a callback and
        # long-polled by a client, the same event seen both ways.
        held, polled = {}, []

        def client(k):
            body = {"analyzerId": "pro-demo", "callbackUrl": hook,
                    "documentUrl": f"https://docs.example/r{k}.pdf?sim_duration={1500 + 20 * k}ms"}
            op_id = json.loads(post_json(f"{gw}/operations", body))["id"]
            polled.append(op_id)
            while True:
                status, reply = get(f"{gw}/operations/{op_id}", {"Prefer": "wait=30"})
                if status == 200 and json.loads(reply)["status"] in ("Succeeded", "Failed"):
                    held[op_id] = time.time() * 1000
                    return

        threads = [threading.Thread(target=client, args=(k,)) for k in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        time.sleep(1)
        wall = time.time() - started

        def done_seen_at(op_id):
            st = json.loads(get(f"{sim}/_sim/operations/{op_id}")[1])
            return st["created_ms"] + st["poll_offsets_ms"][-1]

        seen = {op_id: done_seen_at(op_id) for op_id in ids + polled}
        hook_lat = [arrived[f"msg_{i}"] - seen[i] for i in ids if f"msg_{i}" in arrived]
        ref_hook = [arrived[f"msg_{i}"] - seen[i] for i in polled if f"msg_{i}" in arrived]
        poll_lat = [held[i] - seen[i] for i in polled if i in held]
        missing = len(ids) - len(hook_lat)
        print(f"{args.ops} operations over {args.spread:.0f} s (durations 1.5-6 s, poll interval 1 s, "
              f"SQLite), then {len(polled)} more each also long-polled; {wall:.0f} s in all; "
              f"{missing} events not received\n")
        print("| path | n | p50 ms | p99 ms | max ms |")
        print("|---|---|---|---|---|")
        for name, lat in (("webhook: final poll → receiver holds the event", hook_lat),
                          ("webhook, the long-polled operations", ref_hook),
                          ("reference, long-poll: final poll → client holds the 200", poll_lat)):
            print(f"| {name} | {len(lat)} | {percentile(lat, 50):.1f} | {percentile(lat, 99):.1f} "
                  f"| {max(lat, default=float('nan')):.1f} |")
        if ref_hook and poll_lat:
            print(f"\nsame operations, webhook p99 / long-poll p99: "
                  f"{percentile(ref_hook, 99) / percentile(poll_lat, 99):.2f}")
        return 1 if missing else 0
    finally:
        procs.close()
        receiver.shutdown()


if __name__ == "__main__":
    sys.exit(main())
