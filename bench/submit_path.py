#!/usr/bin/env python3
"""Benchmark 3: the submit path.

An open-loop client sends analyze requests at a fixed rate (default 1,000/s)
for a few seconds, first straight to the simulator, then to lrogate in front
of the same simulator, alternating, ROUNDS times. Latency is measured from
each request's scheduled send time. Gateway overhead = gateway latency −
simulator latency at the same percentile, from the same run. Every gateway
answer must be a 202 with an operation id (each one is a row in its store).

    python3 bench/submit_path.py [--rate 1000] [--seconds 5] [--rounds 3]
"""
import argparse
import statistics
import sys

from harness import API_VERSION, KEY, Procs, http_post_bytes, percentile, run_open_loop


def measure(url, path, headers, rate, seconds):
    host, port = url.split("//")[1].split(":")
    hp = f"{host}:{port}"

    def req(i):
        return http_post_bytes(hp, path, {"url": f"https://docs.example/s{i}.pdf?sim_duration=1h"},
                               headers)

    results, late = run_open_loop(host, int(port), req, rate, seconds)
    lat = [r[0] * 1000 for r in results]
    ok = sum(1 for r in results if r[1] in (201, 202))
    return {"p50": percentile(lat, 50), "p99": percentile(lat, 99), "ok": ok, "n": len(results),
            "late": late, "rps": len(results) / seconds}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=float, default=1000)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    procs = Procs()
    try:
        _, sim = procs.sim("--duration", "1h")
        _, gw = procs.gateway(sim, "--upstream-rps", "1", "--poll-interval", "1h",
                              "--max-wait", "2h", "--result-ttl", "3h")
        direct_path = f"/contentunderstanding/analyzers/pro-demo:analyze?api-version={API_VERSION}"
        gw_path = "/pro-mode/content-analyzers/pro-demo:analyze"
        rows = {"simulator": [], "gateway": []}
        for _ in range(args.rounds):
            rows["simulator"].append(measure(sim, direct_path, {"Ocp-Apim-Subscription-Key": KEY},
                                             args.rate, args.seconds))
            rows["gateway"].append(measure(gw, gw_path, {}, args.rate, args.seconds))
        for name, rs in rows.items():
            bad = [r for r in rs if r["ok"] != r["n"]]
            if bad:
                raise SystemExit(f"{name}: {bad[0]['n'] - bad[0]['ok']} answers were not 202")
        med = {n: {k: statistics.median(r[k] for r in rs) for k in ("p50", "p99", "rps", "late")}
               for n, rs in rows.items()}
        over50 = [g["p50"] - s["p50"] for g, s in zip(rows["gateway"], rows["simulator"])]
        over99 = [g["p99"] - s["p99"] for g, s in zip(rows["gateway"], rows["simulator"])]
        print(f"open loop, {args.rate:.0f} submits/s for {args.seconds:.0f}s, 64 keep-alive "
              f"connections, {args.rounds} rounds, medians\n")
        print("| target | submits/s | p50 ms | p99 ms | started late |")
        print("|---|---|---|---|---|")
        for n in ("simulator", "gateway"):
            m = med[n]
            print(f"| {n} | {m['rps']:,.0f} | {m['p50']:.2f} | {m['p99']:.2f} | {m['late']:.0f} |")
        print(f"\ngateway overhead: p50 {statistics.median(over50):.2f} ms, "
              f"p99 {statistics.median(over99):.2f} ms (per round: "
              f"{', '.join(f'{o:.2f}' for o in over99)})")
    finally:
        procs.close()


if __name__ == "__main__":
    sys.exit(main())
