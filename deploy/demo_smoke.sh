#!/usr/bin/env bash
# Keeps the README's quick start true: runs deploy/demo.sh for a short while on free ports with a prebuilt
# binary and checks what a first-time user would see, then that the demo stops cleanly (exit 0).
#
# Usage: BIN=target/debug/zaehlwerk deploy/demo_smoke.sh
# Checks: /readyz answers 200; the facility manager sees the three buildings with live values; the main
# meter's history (written by the simulator's `history`) covers the last day; today's energy so far is
# complete; every device of the Kita (Shelly Pro 3EM) and the parks (LSE01, DL-TRS21) delivers live values;
# hh-14's dynamic tariff is priced from the simulated day-ahead prices on the bus;
# the resident token cannot see another household (404); the household demo.sh onboarded through the admin
# API activates with its printed code and its resident sees it and nothing else; the demo exits 0 after
# --duration.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${BIN:-$ROOT/target/debug/zaehlwerk}
DURATION=${DURATION:-45}
[[ -x $BIN ]] || {
  echo "demo smoke: no binary at $BIN (build it first)" >&2
  exit 1
}

# N distinct free ports: every socket stays bound until all are chosen (one at a time, the kernel may hand out
# the same port twice).
free_ports() {
  python3 -c 'import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}
STATE=$(mktemp -d)
OUT=$STATE/demo.out
cleanup() {
  if [[ -n ${DEMO_PID:-} ]]; then kill "$DEMO_PID" 2>/dev/null || true; fi
  rm -rf "$STATE"
}
trap cleanup EXIT
fail() {
  echo "demo smoke: FAILED: $*" >&2
  for f in "$STATE"/state/logs/*.log; do
    [[ -f $f ]] && { printf '==> %s <==\n' "$f" >&2; tail -n 30 "$f" >&2; }
  done
  exit 1
}

read -r API_PORT MQTT_PORT INFLUX_PORT MODBUS_PORT < <(free_ports 4)
ZW_BIN=$BIN ZW_STATE=$STATE/state ZW_MQTT_PORT=$MQTT_PORT ZW_INFLUX_PORT=$INFLUX_PORT ZW_API_PORT=$API_PORT \
  ZW_MODBUS_PORT=$MODBUS_PORT "$ROOT/deploy/demo.sh" --duration "$DURATION" >"$OUT" 2>"$STATE/demo.err" &
DEMO_PID=$!

# demo.sh prints its summary once the API is ready.
for _ in $(seq 1 240); do
  grep -q '^token parks:' "$OUT" 2>/dev/null && break
  kill -0 "$DEMO_PID" 2>/dev/null || fail "demo.sh exited before it was ready: $(tail -n 5 "$STATE/demo.err")"
  sleep 0.5
done
grep -q '^token parks:' "$OUT" || fail "no summary from demo.sh within 120 s"
FM=$(awk '/^token facility_manager:/ {print $3}' "$OUT")
RES=$(awk '/^token resident:/ {print $3}' "$OUT")
API=http://127.0.0.1:$API_PORT
get() { curl -sS --max-time 10 -H "Authorization: Bearer $1" "$API$2"; }
code() { curl -sS --max-time 10 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $1" "$API$2"; }

[[ $(curl -sS -o /dev/null -w '%{http_code}' "$API/readyz") == 200 ]] || fail "/readyz is not 200"
sites=$(get "$FM" /api/v1/sites)
for s in rathaus grundschule kita; do
  [[ $sites == *"\"id\":\"$s\""* ]] || fail "facility manager does not see $s: $sites"
done
# Live values arrive within a few poll intervals.
for _ in $(seq 1 60); do
  live=$(get "$FM" /api/v1/devices/rathaus-main/live)
  [[ $live == *'"active_power"'* ]] && break
  sleep 0.5
done
[[ $live == *'"active_power"'* ]] || fail "no live power for rathaus-main: $live"
# Two days of history, 1-minute steps: the last day in 15-minute windows is (nearly) complete.
windows=$(get "$FM" '/api/v1/devices/rathaus-main/history?quantity=active_power&window=15m' | grep -o '"ts"' | wc -l)
((windows >= 90)) || fail "only $windows of 96 15-minute windows of history for rathaus-main"
# Today is running: the energy so far is covered up to the latest readings (history + live).
today=$(get "$FM" '/api/v1/sites/rathaus/energy?period=day&count=1')
[[ $today == *'"total":{'*'"complete":true,"ongoing":true'* ]] || fail "today's energy is not complete so far: $today"
# One device of every MQTT family: Shelly Pro 3EM, LSE01 and DL-TRS21 via The Things Stack.
PARKS=$(awk '/^token parks:/ {print $3}' "$OUT")
for d in "$FM kita-main active_power" "$PARKS lse01-park-1 soil_moisture" "$PARKS trs21-park-3 soil_water_tension"; do
  read -r tok dev q <<<"$d"
  for _ in $(seq 1 60); do
    live=$(get "$tok" "/api/v1/devices/$dev/live")
    [[ $live == *"\"$q\""* ]] && break
    sleep 0.5
  done
  [[ $live == *"\"$q\""* ]] || fail "no live $q for $dev: $live"
done
[[ $(code "$RES" /api/v1/devices/hh-14-washer/live) == 404 ]] || fail "the resident sees another household"
ADMIN=$(awk '/^token admin:/ {print $3}' "$OUT")
[[ -n $ADMIN && $(code "$ADMIN" /api/v1/devices/hh-14-washer/live) == 200 ]] || fail "the admin token does not see every household"
# hh-14's dynamic tariff prices today from the simulator's day-ahead prices on the bus.
for _ in $(seq 1 60); do
  cost=$(get "$ADMIN" '/api/v1/sites/hh-14/cost?period=day&count=1')
  [[ $cost == *'"id":"dynamisch"'* && $cost == *'"gross_cents":'[0-9]* ]] && break
  sleep 0.5
done
[[ $cost == *'"id":"dynamisch"'* && $cost == *'"gross_cents":'[0-9]* ]] || fail "hh-14 is not priced by the bus prices: $cost"
# demo.sh onboarded a household through the admin API: its code activates a resident who sees it, only it.
CODE=$(awk '/^household hh-demo activation code:/ {print $5}' "$OUT")
[[ -n $CODE && $CODE != none ]] || fail "demo.sh printed no activation code: $(grep -i onboard "$STATE/demo.err" || true)"
activated=$(curl -sS --max-time 10 -H 'Content-Type: application/json' -d "{\"code\":\"$CODE\"}" "$API/api/v1/activate")
HH=$(printf '%s' "$activated" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
[[ -n $HH ]] || fail "activating the demo household's code failed: $activated"
[[ $(code "$HH" /api/v1/sites/hh-demo/live) == 200 ]] || fail "the activated resident does not see hh-demo"
[[ $(code "$HH" /api/v1/devices/hh-14-washer/live) == 404 ]] || fail "the activated resident sees another household"
echo "demo smoke: ready, live values of every device family, $windows history windows, today so far, bus prices, resident scope ok, admin token ok, household onboarded and activated"

wait "$DEMO_PID" || fail "demo.sh exited with $? after --duration"
DEMO_PID=
echo "demo smoke: demo.sh stopped cleanly"
