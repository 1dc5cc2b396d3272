#!/usr/bin/env bash
# Ingest throughput benchmark (issue 5 targets): end-to-end rate >= 90 % of the raw InfluxDB write rate
# measured in the same run, <= 1 µs of ingest CPU per reading, flat RSS.
#
# Builds the release binary and the helper (bench/ingest_bench.rs, a cargo example), which starts mosquitto
# and influxd from the test harness on free ports, measures the ceiling (2 writers posting pre-built
# 5,000-line batches), the live end-to-end rate and the drain rate of a broker backlog, with ingest CPU per
# reading and peak RSS; then runs the criterion bench of the per-reading CPU path.
#
# Usage: bench/ingest.sh [READINGS] [RAW_POINTS]   (defaults 200000 and 1000000)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
READINGS=${1:-200000}
RAW=${2:-1000000}

echo "bench: building (release)" >&2
cargo build --release --bin zaehlwerk --example ingest-bench >&2
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
echo "== end to end (readings: $READINGS, ceiling points: $RAW) =="
"$TARGET/release/examples/ingest-bench" "$TARGET/release/zaehlwerk" "$READINGS" "$RAW"

echo "== per-reading CPU path (criterion: decode + validate + line) =="
cargo bench -q -p zw-ingest --bench reading_path -- --warm-up-time 1 --measurement-time 3 2>/dev/null |
  grep -E '^ingest/|time:'
