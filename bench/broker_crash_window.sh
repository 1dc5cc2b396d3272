#!/usr/bin/env bash
# Measures what a kill -9 of mosquitto loses for a *disconnected* persistent-session consumer (ingest away):
# the messages the broker acknowledged since its last autosave. While the consumer is connected nothing is
# lost (it already holds what the broker delivered; see tests/e2e/ingest_outage.rs); this is the window left.
#
#   bench/broker_crash_window.sh [autosave_interval_s=10] [rate_per_s=100] [kill_after_s=25]
#
# Runs a throwaway mosquitto with the shipped persistence settings (persistence on, the given autosave
# interval) on a free loopback port, registers a QoS 1 persistent session and disconnects it, publishes
# numbered QoS 1 messages at the given rate, kills the broker with SIGKILL, restarts it on the same
# persistence file and drains the session. Prints published, kept, lost, and the loss in seconds of traffic.
set -euo pipefail
AUTOSAVE=${1:-10}
RATE=${2:-100}
KILL_AFTER=${3:-25}
command -v mosquitto_pub >/dev/null || { echo "needs mosquitto-clients (deploy/setup.sh)" >&2; exit 1; }
MOSQ=$(command -v mosquitto || echo /usr/sbin/mosquitto)
DIR=$(mktemp -d)
trap 'kill -9 $(jobs -p) 2>/dev/null || true; [[ -n ${KEEP:-} ]] || rm -rf "$DIR"' EXIT
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$DIR/m.conf" <<CONF
listener $PORT 127.0.0.1
allow_anonymous true
user $(id -un)
persistence true
persistence_location $DIR/
autosave_interval $AUTOSAVE
max_queued_messages 1000000
max_queued_bytes 0
CONF
start() {
  "$MOSQ" -c "$DIR/m.conf" >>"$DIR/m.log" 2>&1 &
  BROKER=$!
  for _ in $(seq 100); do mosquitto_sub -h 127.0.0.1 -p "$PORT" -t '$SYS/broker/version' -C 1 -W 1 >/dev/null 2>&1 && return; done
  echo "broker did not start" >&2; exit 1
}
start
# The consumer's persistent session: subscribe once (QoS 1, no clean session), then go away.
mosquitto_sub -h 127.0.0.1 -p "$PORT" -i window-consumer -c -q 1 -t 'w/#' -E
# Publish numbered messages at RATE for KILL_AFTER seconds, one QoS 1 publisher (-l: a message per line).
N=$((RATE * KILL_AFTER))
python3 - "$RATE" "$N" <<'PY' | mosquitto_pub -h 127.0.0.1 -p "$PORT" -i window-publisher -q 1 -t w/x -l
import sys, time
rate, n = int(sys.argv[1]), int(sys.argv[2])
t0 = time.monotonic()
for i in range(n):
    d = t0 + i / rate - time.monotonic()
    if d > 0: time.sleep(d)
    print(i, flush=True)
PY
{ kill -9 "$BROKER"; wait "$BROKER"; } 2>/dev/null || true
start
KEPT=$(mosquitto_sub -h 127.0.0.1 -p "$PORT" -i window-consumer -c -q 1 -t 'w/#' -W 5 2>/dev/null | sort -un | wc -l || true)
kill "$BROKER"
LOST=$((N - KEPT))
awk -v n="$N" -v k="$KEPT" -v l="$LOST" -v r="$RATE" -v a="$AUTOSAVE" -v t="$KILL_AFTER" 'BEGIN {
  printf "autosave_interval %d s, %d msg/s for %d s: published %d, kept %d, lost %d (%.1f s of traffic; bound: %d s)\n", a, r, t, n, k, l, l / r, a }'
