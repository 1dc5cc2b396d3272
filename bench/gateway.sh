#!/usr/bin/env bash
# Gateway Modbus load benchmark: one `zaehlwerk gateway` process polls N simulated SDM630 meters (one
# `zaehlwerk sim` process, `units_per_listener` unit ids per Modbus TCP port) at a fixed interval and
# publishes every reading to a private mosquitto. Reports poll lateness (p50/p99/p99.9 from the gateway's
# zw_gateway_poll_lateness_seconds histogram, delta over the measurement window), readings/s, skipped and
# late polls, CPU of gateway, simulator and broker, and the gateway's RSS.
#
# Also reports where the time goes: connects/disconnects/task wake-ups per second, endpoint time per activity
# and poll lateness split by what the endpoint task was doing meanwhile (gateway/src/modbus/trace.rs).
#
# Usage: bench/gateway.sh [N=10000] [DEAD_RATIO=0] [INTERVAL=1s]
# Env:   UNITS_PER_LISTENER (100), WARMUP (20 s), MEASURE (60 s), FIRST_PORT (31000), BIN (release binary),
#        PAIRS (unset): run PAIRS pairs of (dead ratio 0, DEAD_RATIO) alternately, fresh processes each, and
#        summarise both series, so the dead meters' effect can be compared with run-to-run noise.
#        SPLIT=1: put all dead meters on the first half of the ports (twice DEAD_RATIO there, none on the
#        others), so live meters sharing a connection with dead ones and live meters on clean connections are
#        compared in the same window (zw_gateway_modbus_poll_lateness_seconds{neighbours}); N/2 must be a
#        multiple of UNITS_PER_LISTENER.
# Everything runs on 127.0.0.1 and stops by itself. Build first: cargo build --release --bin zaehlwerk
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

N=${1:-10000}
DEAD=${2:-0}
INTERVAL=${3:-1s}
if [[ -n ${PAIRS:-} ]]; then
  out=$(mktemp /tmp/zw-bench-pairs.XXXXXX)
  for r in $(seq "$PAIRS"); do
    for d in 0 "$DEAD"; do
      echo "== pair $r, dead ratio $d (load $(cut -d' ' -f1-3 /proc/loadavg))"
      PAIRS= "$0" "$N" "$d" "$INTERVAL" | tee -a "$out"
    done
  done
  python3 - "$out" <<'PY'
import re, sys, statistics as st
runs = [dict(kv.split('=') for kv in l.split()[1:]) for l in open(sys.argv[1]) if l.startswith('SUMMARY ')]
for dead in sorted({r['dead'] for r in runs}):
    rs = [r for r in runs if r['dead'] == dead]
    for k in ('p50', 'p99', 'p999', 'late10'):
        v = [float(r[k]) for r in rs]
        print(f"dead={dead} {k}: " + ' '.join(f'{x:.1f}' for x in v)
              + f"  median {st.median(v):.1f}  range {min(v):.1f}-{max(v):.1f}")
pairs = list(zip(runs[0::2], runs[1::2]))
d = [float(b['p99']) - float(a['p99']) for a, b in pairs]
print("p99 difference per pair (dead - live), ms: " + ' '.join(f'{x:+.1f}' for x in d))
PY
  rm -f "$out"
  exit 0
fi
UPL=${UNITS_PER_LISTENER:-100}
WARMUP=${WARMUP:-20}
MEASURE=${MEASURE:-60}
FIRST_PORT=${FIRST_PORT:-31000}
BIN=${BIN:-target/release/zaehlwerk}
[[ -x $BIN ]] || { echo "build first: cargo build --release --bin zaehlwerk" >&2; exit 1; }
command -v mosquitto >/dev/null || [[ -x /usr/sbin/mosquitto ]] || { echo "mosquitto missing: deploy/setup.sh" >&2; exit 1; }
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)

dir=$(mktemp -d /tmp/zw-bench-gw.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
trap "exit 130" INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MQTT=$(free_port)
METRICS=$(free_port)

cat >"$dir/mosquitto.conf" <<CONF
listener $MQTT 127.0.0.1
allow_anonymous true
persistence false
log_dest none
max_queued_messages 100000
CONF
"$MOSQUITTO" -c "$dir/mosquitto.conf" & pids+=($!)

common="[bus]
port = $MQTT
[log]
filter = \"error\""

cat >"$dir/sim.toml" <<CONF
$common
[sim]
modbus_listen = "127.0.0.1:0"
meters = []
plugs = []
soil_sensors = []
update_interval = "1s"
$(if [[ -n ${SPLIT:-} ]]; then
  half=$((N / 2))
  echo "fleets = [{ profile = \"sdm630\", count = $half, listen = \"127.0.0.1:$FIRST_PORT\", units_per_listener = $UPL, dead_ratio = $(python3 -c "print(min(1, 2 * $DEAD))") },"
  echo "  { profile = \"sdm630\", count = $((N - half)), listen = \"127.0.0.1:$((FIRST_PORT + half / UPL))\", units_per_listener = $UPL }]"
else
  echo "fleets = [{ profile = \"sdm630\", count = $N, listen = \"127.0.0.1:$FIRST_PORT\", units_per_listener = $UPL, dead_ratio = $DEAD }]"
fi)
CONF

{
  echo "$common"
  echo "[telemetry]"
  echo "metrics_listen = \"127.0.0.1:$METRICS\""
  echo "[[sites]]"
  echo "id = \"bench\""
  echo "kind = \"building\""
  awk -v n="$N" -v upl="$UPL" -v port="$FIRST_PORT" -v iv="$INTERVAL" 'BEGIN {
    for (k = 0; k < n; k++) {
      printf "[[sites.devices]]\nid = \"m%d\"\nsource = { type = \"modbus\", endpoint = \"127.0.0.1:%d\", unit_id = %d, profile = \"sdm630\", interval = \"%s\" }\n", k, port + int(k / upl), 1 + k % upl, iv
    }
  }'
} >"$dir/gateway.toml"

"$BIN" sim --config "$dir/sim.toml" 2>"$dir/sim.log" & pids+=($!); sim_pid=$!
for _ in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/$((FIRST_PORT + (N - 1) / UPL))) 2>/dev/null && break
  sleep 0.1
done
"$BIN" gateway --config "$dir/gateway.toml" 2>"$dir/gateway.log" & pids+=($!); gw_pid=$!
mq_pid=${pids[0]}

scrape() { curl -sf "http://127.0.0.1:$METRICS/metrics"; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
for _ in $(seq 100); do scrape >/dev/null && break; sleep 0.1; done

sleep "$WARMUP"
scrape >"$dir/m0"; t0=$(date +%s.%N)
c0=("$(ticks "$gw_pid")" "$(ticks "$sim_pid")" "$(ticks "$mq_pid")")
sleep "$MEASURE"
scrape >"$dir/m1"; t1=$(date +%s.%N)
c1=("$(ticks "$gw_pid")" "$(ticks "$sim_pid")" "$(ticks "$mq_pid")")
rss=$(awk '/VmRSS/ {print $2}' "/proc/$gw_pid/status")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$gw_pid/status")
hz=$(getconf CLK_TCK)

python3 - "$dir/m0" "$dir/m1" "$t0" "$t1" "$hz" "$N" "$DEAD" "$INTERVAL" "$UPL" "$rss" "$hwm" \
  "${c0[0]}" "${c1[0]}" "${c0[1]}" "${c1[1]}" "${c0[2]}" "${c1[2]}" <<'PY'
import re, sys
m0, m1, t0, t1, hz, n, dead, iv, upl, rss, hwm = sys.argv[1:12]
c = list(map(float, sys.argv[12:18]))
secs = float(t1) - float(t0)
def parse(path):
    out = {}
    for line in open(path):
        if line.startswith('#'): continue
        m = re.match(r'^([a-z_]+)(\{[^}]*\})? (\S+)$', line.strip())
        if m: out[m.group(1) + (m.group(2) or '')] = float(m.group(3))
    return out
a, b = parse(m0), parse(m1)
d = lambda k: b.get(k, 0.0) - a.get(k, 0.0)
buckets = sorted((float('inf') if le == '+Inf' else float(le), d(k))
                 for k in b for le in re.findall(r'zw_gateway_poll_lateness_seconds_bucket\{le="([^"]+)"\}', k))
total = d('zw_gateway_poll_lateness_seconds_count')
def q(p, buckets=buckets, total=total):
    if total == 0: return float('nan')
    prev_le, prev_c = 0.0, 0.0
    for le, cum in buckets:
        if cum >= p * total:
            if le == float('inf'): return float('inf')
            frac = (p * total - prev_c) / max(cum - prev_c, 1e-9)
            return prev_le + (le - prev_le) * frac
        prev_le, prev_c = le, cum
    return float('inf')
cpu = lambda i: (c[2*i+1] - c[2*i]) / float(hz) / secs * 100
R = lambda k: d(k) / secs
ok, to = R('zw_gateway_modbus_requests_total{result="ok"}'), R('zw_gateway_modbus_requests_total{result="timeout"}')
pub = R('zw_gateway_readings_published_total{source="modbus"}')
probe = R('zw_gateway_modbus_busy_seconds_total{class="probe"}') * 100
state = {s: b.get('zw_gateway_modbus_devices{state="%s"}' % s, 0) for s in ("online", "degraded", "offline")}
skipped, late = d('zw_gateway_polls_skipped_total'), d('zw_gateway_polls_late_total')
print(f"meters={n} dead_ratio={dead} interval={iv} units_per_listener={upl} window={secs:.0f}s")
print(f"grid polls/s {total/secs:.0f}  readings/s {pub:.0f}  skipped {skipped:.0f}  late(>10% of interval) {late:.0f}")
print(f"lateness p50 {q(0.5)*1000:.1f} ms  p99 {q(0.99)*1000:.1f} ms  p99.9 {q(0.999)*1000:.1f} ms")
print(f"requests ok/s {ok:.0f}  timeouts/s {to:.1f}  probe time {probe:.2f}% of one connection")
print(f"devices online {state['online']:.0f} degraded {state['degraded']:.0f} offline {state['offline']:.0f}")
print(f"CPU gateway {cpu(0):.0f}%  sim {cpu(1):.0f}%  mosquitto {cpu(2):.0f}%  (of one core; 2 cores = 200%)")
print(f"gateway RSS {int(rss)/1024:.0f} MiB (peak {int(hwm)/1024:.0f} MiB)")
late10 = sum(lab_v for k, lab_v in [(k, d(k)) for k in b] if k.startswith('zw_gateway_modbus_late_polls_total'))
print(f"SUMMARY dead={dead} p50={q(0.5)*1000:.2f} p99={q(0.99)*1000:.2f} p999={q(0.999)*1000:.2f} late10={late10:.0f} polls={total/secs:.0f}")
lab = lambda name, label: {m.group(1): d(k) for k in b for m in [re.match(name + r'\{' + label + r'="([^"]+)"\}$', k)] if m}
conn = lab('zw_gateway_modbus_connects_total', 'result')
disc = lab('zw_gateway_modbus_disconnects_total', 'reason')
print(f"connects/s {' '.join(f'{k} {v/secs:.1f}' for k, v in sorted(conn.items())) or '0'}  "
      f"disconnects/s {' '.join(f'{k} {v/secs:.1f}' for k, v in sorted(disc.items())) or '0'}  "
      f"task wake-ups/s {R('zw_gateway_modbus_wakeups_total'):.0f}")
busy = lab('zw_gateway_modbus_busy_seconds_total', 'class')
print("endpoint time per s of wall time, summed over connections: "
      + ' '.join(f"{k} {v/secs:.3f}" for k, v in sorted(busy.items())))
cause = lab('zw_gateway_modbus_lateness_cause_seconds_total', 'cause')
print("lateness by cause, ms per grid poll: "
      + ' '.join(f"{k} {v/max(total,1)*1000:.3f}" for k, v in sorted(cause.items())))
for nb in ('healthy', 'failing'):
    key = 'zw_gateway_modbus_poll_lateness_seconds_%s{neighbours="' + nb + '"%s}'
    nt = d(key % ('count', ''))
    if nt == 0: continue
    nbk = sorted((float('inf') if le == '+Inf' else float(le), d(k)) for k in b
                 if k.startswith('zw_gateway_modbus_poll_lateness_seconds_bucket{') and f'neighbours="{nb}"' in k
                 for le in re.findall(r'le="([^"]+)"', k))
    print(f"live meters whose connection has {nb} neighbours: {nt/secs:.0f} polls/s  p50 {q(0.5, nbk, nt)*1000:.1f} ms"
          f"  p99 {q(0.99, nbk, nt)*1000:.1f} ms  p99.9 {q(0.999, nbk, nt)*1000:.1f} ms")
    print(f"SPLIT neighbours={nb} p50={q(0.5, nbk, nt)*1000:.2f} p99={q(0.99, nbk, nt)*1000:.2f} p999={q(0.999, nbk, nt)*1000:.2f}")
rq = d('zw_gateway_modbus_request_seconds_count')
if rq:
    rqb = sorted((float('inf') if le == '+Inf' else float(le), d(k)) for k in b
                 for le in re.findall(r'zw_gateway_modbus_request_seconds_bucket\{le="([^"]+)"\}', k))
    print(f"answered requests: mean {d('zw_gateway_modbus_request_seconds_sum')/rq*1000:.2f} ms"
          f"  p50 {q(0.5, rqb, rq)*1000:.2f} ms  p99 {q(0.99, rqb, rq)*1000:.2f} ms")
lp = lab('zw_gateway_modbus_late_polls_total', 'cause')
print("polls > 10 ms late by main cause: " + (' '.join(f"{k} {v:.0f}" for k, v in sorted(lp.items())) or 'none'))
PY
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
