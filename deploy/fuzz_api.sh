#!/usr/bin/env bash
# Fuzzes the API against its own OpenAPI document with schemathesis: every check (server errors, undocumented
# status codes and content types, response schemas, …) on every route but the live stream, as the demo's
# administrator. Not part of deploy/test.sh: it installs schemathesis from PyPI, which CI may not reach.
#
# Usage: deploy/fuzz_api.sh [extra schemathesis run arguments, e.g. --max-examples 50]
#   BIN     [<repo>/target/debug/zaehlwerk]  the binary the demo runs (built with `cargo build -p zaehlwerk`
#           if it is missing)
#   VENV    [/tmp/zw-fuzz-venv]               the Python venv holding schemathesis (made when missing)
#   RATE    [1000/m]                          request rate; below the demo's per-user rate limit (20/s)
#   KEEP    [empty]                           a folder to keep the demo's state, logs and the report in
# Exit status: schemathesis's (0: no failure found), or 1 if the demo did not start.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-$ROOT/target/debug/zaehlwerk}
VENV=${VENV:-/tmp/zw-fuzz-venv}
RATE=${RATE:-1000/m}

if [[ ! -x $BIN ]]; then
  (cd "$ROOT" && cargo build -p zaehlwerk)
fi
if [[ ! -x $VENV/bin/schemathesis ]]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet schemathesis
fi

# Four distinct free ports, every socket bound until all are chosen.
free_ports() {
  python3 -c 'import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}
WORK=${KEEP:-$(mktemp -d)}
mkdir -p "$WORK"
OUT=$WORK/demo.out
cleanup() {
  if [[ -n ${DEMO_PID:-} ]]; then
    kill "$DEMO_PID" 2>/dev/null || true
    wait "$DEMO_PID" 2>/dev/null || true
  fi
  [[ -n ${KEEP:-} ]] || rm -rf "$WORK"
}
trap cleanup EXIT

read -r API_PORT MQTT_PORT INFLUX_PORT MODBUS_PORT < <(free_ports 4)
ZW_BIN=$BIN ZW_STATE=$WORK/state ZW_MQTT_PORT=$MQTT_PORT ZW_INFLUX_PORT=$INFLUX_PORT ZW_API_PORT=$API_PORT \
  ZW_MODBUS_PORT=$MODBUS_PORT "$ROOT/deploy/demo.sh" >"$OUT" 2>"$WORK/demo.err" &
DEMO_PID=$!
for _ in $(seq 1 240); do
  grep -q '^token admin:' "$OUT" 2>/dev/null && break
  if ! kill -0 "$DEMO_PID" 2>/dev/null; then
    echo "fuzz_api: demo.sh exited before it was ready:" >&2
    tail -n 20 "$WORK/demo.err" >&2
    exit 1
  fi
  sleep 0.5
done
ADMIN=$(awk '/^token admin:/ {print $3}' "$OUT")
[[ -n $ADMIN ]] || {
  echo "fuzz_api: no admin token from demo.sh within 120 s" >&2
  exit 1
}
API=http://127.0.0.1:$API_PORT
curl -sS --fail --max-time 10 -o "$WORK/openapi.json" "$API/api/v1/openapi.json"

set +e
# The rules across two parameters (deploy/fuzz_hooks.py).
PYTHONPATH=$ROOT/deploy SCHEMATHESIS_HOOKS=fuzz_hooks "$VENV/bin/schemathesis" run "$WORK/openapi.json" --url "$API" -H "Authorization: Bearer $ADMIN" \
  --checks all --exclude-path /api/v1/stream --rate-limit="$RATE" "$@"
status=$?
set -e
echo "fuzz_api: schemathesis exit status $status (demo state in $WORK${KEEP:+, kept})"
exit "$status"
