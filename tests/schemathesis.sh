#!/usr/bin/env bash
# Schemathesis (PyPI, pinned) against a running `serve` of the debug build: every operation of
# /api/openapi.json with generated and hostile parameters; no answer may be a 5xx, a dropped
# connection, or a body that breaks the document's schema. The seed is fixed so a failure is
# reproducible; `SCHEMATHESIS_EXAMPLES` and `SCHEMATHESIS_SEED` run it longer or differently.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .tools/st-venv/bin/schemathesis ]; then
    echo "tests/schemathesis.sh: installing schemathesis 4.32.5 into .tools/st-venv"
    python3 -m venv .tools/st-venv
    .tools/st-venv/bin/pip install --quiet schemathesis==4.32.5
fi
binary=target/debug/entra-monitor
[ -x "$binary" ] || cargo build -p entra-monitor
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ENTRA_MONITOR_DATA_DIR="$work/data" ENTRA_MONITOR_LISTEN="127.0.0.1:$port" \
ENTRA_MONITOR_SIMULATED_USERS=25 ENTRA_MONITOR_BACKFILL_HOURS=2 ENTRA_MONITOR_SIMULATED_BUDGET=1000 \
    "$binary" serve >"$work/serve.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/api/health" && break
    sleep 0.2
done
key=$(cat "$work/data/local-admin-key")
.tools/st-venv/bin/schemathesis run "http://127.0.0.1:$port/api/openapi.json" \
    --checks not_a_server_error,response_schema_conformance \
    --max-examples "${SCHEMATHESIS_EXAMPLES:-40}" --seed "${SCHEMATHESIS_SEED:-19}" \
    -H "x-api-key: $key" --no-color
