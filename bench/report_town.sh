#!/usr/bin/env bash
# Town energy report benchmark (issue 19): `GET /api/v1/report?year=…` over 60 buildings p99 < 1 s.
#
# Starts influxd and mosquitto on free loopback ports in a temporary directory, loads 15-minute energy_import
# readings of 60 buildings from 2023-12-31 to 2026-12-02 (6.2 M points, bench/report_town.py load), builds
# the rollups with `zaehlwerk rollup` (timed), starts the release `zaehlwerk api`, then measures in
# alternated rounds the town report of each year with the rollups and without them (their watermark
# removed: the readings path, the comparison), and the ceiling: one InfluxDB query that only counts the raw
# readings of the report's two years. Checks that both paths give the same figures, complete for 2025.
# Last, the rollups' usage-hour edge rows moved aside (the report then reads windows over the quarter rows,
# the path before edge rows; WINDOWS=0 skips it) and put back; checks the figures are the same.
#
# Usage: bench/report_town.sh [ROUNDS] [REQUESTS_PER_PHASE] [RAW_REQUESTS_PER_PHASE] [YEARS]
#        (defaults 2 30 2 2025,2026)
# ZW_BENCH_DIR=dir keeps the data there and reuses it on the next run (no load, no rollup).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${1:-2}
N=${2:-30}
RAW_N=${3:-2}
YEARS=${4:-2025,2026}
cd "$ROOT"
[ -n "${ZW_BIN:-}" ] || {
  echo "bench: building (release)" >&2
  cargo build --release --bin zaehlwerk >&2
  ZW_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/zaehlwerk
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
KEEP=${ZW_BENCH_DIR:+1}
DIR=${ZW_BENCH_DIR:-$(mktemp -d /tmp/zw-bench-report.XXXXXX)}
mkdir -p "$DIR"
[ -f "$DIR/ports" ] || echo "INFLUX_PORT=$(free_port) API_PORT=$(free_port) MQTT_PORT=$(free_port) RPC_PORT=$(free_port)" >"$DIR/ports"
. "$DIR/ports"
export INFLUX_PORT API_PORT
PIDS=()
cleanup() {
  local rc=$?
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null
  if ((rc != 0)); then echo "bench: failed; logs kept in $DIR" >&2; elif [ -z "$KEEP" ]; then rm -rf "$DIR"; fi
}
trap cleanup EXIT

mkdir -p "$DIR/influxdb"
sed -e "s#@HOST@#127.0.0.1#g" -e "s#@HTTP_PORT@#$INFLUX_PORT#g" -e "s#@RPC_PORT@#$RPC_PORT#g" \
  -e "s#@DATA_DIR@#$DIR/influxdb#g" -e 's#^\[data\]#[data]\n  cache-snapshot-write-cold-duration = "5s"#' \
  deploy/conf/influxdb.conf.in >"$DIR/influxdb/influxdb.conf"
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
  # Readings of 2024 are older than the default raw retention: keep everything.
  printf '[retention]\nraw = "0s"\nrollups = "0s"\n\n'
  # The readings path (the comparison) takes minutes for the town: let it.
  printf '[api]\nlisten = "127.0.0.1:%s"\nrate_limit_per_second = 0.0\nrequest_timeout = "600s"\nquery_timeout = "300s"\n\n[api.floor_area_m2]\n' "$API_PORT"
  for b in $(seq 1 60); do printf 'b%02d = %s\n' "$b" $((1000 + 10 * b)); done
  for b in $(seq 1 60); do
    printf '\n[[sites]]\nid = "b%02d"\nname = "Gebäude %d"\nkind = "building"\n\n' "$b" "$b"
    printf '[[sites.devices]]\nid = "b%02d-main"\nclass = "main_meter"\nsource = { type = "shelly", prefix = "shelly-b%02d" }\n' "$b" "$b"
  done
  printf '\n[[users]]\nname = "facility"\nrole = "facility_manager"\nscope = ["*"]\ntoken_sha256 = "%s"\n' \
    "$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)"
} >"$DIR/zaehlwerk.toml"
"$ZW_BIN" check-config -c "$DIR/zaehlwerk.toml" >&2

echo "== town report: $(date -u +%FT%TZ), $(nproc) cores, $(uptime | sed 's/.*load average/load average/')"
if [ ! -f "$DIR/loaded" ]; then
  python3 bench/report_town.py load
  start=$(date +%s.%N)
  "$ZW_BIN" rollup -c "$DIR/zaehlwerk.toml" --since 2023-12-31 --until 2026-12-02
  echo "rollups built in $(echo "$(date +%s.%N) - $start" | bc | cut -c1-6) s"
  touch "$DIR/loaded"
fi

# Measure TSM files, as a server holds past years: wait until every shard's write cache is snapshotted.
dirs() { find "$DIR/influxdb/$1" -name "*.$2" -printf '%h\n' | sort -u | wc -l; }
for _ in $(seq 120); do (($(dirs data tsm) >= $(dirs wal wal))) && break; sleep 1; done
echo "influxdb: $(dirs data tsm) of $(dirs wal wal) shards in TSM files, $(du -sh "$DIR/influxdb/data" | cut -f1)"
RUST_LOG=info "$ZW_BIN" api -c "$DIR/zaehlwerk.toml" >"$DIR/api.log" 2>&1 &
PIDS+=($!)
until curl -sf "http://127.0.0.1:$API_PORT/healthz" >/dev/null; do sleep 0.2; done
python3 bench/report_town.py measure "$ROUNDS" "$N" "$RAW_N" "$YEARS"
echo "== done: $(uptime | sed 's/.*load average/load average/')"
