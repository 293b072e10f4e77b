#!/usr/bin/env bash
# The run command: installs what is missing, builds, and starts the gateway on
# its embedded default store (SQLite, ./lrogate.db) on 127.0.0.1:8080.
# With AZURE_CU_ENDPOINT set, and AZURE_CU_KEY or an Entra ID mode
# (LROGATE_UPSTREAM_AUTH=client-credentials|managed-identity), it talks to
# Azure; otherwise it also starts the built-in simulator on 127.0.0.1:9090.
# Extra arguments go to `lrogate serve` (e.g. --poll-interval 3s).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --run
BUILD_TESTING=OFF bash scripts/build.sh >/dev/null
BIN="$PWD/build/lrogate"
LISTEN="${LROGATE_LISTEN:-127.0.0.1:8080}"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

if [[ -z "${AZURE_CU_ENDPOINT:-}" || ( -z "${AZURE_CU_KEY:-}" && "${LROGATE_UPSTREAM_AUTH:-key}" == "key" ) ]]; then
  SIM_LISTEN="${LROGATE_SIM_LISTEN:-127.0.0.1:9090}"
  export AZURE_CU_ENDPOINT="http://$SIM_LISTEN"
  export AZURE_CU_KEY="local-sim-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  "$BIN" simulate --listen "$SIM_LISTEN" --key "$AZURE_CU_KEY" --duration 20s 2>>simulator.log &
  pids+=($!)
  echo "simulator: http://$SIM_LISTEN (log: simulator.log; analyses take 20s)"
else
  echo "upstream: $AZURE_CU_ENDPOINT"
fi

"$BIN" serve --listen "$LISTEN" --store "sqlite:lrogate.db" "$@" &
pids+=($!)
sleep 1
cat <<MSG

lrogate is serving on http://$LISTEN  (Ctrl-C stops it)
Dashboard: http://$LISTEN/ui

Submit a document:
  curl -s -X POST http://$LISTEN/pro-mode/content-analyzers/prebuilt-documentAnalyzer:analyze \\
       -H 'Content-Type: application/json' -d '{"url":"https://example.com/invoice.pdf"}'
Poll it (202 while processing, 200 with the result, 500 if it failed):
  curl -s http://$LISTEN/pro-mode/content-analyzers/prebuilt-documentAnalyzer/results/OPERATION_ID
Or the status monitor:
  curl -s http://$LISTEN/operations/OPERATION_ID

MSG
wait "${pids[-1]}"
