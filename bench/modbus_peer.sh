#!/usr/bin/env bash
# Independent peer check of the Modbus code: pymodbus (from PyPI, in a venv under target/) as client against
# `zaehlwerk sim` (Modbus TCP and RTU over TCP) and as server for `zaehlwerk gateway` (readings checked on a
# private mosquitto). See bench/modbus_peer.py for the checks. Needs mosquitto and mosquitto_sub.
#
# Usage: bench/modbus_peer.sh            (BIN: binary to test, default target/release/zaehlwerk)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=${BIN:-target/release/zaehlwerk}
[[ -x $BIN ]] || { echo "build first: cargo build --release --bin zaehlwerk" >&2; exit 1; }
VENV=target/peer-venv
PYMODBUS=pymodbus==3.8.6
if ! "$VENV/bin/python" -c 'import pymodbus' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "$PYMODBUS"
fi
exec "$VENV/bin/python" bench/modbus_peer.py --bin "$BIN"
