#!/usr/bin/env bash
# Ingest throughput benchmark (issue 5 targets): end-to-end rate >= 90 % of the raw InfluxDB write rate
# measured in the same run, <= 1 µs of ingest CPU per reading, flat RSS.
#
# Builds the release binary and the helper (bench/ingest_bench/, a cargo example), which starts mosquitto
# and influxd from the test harness on free ports, measures the ceiling (4 writers posting pre-built
# 5,000-line batches), the live end-to-end rate and the drain rate of a broker backlog, with ingest CPU per
# reading and peak RSS; then runs the criterion bench of the per-reading CPU path.
#
# With --outage SECONDS it then stops influxd, publishes at full rate for SECONDS while ingest spools to
# disk (ingest RSS sampled every 2 s), restarts influxd and times the drain of the spool, then measures the
# ceiling again. The 10-minute run of the issue is `--outage 600` (about 20 minutes in all; run it with nohup).
#
# --outage-rate N caps the outage publishers at N readings/s in all (default: as fast as the broker accepts).
# --batch N publishes N readings per message on zw/v1/batches/… (default 1: one message per reading on its
# device topic), in every phase.
# --rounds R measures R pairs of ceiling and live phase (odd rounds live first) and reports the median ratio
# and the median CPU efficiency (all processes' CPU seconds per point, ceiling / live) (default 1).
# influxd writes its cache out after 1 s without writes (INFLUXDB_DATA_CACHE_SNAPSHOT_WRITE_COLD_DURATION),
# and every phase starts once it has: so ceiling and live phases pay the same snapshot work.
#
# Usage: bench/ingest.sh [READINGS] [RAW_POINTS] [--batch N] [--rounds R] [--outage SECONDS [--outage-rate N]]
#        (defaults 200000 and 1000000)
#        SKIP_CRITERION=1 skips the criterion part.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
OUTAGE=()
POS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --outage) OUTAGE+=(--outage "$2"); shift 2 ;;
    --outage-rate) OUTAGE+=(--outage-rate "$2"); shift 2 ;;
    --batch) OUTAGE+=(--batch "$2"); shift 2 ;;
    --rounds) OUTAGE+=(--rounds "$2"); shift 2 ;;
    *) POS+=("$1"); shift ;;
  esac
done
READINGS=${POS[0]:-200000}
RAW=${POS[1]:-1000000}

echo "bench: building (release)" >&2
cargo build --release --bin zaehlwerk --example ingest-bench >&2
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
export INFLUXDB_DATA_CACHE_SNAPSHOT_WRITE_COLD_DURATION=${INFLUXDB_DATA_CACHE_SNAPSHOT_WRITE_COLD_DURATION:-1s}
echo "== end to end (readings: $READINGS, ceiling points: $RAW) =="
uptime
"$TARGET/release/examples/ingest-bench" "$TARGET/release/zaehlwerk" "$READINGS" "$RAW" "${OUTAGE[@]}"
uptime
[ -n "${SKIP_CRITERION:-}" ] && exit 0

echo "== per-reading CPU path (criterion: encode = live path; decode_validate_line = via Reading) =="
cargo bench -q -p zw-ingest --bench reading_path -- --warm-up-time 1 --measurement-time 3 2>/dev/null |
  grep -E '^ingest/|time:'
