#!/usr/bin/env bash
# API latency benchmark (issue 7 targets): live value of a device p99 < 2 ms at 5,000 requests/s, and one day
# of 1-minute history p99 < 50 ms. Runs the real demo system (deploy/demo.sh) on free ports, loads one day of
# 5-second readings into InfluxDB, and drives the API with `hey` (Debian package) at a fixed request rate.
# The ceiling measured in the same run is `/healthz` at full speed: what this machine's HTTP stack and load
# generator manage at all.
#
# Usage: bench/api.sh [SECONDS_PER_RUN]   (default 10)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECS=${1:-10}
command -v hey >/dev/null || { echo "bench: installing hey" >&2; apt-get install -y -qq hey >/dev/null; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export ZW_STATE=${ZW_STATE:-$(mktemp -d /tmp/zw-bench-api.XXXXXX)}
export ZW_MQTT_PORT=$(free_port) ZW_INFLUX_PORT=$(free_port) ZW_API_PORT=$(free_port) ZW_MODBUS_PORT=$(free_port)
export ZW__API__RATE_LIMIT_PER_SECOND=0   # measure the API, not the limiter
API=http://127.0.0.1:$ZW_API_PORT
INFLUX=http://127.0.0.1:$ZW_INFLUX_PORT

"$ROOT/deploy/demo.sh" --duration 3600 >"$ZW_STATE/demo.out" 2>"$ZW_STATE/demo.err" &
DEMO=$!
trap 'kill -TERM $DEMO 2>/dev/null; wait $DEMO 2>/dev/null || true' EXIT
for _ in $(seq 600); do
  grep -q '^token parks:' "$ZW_STATE/demo.out" 2>/dev/null && break
  kill -0 $DEMO 2>/dev/null || { cat "$ZW_STATE/demo.err" >&2; exit 1; }
  sleep 0.5
done
FM=$(sed -n 's/^token facility_manager: //p' "$ZW_STATE/demo.out")

# One day of 5-second readings (17,280 points) ending now, for one meter.
now_ms=$(($(date +%s) * 1000))
awk -v now="$now_ms" 'BEGIN { for (i = 17280; i > 0; i--) printf "readings,device=grundschule-main,site=grundschule active_power=%.1f %.0f\n", 800 + (i % 720), now - i * 5000 }' \
  >"$ZW_STATE/day.lp"
curl -sf -XPOST "$INFLUX/write?db=zaehlwerk&precision=ms" --data-binary @"$ZW_STATE/day.lp"

# Wait until the meter has a live value.
for _ in $(seq 100); do
  curl -sf -H "Authorization: Bearer $FM" "$API/api/v1/devices/rathaus-main/live" | grep -q energy_import && break
  sleep 0.2
done

p99() { awk '/99% in/ { printf "%.2f", $3 * 1000 }'; }
rps() { awk '/Requests\/sec/ { printf "%.0f", $2 }'; }
run() { hey -z "${SECS}s" "$@" 2>&1; }

ceiling=$(run -c 50 "$API/healthz")
live=$(run -c 50 -q 100 -H "Authorization: Bearer $FM" "$API/api/v1/devices/rathaus-main/live")
from=$(date -u -d '-24 hours' +%Y-%m-%dT%H:%M:%SZ)
hist=$(run -c 10 -q 10 -H "Authorization: Bearer $FM" \
  "$API/api/v1/devices/grundschule-main/history?quantity=active_power&window=1m&from=$from")
points=$(curl -sf -H "Authorization: Bearer $FM" \
  "$API/api/v1/devices/grundschule-main/history?quantity=active_power&window=1m&from=$from" | grep -o '"value"' | wc -l)

printf 'ceiling  /healthz, 50 connections, unthrottled:   %s req/s, p99 %s ms\n' "$(rps <<<"$ceiling")" "$(p99 <<<"$ceiling")"
printf 'live     /devices/{id}/live at 5,000 req/s target: %s req/s, p99 %s ms (target < 2 ms)\n' "$(rps <<<"$live")" "$(p99 <<<"$live")"
printf 'history  1 day, 1-minute windows (%s points), 100 req/s: %s req/s, p99 %s ms (target < 50 ms)\n' \
  "$points" "$(rps <<<"$hist")" "$(p99 <<<"$hist")"
printf 'status codes (live): %s\n' "$(grep -A3 'Status code distribution' <<<"$live" | tail -n +2 | xargs)"
