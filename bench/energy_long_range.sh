#!/usr/bin/env bash
# Long-range energy benchmark (issue 19 targets): a 12-month report of one building with a year of 2-second
# readings p99 < 200 ms, and the town ranking of 60 buildings for a month p99 < 500 ms.
#
# Starts influxd and mosquitto on free loopback ports in a temporary directory, loads one year of 2-second
# energy_import readings for building b00 (15.8 M points) and one month of 15-minute readings for buildings
# b01..b60 (bench/energy_long_range.py load), builds the rollups with `zaehlwerk rollup --since` (timed),
# starts the release `zaehlwerk api`, then measures in alternated rounds the 12-month report and the ranking
# with the rollups and without them (their watermark removed: the raw-reading path, the comparison), checking
# that every answer is complete and both paths give the same figures.
#
# Usage: bench/energy_long_range.sh [ROUNDS] [REQUESTS_PER_PHASE] [RAW_REQUESTS_PER_PHASE]  (defaults 4 50 5)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${1:-4}
N=${2:-50}
RAW_N=${3:-5}
cd "$ROOT"
[ -n "${ZW_BIN:-}" ] || {
  echo "bench: building (release)" >&2
  cargo build --release --bin zaehlwerk >&2
  ZW_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/zaehlwerk
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
DIR=$(mktemp -d /tmp/zw-bench-energy.XXXXXX)
INFLUX_PORT=$(free_port) API_PORT=$(free_port) MQTT_PORT=$(free_port)
export INFLUX_PORT API_PORT
PIDS=()
cleanup() {
  local rc=$?
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null
  if ((rc == 0)); then rm -rf "$DIR"; else echo "bench: failed; logs kept in $DIR" >&2; fi
}
trap cleanup EXIT

mkdir -p "$DIR/influxdb"
sed -e "s#@HOST@#127.0.0.1#g" -e "s#@HTTP_PORT@#$INFLUX_PORT#g" -e "s#@RPC_PORT@#$(free_port)#g" \
  -e "s#@DATA_DIR@#$DIR/influxdb#g" deploy/conf/influxdb.conf.in >"$DIR/influxdb/influxdb.conf"
influxd -config "$DIR/influxdb/influxdb.conf" >"$DIR/influxd.log" 2>&1 &
PIDS+=($!)
printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$MQTT_PORT" >"$DIR/mosquitto.conf"
mosquitto -c "$DIR/mosquitto.conf" >"$DIR/mosquitto.log" 2>&1 &
PIDS+=($!)
until [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$INFLUX_PORT/ping") == 204 ]]; do sleep 0.2; done

TOKEN=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
export TOKEN
{
  printf '[bus]\nhost = "127.0.0.1"\nport = %s\n\n[influx]\nurl = "http://127.0.0.1:%s"\ndatabase = "zaehlwerk"\n\n' \
    "$MQTT_PORT" "$INFLUX_PORT"
  printf '[api]\nlisten = "127.0.0.1:%s"\nrate_limit_per_second = 0.0\n\n[api.floor_area_m2]\n' "$API_PORT"
  for b in $(seq 0 60); do printf 'b%02d = %s\n' "$b" $((1000 + 10 * b)); done
  for b in $(seq 0 60); do
    printf '\n[[sites]]\nid = "b%02d"\nname = "Gebäude %d"\nkind = "building"\n\n' "$b" "$b"
    printf '[[sites.devices]]\nid = "b%02d-main"\nclass = "main_meter"\nsource = { type = "shelly", prefix = "shelly-b%02d" }\n' "$b" "$b"
  done
  printf '\n[[users]]\nname = "facility"\nrole = "facility_manager"\nscope = ["*"]\ntoken_sha256 = "%s"\n' \
    "$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)"
} >"$DIR/zaehlwerk.toml"
"$ZW_BIN" check-config -c "$DIR/zaehlwerk.toml" >&2

echo "== energy long range: $(date -u +%FT%TZ), $(nproc) cores, $(uptime | sed 's/.*load average/load average/')"
python3 bench/energy_long_range.py load
start=$(date +%s.%N)
"$ZW_BIN" rollup -c "$DIR/zaehlwerk.toml" --since 2025-11-30 --until 2026-12-02
echo "rollups built in $(echo "$(date +%s.%N) - $start" | bc | cut -c1-6) s"

RUST_LOG=info "$ZW_BIN" api -c "$DIR/zaehlwerk.toml" >"$DIR/api.log" 2>&1 &
PIDS+=($!)
until curl -sf "http://127.0.0.1:$API_PORT/healthz" >/dev/null; do sleep 0.2; done
python3 bench/energy_long_range.py measure "$ROUNDS" "$N" "$RAW_N"
echo "== done: $(uptime | sed 's/.*load average/load average/')"
