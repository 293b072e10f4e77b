#!/usr/bin/env bash
# Installs the benchmarks' packages, builds (Release-like RelWithDebInfo) and
# runs ten benchmarks of bench/RESULTS.md one after another, printing
# their tables. About 21 minutes on 2 cores; loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --bench
bash scripts/build.sh
cd bench
echo "## 1-2. status polls";            /usr/bin/python3 status_poll.py --seconds 5 --rounds 3
echo "## 3. submit path";               /usr/bin/python3 submit_path.py --rate 1000 --seconds 5 --rounds 3
echo "## 4. operations in flight";      /usr/bin/python3 inflight_scale.py --ops 100000
echo "## 5. completion to client";      /usr/bin/python3 completion_latency.py --ops 100
echo "## 6. recovery after kill -9";    /usr/bin/python3 recovery.py --ops 10000 --rounds 3
echo "## 7. PostgreSQL progress writes"; bash store_progress.sh --benchmark_repetitions=5 --benchmark_min_time=0.5
echo "## 8. large JSON bodies";         /usr/bin/python3 body_amplification.py
echo "## 9. polls with OIDC tokens";     /usr/bin/python3 auth_polls.py --seconds 5 --rounds 3
echo "## 11. upstream pool at its quota"; /usr/bin/python3 pool_throughput.py
