#!/usr/bin/env python3
"""Status polls with OIDC bearer tokens beside the same polls with API keys,
in one run on one gateway (both on), plus an open gateway for reference.

wrk -t2 -c64 (keep-alive) against GET /operations/{id} of a running
operation the caller owns: one submitted with an API key (its tenant), one
with a token minted by the simulator's issuer (its user). Rounds alternate
the two; medians. Goal: tokens >= 0.9x keys (a verified token is cached by
its hash, so a poll costs a SHA-256 and a lookup, not an RSA check).
Loopback only, bounded in time. Needs wrk.

    python3 bench/auth_polls.py [--seconds 5] [--rounds 3]
"""
import argparse
import json
import os
import statistics
import urllib.request

from harness import Procs, get, post
from status_poll import wrk

KEY = "bench-client-key-0123456789"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    procs = Procs()
    try:
        _, sim = procs.sim("--duration", "0s")
        issuer = f"{sim}/_sim/oidc"
        keys = os.path.join(procs.dir, "keys.txt")
        with open(keys, "w") as f:
            f.write(f"bench:{KEY}\n")
        common = ["--client-poll-rate", "0", "--max-polls", "0", "--poll-interval", "10s"]
        _, gw = procs.gateway(sim, *common, "--api-keys-file", keys, "--oidc-issuer", issuer,
                              "--oidc-audience", "api://lrogate", name="gw")
        _, open_gw = procs.gateway(sim, *common, name="open")
        req = urllib.request.Request(f"{issuer}/token", data=json.dumps({"oid": "bench-user"}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            token = json.loads(r.read())["access_token"]
        body = {"analyzerId": "pro-demo", "documentUrl": "https://docs.example/b.pdf?sim_duration=1h"}
        by_key = post(f"{gw}/operations", body, {"api-key": KEY})["id"]
        by_token = None
        for _ in range(50):  # the gateway fetches the issuer's keys at start
            try:
                by_token = post(f"{gw}/operations", body, {"Authorization": f"Bearer {token}"})["id"]
                break
            except Exception:
                import time
                time.sleep(0.1)
        open_op = post(f"{open_gw}/operations", body)["id"]
        assert get(f"{gw}/operations/{by_token}", {"Authorization": f"Bearer {token}"})[0] == 200
        rows = {"API key": [], "OIDC token": [], "no auth (open gateway)": []}
        for _ in range(args.rounds):
            rows["API key"].append(wrk(f"{gw}/operations/{by_key}", args.seconds,
                                       [f"api-key: {KEY}"]))
            rows["OIDC token"].append(wrk(f"{gw}/operations/{by_token}", args.seconds,
                                          [f"Authorization: Bearer {token}"]))
            rows["no auth (open gateway)"].append(wrk(f"{open_gw}/operations/{open_op}", args.seconds))
        med = {k: statistics.median(r for r, _, _ in v) for k, v in rows.items()}
        print(f"wrk -t2 -c64 -d{args.seconds}s, {args.rounds} rounds, medians; GET /operations/{{id}} (running)\n")
        print("| credential | requests/s | non-2xx | vs API key |")
        print("|---|---|---|---|")
        for k, v in rows.items():
            print(f"| {k} | {med[k]:,.0f} | {sum(n for _, _, n in v)} | {med[k] / med['API key']:.2f}x |")
    finally:
        procs.close()


if __name__ == "__main__":
    main()
