#!/usr/bin/env bash
# API latency benchmark (issue 7 targets): live value of a device p99 < 2 ms at 5,000 requests/s, and one day
# of 1-minute history p99 < 50 ms.
#
# Runs the real demo system (deploy/demo.sh: mosquitto, influxd, simulator, `zaehlwerk all`) on free ports
# from the release build, loads one day of 5-second readings (17,280 points) into InfluxDB, checks that the
# history answer holds ~1,440 one-minute windows, then drives the API with the constant-rate, open-loop load
# generator `api/examples/loadgen.rs` (latency from each request's intended send time, so no coordinated
# omission). In the same run it measures the ceilings: `/healthz` closed loop as fast as possible, and
# `/healthz` at the same 5,000 req/s (what the HTTP stack, generator and machine cost without any handler work).
#
# Usage: bench/api.sh [SECONDS_PER_PHASE] [RUNS]   (defaults 20 and 1)
# Build first: cargo build --release && cargo build --release -p zw-api --example loadgen
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECS=${1:-20}
RUNS=${2:-1}
LOADGEN=$ROOT/target/release/examples/loadgen
export ZW_BIN=${ZW_BIN:-$ROOT/target/release/zaehlwerk}
[[ -x $LOADGEN && -x $ZW_BIN ]] || {
  echo "bench: build first: cargo build --release && cargo build --release -p zw-api --example loadgen" >&2
  exit 2
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export ZW_STATE=${ZW_STATE:-$(mktemp -d /tmp/zw-bench-api.XXXXXX)}
ZW_MQTT_PORT=$(free_port) ZW_INFLUX_PORT=$(free_port) ZW_API_PORT=$(free_port) ZW_MODBUS_PORT=$(free_port)
export ZW_MQTT_PORT ZW_INFLUX_PORT ZW_API_PORT ZW_MODBUS_PORT
export ZW__API__RATE_LIMIT_PER_SECOND=0 # measure the API, not the limiter
API=http://127.0.0.1:$ZW_API_PORT
INFLUX=http://127.0.0.1:$ZW_INFLUX_PORT

"$ROOT/deploy/demo.sh" --duration 3600 >"$ZW_STATE/demo.out" 2>"$ZW_STATE/demo.err" &
DEMO=$!
trap 'kill -TERM $DEMO 2>/dev/null; wait $DEMO 2>/dev/null || true' EXIT
for _ in $(seq 600); do
  grep -q '^token parks:' "$ZW_STATE/demo.out" 2>/dev/null && break
  kill -0 $DEMO 2>/dev/null || {
    cat "$ZW_STATE/demo.err" >&2
    exit 1
  }
  sleep 0.5
done
FM=$(sed -n 's/^token facility_manager: //p' "$ZW_STATE/demo.out")
AUTH="Authorization: Bearer $FM"

# One day of 5-second readings ending now, for one meter.
now_ms=$(($(date +%s) * 1000))
awk -v now="$now_ms" 'BEGIN { for (i = 17280; i > 0; i--) printf "readings,device=grundschule-main,site=grundschule active_power=%.1f %.0f\n", 800 + (i % 720), now - i * 5000 }' \
  >"$ZW_STATE/day.lp"
curl -sf -XPOST "$INFLUX/write?db=zaehlwerk&precision=ms" --data-binary @"$ZW_STATE/day.lp"

# Wait until the meter has a live value.
for _ in $(seq 100); do
  curl -sf -H "$AUTH" "$API/api/v1/devices/rathaus-main/live" | grep -q energy_import && break
  sleep 0.2
done

from=$(date -u -d '-24 hours' +%Y-%m-%dT%H:%M:%SZ)
HIST="$API/api/v1/devices/grundschule-main/history?quantity=active_power&window=1m&from=$from"
windows=$(curl -sf -H "$AUTH" "$HIST" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["points"]))')
((windows >= 1430)) || {
  echo "bench: history holds only $windows windows, expected ~1440" >&2
  exit 1
}

# CPU time (user + system, in clock ticks) of the `zaehlwerk all` process serving the API, to report the server's
# CPU cost per request next to the latency: a figure that does not depend on how busy the machine is.
SERVER_PID=$(ss -Hltnp "sport = :$ZW_API_PORT" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1)
TICKS=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat"; }
idle_ticks_per_s() { local a; a=$(cpu_ticks); sleep 5; echo "scale=2; ($(cpu_ticks) - $a) / 5" | bc; }

gen() { "$LOADGEN" --duration "$SECS" --warmup 2 "$@"; }
# Runs the generator and appends the server's CPU µs per request (background use subtracted).
measured() {
  local before out after n
  before=$(cpu_ticks)
  out=$(gen "$@")
  after=$(cpu_ticks)
  n=$(field requests <<<"$out")
  echo "$out cpu_us_per_req=$(echo "scale=1; (($after - $before) - $IDLE * ($SECS + 2)) * 1000000 / $TICKS / ($n * ($SECS + 2) / $SECS)" | bc)"
}
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p"; }
row() { # name, target, loadgen output
  printf '%-44s %6s req/s  p50 %6s  p99 %7s  p99.9 %7s  max %7s ms  server CPU %6s µs/req  (service p99 %s, send lag p99 %s; non-2xx %s, errors %s) %s\n' \
    "$1" "$(field rate <<<"$3")" "$(field p50_ms <<<"$3")" "$(field p99_ms <<<"$3")" "$(field p999_ms <<<"$3")" \
    "$(field max_ms <<<"$3")" "$(field cpu_us_per_req <<<"$3")" "$(field service_p99_ms <<<"$3")" \
    "$(field send_lag_p99_ms <<<"$3")" "$(field non_2xx <<<"$3")" "$(field errors <<<"$3")" "$2"
}

echo "history answer: $windows one-minute windows, $(curl -sf -H "$AUTH" "$HIST" | wc -c) bytes"
for run in $(seq "$RUNS"); do
  echo "run $run: load before: $(uptime | sed 's/.*load average/load average/')"
  IDLE=$(idle_ticks_per_s)
  echo "server background CPU (simulator feed, ingest, analytics): $(echo "scale=1; $IDLE * 100 / $TICKS" | bc) % of a core"
  row "ceiling /healthz closed loop, 16 conns" "" "$(measured --rate 0 -c 16 --url "$API/healthz")"
  row "ceiling /healthz at 5,000/s, 50 conns" "" "$(measured --rate 5000 -c 50 --url "$API/healthz")"
  row "live /devices/{id}/live at 5,000/s, 50 conns" "(target p99 < 2 ms)" \
    "$(measured --rate 5000 -c 50 -H "$AUTH" --url "$API/api/v1/devices/rathaus-main/live")"
  row "history 1 day 1 min at 20/s, 4 conns" "(target p99 < 50 ms)" \
    "$(measured --rate 20 -c 4 -H "$AUTH" --url "$HIST")"
  echo "run $run: load after:  $(uptime | sed 's/.*load average/load average/')"
done
