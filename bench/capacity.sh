#!/usr/bin/env bash
# Capacity model (issue 23): CPU cores and MiB of RSS per 1,000 readings/s for every process of the system,
# measured with the whole system running as separate processes from the release build.
#
# Per run, on free loopback ports, fresh: mosquitto (deploy/conf settings, anonymous), influxd
# (deploy/conf/influxdb.conf.in) and victoria-metrics; `zaehlwerk sim` as the load; `zaehlwerk gateway`;
# two `zaehlwerk ingest`, one writing to influxd and one to victoria-metrics (each receives every message:
# each is one engine's full ingest); `zaehlwerk analytics`; `zaehlwerk api`, driven at a fixed API_RATE
# requests/s (live values, one device after the other, keep-alive) by bench/capacity_load.py. The load is one
# of two sources: `modbus` (RATE SDM630 meters polled every second over Modbus TCP) or `mqtt` (RATE/10
# Tasmota plugs reporting every 100 ms, each on its own connection). After WARMUP seconds, CPU seconds
# (utime + stime from /proc/<pid>/stat) are taken over MEASURE seconds and RSS sampled every 5 s (median).
# The rate is what ingest received in that window, not the nominal one.
#
# Runs every (source, rate) ROUNDS times, the order of rates reversed every other round, and prints per run a
# RUN line, then per service the median cores and MiB at each level, the fit cores = a + b × (readings/s ÷
# 1000) through the medians, and the load average. bench/capacity_model.py turns those into machines.
#
# Usage: bench/capacity.sh [RATE...]       (default 1000 2500 5000)
# Env:   SOURCES ("modbus mqtt"), ROUNDS (2), WARMUP (20), MEASURE (30), API_RATE (100), BIN
#        (target/release/zaehlwerk), KEEP=1 keeps the run directories. Build first:
#        cargo build --release --bin zaehlwerk
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RATES=("$@")
[[ ${#RATES[@]} -gt 0 ]] || RATES=(1000 2500 5000)
SOURCES=${SOURCES:-modbus mqtt}
ROUNDS=${ROUNDS:-2}
WARMUP=${WARMUP:-20}
MEASURE=${MEASURE:-30}
API_RATE=${API_RATE:-100}
BIN=${BIN:-$ROOT/target/release/zaehlwerk}
[[ -x $BIN ]] || { echo "build first: cargo build --release --bin zaehlwerk" >&2; exit 1; }
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
INFLUXD=$(command -v influxd || echo /usr/bin/influxd)
VM=$(command -v victoria-metrics || echo /usr/bin/victoria-metrics)
for b in "$MOSQUITTO" "$INFLUXD" "$VM"; do
  [[ -x $b ]] || { echo "missing $b: deploy/setup.sh installs it" >&2; exit 1; }
done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
await_http() { # url, what
  for _ in $(seq 300); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "bench: $2 did not answer $1" >&2
  return 1
}
metric() { # port, metric name (summed over labels)
  curl -sf "http://127.0.0.1:$1/metrics" |
    awk -v m="$2" '$1 == m || index($1, m "{") == 1 { s += $NF } END { printf "%.0f\n", s }'
}

PIDS=()
DIR=
# Stops the processes of the current run (SIGTERM, then waits) and removes its directory unless KEEP.
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
  if [[ -n $DIR ]]; then
    if [[ -n ${KEEP:-} ]]; then echo "kept $DIR" >&2; else rm -rf "$DIR"; fi
  fi
  DIR=
}
trap cleanup EXIT
trap "exit 130" INT TERM

# One run: source, nominal readings/s, round. Prints one RUN line.
run() {
  local source=$1 rate=$2 round=$3
  local dir mqtt influx influx_rpc vmport api gw_m ing_a ing_b an_m
  dir=$(mktemp -d /tmp/zw-capacity.XXXXXX)
  DIR=$dir
  mqtt=$(free_port) influx=$(free_port) influx_rpc=$(free_port) vmport=$(free_port) api=$(free_port)
  gw_m=$(free_port) ing_a=$(free_port) ing_b=$(free_port) an_m=$(free_port)

  mkdir -p "$dir/mosquitto" "$dir/influxdb" "$dir/vm" "$dir/ingest-influx" "$dir/ingest-vm"
  cat >"$dir/mosquitto.conf" <<CONF
listener $mqtt 127.0.0.1
allow_anonymous true
persistence true
persistence_location $dir/mosquitto/
autosave_interval 60
max_queued_messages 1000000
max_queued_bytes 0
max_inflight_messages 30000
max_inflight_bytes 8388608
max_packet_size 1048576
log_dest none
CONF
  "$MOSQUITTO" -c "$dir/mosquitto.conf" & PIDS+=($!); local mq_pid=$!
  sed -e "s#@HOST@#127.0.0.1#g" -e "s#@RPC_PORT@#$influx_rpc#g" -e "s#@HTTP_PORT@#$influx#g" \
    -e "s#@DATA_DIR@#$dir/influxdb#g" "$ROOT/deploy/conf/influxdb.conf.in" >"$dir/influxdb.conf"
  "$INFLUXD" -config "$dir/influxdb.conf" >"$dir/influxd.log" 2>&1 & PIDS+=($!); local influx_pid=$!
  "$VM" -storageDataPath="$dir/vm" -httpListenAddr="127.0.0.1:$vmport" -retentionPeriod=100y -dedup.minScrapeInterval=1ms \
    >"$dir/vm.log" 2>&1 & PIDS+=($!); local vm_pid=$!
  await_http "http://127.0.0.1:$influx/ping" influxd
  await_http "http://127.0.0.1:$vmport/health" victoria-metrics
  curl -sf -XPOST "http://127.0.0.1:$influx/query" --data-urlencode "q=CREATE DATABASE zw" >/dev/null

  local token sha
  token=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
  sha=$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)
  local devices
  {
    cat <<CONF
[bus]
port = $mqtt
[influx]
url = "http://127.0.0.1:$influx"
database = "zw"
[log]
filter = "error"
[api]
listen = "127.0.0.1:$api"
rate_limit_per_second = 0.0
[ingest]
batch_interval = "200ms"
[[users]]
name = "bench"
role = "admin"
scope = ["*"]
token_sha256 = "$sha"
[sim]
modbus_listen = "127.0.0.1:0"
meters = []
soil_sensors = []
update_interval = "1s"
CONF
    if [[ $source == modbus ]]; then
      devices=$rate
      echo "plugs = []"
      echo "fleets = [{ profile = \"sdm630\", count = $rate, listen = \"127.0.0.1:31000\", units_per_listener = 100 }]"
      # 100 meters per site (one Modbus TCP port each), main meters of buildings.
      awk -v n="$rate" 'BEGIN {
        for (k = 0; k < n; k++) {
          if (k % 100 == 0) printf "[[sites]]\nid = \"b%d\"\nkind = \"building\"\n", k / 100
          printf "[[sites.devices]]\nid = \"m%d\"\nclass = \"main_meter\"\nsource = { type = \"modbus\", endpoint = \"127.0.0.1:%d\", unit_id = %d, profile = \"sdm630\", interval = \"1s\" }\n", k, 31000 + int(k / 100), 1 + k % 100
        }
      }'
    else
      devices=$((rate / 10))
      awk -v n="$devices" 'BEGIN {
        printf "plugs = ["
        for (k = 0; k < n; k++) printf "%s{ topic = \"p%d\", interval = \"100ms\" }", (k ? ", " : ""), k
        printf "]\nfleets = []\n"
        for (k = 0; k < n; k++) {
          printf "[[sites]]\nid = \"h%d\"\nkind = \"household\"\n", k
          printf "[[sites.devices]]\nid = \"p%d\"\nclass = \"plug\"\nsource = { type = \"tasmota\", topic = \"p%d\" }\n", k, k
        }
      }'
    fi
  } >"$dir/zw.toml"

  "$BIN" sim --config "$dir/zw.toml" >"$dir/sim.log" 2>&1 & PIDS+=($!); local sim_pid=$!
  if [[ $source == modbus ]]; then
    for _ in $(seq 300); do
      (exec 3<>/dev/tcp/127.0.0.1/$((31000 + (rate - 1) / 100))) 2>/dev/null && break
      sleep 0.1
    done
  fi
  # One ingest per engine; each its own session, spool and metrics port.
  ZW__INGEST__INSTANCE=ingest-influx ZW__INGEST__SPOOL__PATH="$dir/ingest-influx/spool.redb" \
    ZW__INGEST__DEAD_LETTER__PATH="$dir/ingest-influx/dead.jsonl" ZW__TELEMETRY__METRICS_LISTEN="127.0.0.1:$ing_a" \
    "$BIN" ingest --config "$dir/zw.toml" >"$dir/ingest-influx.log" 2>&1 & PIDS+=($!); local ia_pid=$!
  ZW__INGEST__INSTANCE=ingest-vm ZW__INGEST__SPOOL__PATH="$dir/ingest-vm/spool.redb" \
    ZW__INGEST__DEAD_LETTER__PATH="$dir/ingest-vm/dead.jsonl" ZW__TELEMETRY__METRICS_LISTEN="127.0.0.1:$ing_b" \
    ZW__INFLUX__URL="http://127.0.0.1:$vmport" \
    "$BIN" ingest --config "$dir/zw.toml" >"$dir/ingest-vm.log" 2>&1 & PIDS+=($!); local ib_pid=$!
  ZW__TELEMETRY__METRICS_LISTEN="127.0.0.1:$an_m" \
    "$BIN" analytics --config "$dir/zw.toml" >"$dir/analytics.log" 2>&1 & PIDS+=($!); local an_pid=$!
  "$BIN" api --config "$dir/zw.toml" >"$dir/api.log" 2>&1 & PIDS+=($!); local api_pid=$!
  ZW__TELEMETRY__METRICS_LISTEN="127.0.0.1:$gw_m" \
    "$BIN" gateway --config "$dir/zw.toml" >"$dir/gateway.log" 2>&1 & PIDS+=($!); local gw_pid=$!
  await_http "http://127.0.0.1:$ing_a/metrics" ingest-influx
  await_http "http://127.0.0.1:$ing_b/metrics" ingest-vm
  await_http "http://127.0.0.1:$api/healthz" api
  local first_device
  first_device=$([[ $source == modbus ]] && echo m || echo p)
  python3 "$ROOT/bench/capacity_load.py" "http://127.0.0.1:$api" "$token" "$first_device" "$devices" "$API_RATE" \
    >"$dir/load.log" 2>&1 & PIDS+=($!); local load_pid=$!

  sleep "$WARMUP"
  local names=(gateway ingest_influx ingest_vm analytics api mosquitto influxd victoria_metrics sim)
  local procs=("$gw_pid" "$ia_pid" "$ib_pid" "$an_pid" "$api_pid" "$mq_pid" "$influx_pid" "$vm_pid" "$sim_pid")
  local c0=() c1=() r0 r1 w0 w1 t0 t1 p
  for p in "${procs[@]}"; do
    kill -0 "$p" 2>/dev/null || { echo "bench: a process exited early; logs in $dir" >&2; KEEP=1; exit 1; }
    c0+=("$(ticks "$p")")
  done
  r0=$(metric "$ing_a" zw_ingest_readings_received_total)
  w0=$(metric "$ing_b" zw_ingest_readings_received_total)
  local q0
  q0=$(metric "$gw_m" zw_gateway_readings_published_total)
  t0=$(date +%s.%N)
  : >"$dir/rss"
  local end=$((SECONDS + MEASURE))
  while ((SECONDS < end)); do
    sleep 5
    for p in "${procs[@]}"; do printf '%s ' "$(rss_kib "$p")"; done >>"$dir/rss"
    echo >>"$dir/rss"
  done
  for p in "${procs[@]}"; do c1+=("$(ticks "$p")"); done
  t1=$(date +%s.%N)
  r1=$(metric "$ing_a" zw_ingest_readings_received_total)
  w1=$(metric "$ing_b" zw_ingest_readings_received_total)
  local q1
  q1=$(metric "$gw_m" zw_gateway_readings_published_total)
  kill "$load_pid" 2>/dev/null || true
  python3 - "$source" "$rate" "$round" "$t0" "$t1" "$(getconf CLK_TCK)" "$r0" "$r1" "$w0" "$w1" "$q0" "$q1" \
    "$dir/rss" "$(cut -d' ' -f1 /proc/loadavg)" "$(tail -1 "$dir/load.log" 2>/dev/null)" "${names[*]}" \
    "${c0[*]}" "${c1[*]}" <<'PY'
import sys, statistics as st
(source, rate, rnd, t0, t1, hz, r0, r1, w0, w1, q0, q1, rss, load, api_load,
 names, c0, c1) = sys.argv[1:19]
secs = float(t1) - float(t0)
names, c0, c1 = names.split(), list(map(float, c0.split())), list(map(float, c1.split()))
rows = [list(map(int, l.split())) for l in open(rss) if l.strip()]
out = [f"RUN source={source} nominal={rate} round={rnd} window={secs:.1f}",
       f"rate={(float(r1) - float(r0)) / secs:.1f}", f"rate_vm={(float(w1) - float(w0)) / secs:.1f}",
       f"published={(float(q1) - float(q0)) / secs:.1f}", f"load={load}"]
for i, n in enumerate(names):
    cores = (c1[i] - c0[i]) / float(hz) / secs
    mib = st.median(r[i] for r in rows) / 1024 if rows else float('nan')
    out += [f"cpu.{n}={cores:.4f}", f"mib.{n}={mib:.1f}"]
print(' '.join(out), f"# api {api_load}")
PY
}

out=$(mktemp /tmp/zw-capacity-runs.XXXXXX)
echo "capacity: rates ${RATES[*]}, sources $SOURCES, $ROUNDS rounds, warmup $WARMUP s, measure $MEASURE s," \
  "API $API_RATE req/s; $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg); $(git -C "$ROOT" rev-parse --short HEAD)"
for r in $(seq "$ROUNDS"); do
  order=("${RATES[@]}")
  ((r % 2 == 0)) && mapfile -t order < <(printf '%s\n' "${RATES[@]}" | sort -rn)
  for source in $SOURCES; do
    for rate in "${order[@]}"; do
      run "$source" "$rate" "$r" >>"$out"
      cleanup
      tail -1 "$out"
    done
  done
done
python3 "$ROOT/bench/capacity_model.py" "$out"
echo "runs in $out; load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
