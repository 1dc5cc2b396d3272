#!/usr/bin/env bash
# The full check CI runs (via .ci/run): install services, formatting, lints, all tests.
# Exits non-zero on the first failing step. Usage: deploy/test.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

step_start=$SECONDS
section() {
  printf '\n==== %s ====\n' "$*"
  step_start=$SECONDS
}
done_step() { printf -- '---- ok (%ss)\n' "$((SECONDS - step_start))"; }

export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
export RUST_BACKTRACE=${RUST_BACKTRACE:-1}

section "setup: services and tools (deploy/setup.sh)"
deploy/setup.sh --with-test-tools
for component in fmt clippy; do
  if ! cargo "$component" --version >/dev/null 2>&1; then
    echo "error: cargo $component is not installed (rustup component add ${component/fmt/rustfmt})" >&2
    exit 1
  fi
done
done_step

section "format: cargo fmt --all -- --check"
cargo fmt --all -- --check
done_step

section "lint: cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
done_step

section "test: cargo test --workspace"
cargo test --workspace --no-fail-fast
done_step

section "peer check: pymodbus against our simulator and gateway (bench/modbus_peer.sh)"
# An independent Modbus implementation (pymodbus from PyPI, in a venv under target/) reads our simulator
# and is polled by our gateway. The venv needs ensurepip (Debian package python3-venv).
if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  if command -v apt-get >/dev/null; then
    $([[ $(id -u) -eq 0 ]] || echo sudo) apt-get install -y -q python3-venv
  else
    echo "test: install Python 3 with venv/ensurepip for the Modbus peer check" >&2
    exit 1
  fi
fi
BIN="${CARGO_TARGET_DIR:-target}/debug/zaehlwerk" bench/modbus_peer.sh
done_step

section "demo smoke: the README's quick start (deploy/demo_smoke.sh)"
BIN="${CARGO_TARGET_DIR:-target}/debug/zaehlwerk" deploy/demo_smoke.sh
done_step

printf '\n==== all checks passed (%ss) ====\n' "$SECONDS"
