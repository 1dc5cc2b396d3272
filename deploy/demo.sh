#!/usr/bin/env bash
# Runs the whole Zählwerk system on this machine with simulated meters:
#   mosquitto + influxd (state in $ZW_STATE) -> `zaehlwerk sim` (Modbus meters) -> `zaehlwerk all`.
#
# Usage: deploy/demo.sh [--duration SECONDS]
#   Without --duration it runs until Ctrl-C (or SIGTERM); with it, it stops by itself after SECONDS.
#   Either way it stops zaehlwerk and the simulator first (SIGTERM, up to 10 s each), then the broker and
#   the database, and exits 0.
#
# Environment (defaults in brackets):
#   ZW_MQTT_PORT [1883]  ZW_INFLUX_PORT [8086]  ZW_API_PORT [8080]  ZW_MODBUS_PORT [5020]
#   ZW_STATE [<repo>/state]       configs, data, tokens.txt and logs/
#   ZW_BIN                        a prebuilt zaehlwerk binary (skips `cargo build --release`)
#   ZW_MOSQUITTO_BIN [/usr/sbin/mosquitto]  ZW_INFLUXD_BIN [influxd]
#   ZW_DEMO_CONFIG_TEMPLATE       [deploy/demo.toml] template with @PLACEHOLDERS@ (listed in render_config)
#
# Progress goes to stderr; the summary (URLs and tokens) to stdout.
# Functions run from traps or through `await` look unreachable to shellcheck 0.9.
# shellcheck disable=SC2317
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HOST=127.0.0.1
DB=zaehlwerk
STOP_TIMEOUT=10

usage() {
  echo "usage: deploy/demo.sh [--duration SECONDS]" >&2
  exit "${1:-2}"
}
log() { printf 'demo: %s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}
have() { command -v "$1" >/dev/null 2>&1; }
is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

DURATION=""
while (($#)); do
  case $1 in
    --duration)
      (($# >= 2)) || usage
      DURATION=$2
      shift 2
      ;;
    --duration=*)
      DURATION=${1#*=}
      shift
      ;;
    -h | --help) usage 0 ;;
    *)
      echo "error: unknown argument: $1" >&2
      usage
      ;;
  esac
done
if [[ -n $DURATION ]] && { ! is_uint "$DURATION" || ((10#$DURATION == 0)); }; then
  echo "error: --duration needs a whole number of seconds > 0, got '$DURATION'" >&2
  usage
fi

MQTT_PORT=${ZW_MQTT_PORT:-1883}
INFLUX_PORT=${ZW_INFLUX_PORT:-8086}
API_PORT=${ZW_API_PORT:-8080}
MODBUS_PORT=${ZW_MODBUS_PORT:-5020}
STATE=${ZW_STATE:-$ROOT/state}
MOSQUITTO_BIN=${ZW_MOSQUITTO_BIN:-/usr/sbin/mosquitto}
INFLUXD_BIN=${ZW_INFLUXD_BIN:-influxd}
TEMPLATE=${ZW_DEMO_CONFIG_TEMPLATE:-$ROOT/deploy/demo.toml}

# name:port:variable, in the order ports are checked
PORTS=("mqtt:$MQTT_PORT:ZW_MQTT_PORT" "influxdb:$INFLUX_PORT:ZW_INFLUX_PORT" "api:$API_PORT:ZW_API_PORT"
  "modbus simulator:$MODBUS_PORT:ZW_MODBUS_PORT")

# True if something accepts TCP connections on $HOST:$1 or any socket listens on port $1.
port_in_use() {
  if have ss && [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]; then
    return 0
  fi
  timeout 1 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null
}

check_ports() {
  local entry name port var seen=" "
  for entry in "${PORTS[@]}"; do
    IFS=: read -r name port var <<<"$entry"
    if ! is_uint "$port" || ((10#$port < 1 || 10#$port > 65535)); then
      die "$var='$port' is not a TCP port"
    fi
    [[ $seen != *" $port "* ]] || die "port $port is configured twice; give $var another port"
    seen+="$port "
    if port_in_use "$port"; then
      die "port $port ($name) is already in use; set $var to another port"
    fi
  done
}

# A free port for influxd's RPC listener (backups), counting up from $1 and avoiding the demo's ports.
pick_free_port() {
  local port=$1 entry
  while ((port < 65535)); do
    local clash=""
    for entry in "${PORTS[@]}"; do [[ $entry == *":$port:"* ]] && clash=1; done
    if [[ -z $clash ]] && ! port_in_use "$port"; then
      echo "$port"
      return
    fi
    port=$((port + 1))
  done
  die "no free port for influxd's RPC listener"
}

# ---- processes -------------------------------------------------------------------------------------
# Each service runs in its own session (setsid), so a Ctrl-C in the terminal reaches only this script,
# which then stops everything in order instead of all at once.
declare -A PID=()
TIMER="" # pid of the --duration timer

start_bg() { # name logfile command...
  local name=$1 logfile=$2
  shift 2
  printf -- '---- %s deploy/demo.sh starts %s\n' "$(date -Iseconds)" "$name" >>"$logfile"
  if have setsid; then
    setsid "$@" >>"$logfile" 2>&1 </dev/null &
  else
    "$@" >>"$logfile" 2>&1 </dev/null &
  fi
  PID[$name]=$!
  log "started $name (pid ${PID[$name]}), log $logfile"
}

alive() { [[ -n ${PID[$1]:-} ]] && kill -0 "${PID[$1]}" 2>/dev/null; }

log_tail() {
  local f
  for f in "$@"; do
    [[ -f $f ]] || continue
    printf '==> %s <==\n' "$f" >&2
    tail -n 30 "$f" >&2
  done
}

# Stops the named services together: SIGTERM, then SIGKILL after $STOP_TIMEOUT seconds.
stop_services() {
  local name deadline=$((SECONDS + STOP_TIMEOUT)) running=()
  for name in "$@"; do
    if alive "$name"; then
      log "stopping $name"
      kill -TERM "${PID[$name]}" 2>/dev/null || true
      running+=("$name")
    fi
  done
  for name in "${running[@]}"; do
    while alive "$name" && ((SECONDS < deadline)); do sleep 0.1; done
    if alive "$name"; then
      log "$name did not stop within ${STOP_TIMEOUT}s; killing it"
      kill -KILL "${PID[$name]}" 2>/dev/null || true
    fi
    wait "${PID[$name]}" 2>/dev/null || true
    unset "PID[$name]"
  done
}

cleanup() {
  local rc=$?
  trap - EXIT
  trap '' INT TERM # the stop below is bounded (3 x STOP_TIMEOUT); do not leave services behind
  [[ -z $TIMER ]] || kill "$TIMER" 2>/dev/null || true
  # zaehlwerk first (it flushes to influxd and acknowledges to mosquitto while stopping), then the
  # simulated devices, then the services everything depends on.
  stop_services zaehlwerk
  stop_services sim
  stop_services mosquitto influxd
  log "stopped; state kept in $STATE"
  exit "$rc"
}

on_signal() {
  echo >&2
  log "stopping (signal)"
  exit 0 # runs cleanup via the EXIT trap
}

# Polls `command...` every 0.1 s until it succeeds. Returns 1 (after saying why) if service $1 exits
# first or $2 seconds pass.
await() { # name timeout_seconds description command...
  local name=$1 timeout=$2 what=$3
  shift 3
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if ! alive "$name"; then
      log "$name exited while starting (waiting for $what)"
      return 1
    fi
    if ((SECONDS >= deadline)); then
      log "$name: no $what after ${timeout}s"
      return 1
    fi
    sleep 0.1
  done
}

# Like await, but on failure prints the logs of the named services and exits 1.
await_or_die() { # name timeout_seconds description command...
  local name=$1
  await "$@" && return 0
  log_tail "$STATE/logs/$name.log"
  die "$name did not start"
}

influx_ping() { [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$HOST:$INFLUX_PORT/ping") == 204 ]]; }
# Logs in as the simulator's account, from an options file (never a password on a command line).
mqtt_ping() {
  XDG_CONFIG_HOME=$STATE/mosquitto/client timeout 5 \
    mosquitto_pub -h "$HOST" -p "$MQTT_PORT" -i zw-demo-ready -q 1 -t zw-demo/ready -n
}
api_ready() { [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://$HOST:$API_PORT/readyz") == 200 ]]; }
# The simulator logs this once its history (if any) is in InfluxDB and it serves, so analytics warms up from it.
# The log is appended to across runs: only the lines after this run's start marker count.
sim_running() { tac "$STATE/logs/sim.log" 2>/dev/null | sed '/deploy\/demo.sh starts sim/q' | grep -q 'Simulator running'; }

# ---- configuration ---------------------------------------------------------------------------------
# Renders a template from deploy/conf/ (shared with the test harness): each NAME=value replaces @NAME@.
render_conf() { # template output NAME=value...
  local template=$1 out=$2 args=() kv
  shift 2
  for kv in "$@"; do args+=(-e "s#@${kv%%=*}@#$(sed_escape "${kv#*=}")#g"); done
  sed "${args[@]}" "$template" >"$out"
  if grep -v '^#' "$out" | grep -q '@[A-Z_]*@'; then die "unfilled placeholder in $out"; fi
}

write_mosquitto_conf() {
  local out=$STATE/mosquitto/mosquitto.conf
  # autosave every minute, so a kill -9 of the broker loses at most a minute of queued messages.
  render_conf "$ROOT/deploy/conf/mosquitto.conf.in" "$out" \
    HOST="$HOST" PORT="$MQTT_PORT" DATA_DIR="$STATE/mosquitto" AUTOSAVE_INTERVAL=60 \
    PASSWORD_FILE="$STATE/mosquitto/passwd" ACL_FILE="$ROOT/deploy/conf/mosquitto.acl"
  # As root, mosquitto would switch to the `mosquitto` user, which cannot write $STATE.
  if [[ $(id -u) -eq 0 ]]; then echo "user root" >>"$out"; fi
}

write_influxd_conf() {
  render_conf "$ROOT/deploy/conf/influxdb.conf.in" "$STATE/influxdb/influxdb.conf" \
    HOST="$HOST" HTTP_PORT="$INFLUX_PORT" RPC_PORT="$1" DATA_DIR="$STATE/influxdb"
}

gen_token() { head -c 24 /dev/urandom | base64 | tr -d '/+=\n'; }

# The broker accounts of this run (deploy/conf/mosquitto.acl says what each may do), with fresh passwords:
# one file per account under $STATE/mosquitto/accounts/ (the config's bus.accounts.*.password_file) and the
# broker's password file, written as user:password lines and hashed in place by `mosquitto_passwd -U`, so
# no password is ever on a command line or in a log.
BUS_ACCOUNTS=(zw-gateway zw-ingest zw-analytics zw-api zw-sim)
write_bus_accounts() {
  local dir=$STATE/mosquitto user pw
  (
    umask 077
    mkdir -p "$dir/accounts" "$dir/client"
    : >"$dir/passwd"
    for user in "${BUS_ACCOUNTS[@]}"; do
      pw=$(gen_token)
      printf '%s\n' "$pw" >"$dir/accounts/$user.pw"
      printf '%s:%s\n' "$user" "$pw" >>"$dir/passwd"
    done
    printf -- '-u zw-sim\n-P %s\n' "$(cat "$dir/accounts/zw-sim.pw")" >"$dir/client/mosquitto_pub"
  )
  mosquitto_passwd -U "$dir/passwd" || die "mosquitto_passwd could not hash $dir/passwd"
}
sha256_hex() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }
sed_escape() { printf '%s' "$1" | sed -e 's/[\\#&]/\\&/g'; }

# Renders $TEMPLATE into $CONF. Required placeholders: @MQTT_PORT@ @INFLUX_PORT@ @API_PORT@
# @MODBUS_PORT@ @FM_TOKEN_SHA256@ @RESIDENT_TOKEN_SHA256@ @PARKS_TOKEN_SHA256@ @ADMIN_TOKEN_SHA256@; also replaced if
# present: @HOST@ @STATE_DIR@ @INFLUX_DB@.
render_config() {
  sed -e "s#@MQTT_PORT@#$MQTT_PORT#g" \
    -e "s#@INFLUX_PORT@#$INFLUX_PORT#g" \
    -e "s#@API_PORT@#$API_PORT#g" \
    -e "s#@MODBUS_PORT@#$MODBUS_PORT#g" \
    -e "s#@FM_TOKEN_SHA256@#$(sha256_hex "$FM_TOKEN")#g" \
    -e "s#@RESIDENT_TOKEN_SHA256@#$(sha256_hex "$RESIDENT_TOKEN")#g" \
    -e "s#@PARKS_TOKEN_SHA256@#$(sha256_hex "$PARKS_TOKEN")#g" \
    -e "s#@ADMIN_TOKEN_SHA256@#$(sha256_hex "$ADMIN_TOKEN")#g" \
    -e "s#@BUSINESS_TOKEN_SHA256@#$(sha256_hex "$BUSINESS_TOKEN")#g" \
    -e "s#@HOST@#$HOST#g" \
    -e "s#@STATE_DIR@#$(sed_escape "$STATE")#g" \
    -e "s#@ROOT@#$(sed_escape "$ROOT")#g" \
    -e "s#@INFLUX_DB@#$DB#g" \
    "$TEMPLATE" >"$CONF"
  local left
  left=$(grep -v '^[[:space:]]*#' "$CONF" | grep -o '@[A-Z0-9_]*@' | sort -u | tr '\n' ' ' || true)
  [[ -z $left ]] || die "$TEMPLATE has placeholders this script does not know: $left"
}

# ---- main ------------------------------------------------------------------------------------------
check_ports # fail fast, before the (slow) build
[[ -f $TEMPLATE ]] || die "config template $TEMPLATE not found"

log "checking services and tools (deploy/setup.sh)"
"$ROOT/deploy/setup.sh"

if [[ -n ${ZW_BIN:-} ]]; then
  BIN=$ZW_BIN
else
  log "building zaehlwerk (cargo build --release --bin zaehlwerk)"
  (cd "$ROOT" && cargo build --release --bin zaehlwerk)
  BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/zaehlwerk
  [[ $BIN == /* ]] || BIN=$ROOT/$BIN
fi
[[ -x $BIN ]] || die "zaehlwerk binary $BIN not found or not executable"

check_ports # again: the build took a while
mkdir -p "$STATE/mosquitto" "$STATE/influxdb" "$STATE/logs"
STATE=$(cd "$STATE" && pwd)
CONF=$STATE/zaehlwerk.toml

# Render and validate the config before starting anything.
FM_TOKEN=$(gen_token)
RESIDENT_TOKEN=$(gen_token)
PARKS_TOKEN=$(gen_token)
ADMIN_TOKEN=$(gen_token)
BUSINESS_TOKEN=$(gen_token)
write_bus_accounts
render_config
(
  umask 077
  cat >"$STATE/tokens.txt" <<EOF
# API bearer tokens of this demo run (regenerated on every start). Source this file in a shell.
FM_TOKEN=$FM_TOKEN
RESIDENT_TOKEN=$RESIDENT_TOKEN
PARKS_TOKEN=$PARKS_TOKEN
ADMIN_TOKEN=$ADMIN_TOKEN
BUSINESS_TOKEN=$BUSINESS_TOKEN
EOF
)
chmod 600 "$STATE/tokens.txt"

if ! check_output=$("$BIN" check-config --config "$CONF" 2>&1); then
  printf '%s\n' "$check_output" >&2
  die "the rendered config $CONF is invalid (see above)"
fi

trap cleanup EXIT
trap on_signal INT TERM

write_mosquitto_conf
write_influxd_conf "$(pick_free_port $((INFLUX_PORT + 2)))"
start_bg mosquitto "$STATE/logs/mosquitto.log" "$MOSQUITTO_BIN" -c "$STATE/mosquitto/mosquitto.conf"
start_bg influxd "$STATE/logs/influxd.log" "$INFLUXD_BIN" -config "$STATE/influxdb/influxdb.conf"
await_or_die mosquitto 15 "MQTT CONNACK on port $MQTT_PORT" mqtt_ping
await_or_die influxd 30 "answer to /ping on port $INFLUX_PORT" influx_ping
answer=$(curl -sS --max-time 10 -XPOST "http://$HOST:$INFLUX_PORT/query" --data-urlencode "q=CREATE DATABASE $DB")
[[ $answer != *'"error"'* ]] || die "CREATE DATABASE $DB failed: $answer"
log "mosquitto and influxd are ready"

start_bg sim "$STATE/logs/sim.log" "$BIN" sim --config "$CONF"
# The gateway reconnects on its own, but starting it against a listening simulator keeps the log clean.
if ! await sim 60 "its history written and Modbus served on port $MODBUS_PORT" sim_running; then
  alive sim || {
    log_tail "$STATE/logs/sim.log"
    die "the simulator exited while starting"
  }
  log "note: starting zaehlwerk anyway"
fi
start_bg zaehlwerk "$STATE/logs/zaehlwerk.log" "$BIN" all --config "$CONF"
if ! await zaehlwerk 60 "200 from http://$HOST:$API_PORT/readyz" api_ready; then
  log_tail "$STATE/logs/zaehlwerk.log" "$STATE/logs/sim.log"
  die "zaehlwerk did not become ready"
fi

# Onboard one household through the admin API, as a town would for a new resident: the household, its plug
# and an activation code for the letter. The store keeps it across runs; then a new code is issued.
onboard_demo_household() {
  local api="http://$HOST:$API_PORT" answer status
  local body='{"id":"hh-demo","name":"Demo-Haushalt","since":"'"$(date -u +%F)"'","devices":[{"id":"hh-demo-plug","source":{"type":"tasmota","topic":"plug-demo"}}]}'
  admin_post() { curl -sS --max-time 10 -w '\n%{http_code}' -H "Authorization: Bearer $ADMIN_TOKEN" "$@"; }
  answer=$(admin_post -H 'Content-Type: application/json' -d "$body" "$api/api/v1/admin/households") || return 1
  status=${answer##*$'\n'}
  if [[ $status == 409 ]]; then
    answer=$(admin_post -X POST "$api/api/v1/admin/households/hh-demo/activation") || return 1
    status=${answer##*$'\n'}
  fi
  answer=${answer%$'\n'*}
  if [[ $status != 201 ]]; then
    log "onboarding the demo household failed ($status): $answer"
    return 1
  fi
  ACTIVATION_CODE=$(printf '%s' "$answer" | sed -n 's/.*"activation_code":"\([^"]*\)".*/\1/p')
  [[ -n $ACTIVATION_CODE ]]
}
ACTIVATION_CODE=""
onboard_demo_household || log "note: no demo household onboarded (see above)"

cat <<EOF
api: http://$HOST:$API_PORT
influxdb: http://$HOST:$INFLUX_PORT database $DB
mqtt: mqtt://$HOST:$MQTT_PORT
token facility_manager: $FM_TOKEN
token resident: $RESIDENT_TOKEN
token parks: $PARKS_TOKEN
token admin: $ADMIN_TOKEN
token business: $BUSINESS_TOKEN
try: curl -H "Authorization: Bearer $FM_TOKEN" http://$HOST:$API_PORT/api/v1/devices
household hh-demo activation code: ${ACTIVATION_CODE:-none}
activate: curl -H 'Content-Type: application/json' -d '{"code":"${ACTIVATION_CODE:-…}"}' http://$HOST:$API_PORT/api/v1/activate
Ctrl-C stops everything (tokens in $STATE/tokens.txt, logs in $STATE/logs/)
EOF

# Wait for the end of the run or for any process to die, whichever comes first.
waiting=("${PID[@]}")
if [[ -n $DURATION ]]; then
  sleep "$DURATION" &
  TIMER=$!
  waiting+=("$TIMER")
fi
finished=""
wait -n -p finished "${waiting[@]}" || true
if [[ -n $TIMER && $finished == "$TIMER" ]]; then
  TIMER=""
  log "--duration $DURATION elapsed"
  exit 0
fi
for name in "${!PID[@]}"; do
  if [[ ${PID[$name]} == "$finished" ]]; then
    log_tail "$STATE/logs/$name.log"
    die "$name exited unexpectedly"
  fi
done
die "unexpected wake-up while waiting"
