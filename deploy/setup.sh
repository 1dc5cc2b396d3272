#!/usr/bin/env bash
# Installs what Zählwerk's tests and demo need: mosquitto (+ clients), InfluxDB 1.x (+ CLI), promtool,
# curl, CA certificates and the DejaVu fonts (the Energiebericht's PDF). Idempotent: installs only what is
# missing, runs `apt-get update` at most once.
#
# On Debian/Ubuntu it uses apt-get (through sudo when not root). Elsewhere it names what to install and
# exits 1 if anything is missing. It never downloads a Rust toolchain: cargo must already be on PATH.
#
# The Debian packages would start system-wide mosquitto (port 1883), influxd (8086) and prometheus (9090)
# on installation, which would collide with deploy/demo.sh. So while installing, a temporary
# /usr/sbin/policy-rc.d (the standard Debian hook) forbids starting services, unless the machine already
# has one; afterwards the services of the packages installed in this run are stopped and disabled (best
# effort). Services of packages that were already installed are left alone: set
# ZW_STOP_SYSTEM_SERVICES=1 to stop and disable those too.
set -euo pipefail

log() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

# package -> a file it provides (checked on any OS, so a manual install elsewhere counts too)
declare -A PROVIDES=(
  [mosquitto]=/usr/sbin/mosquitto
  [mosquitto-clients]=mosquitto_sub
  [influxdb]=influxd
  [influxdb-client]=influx
  [prometheus]=promtool
  [victoria-metrics]=/usr/bin/victoria-metrics
  [curl]=curl
  [ca-certificates]=/etc/ssl/certs/ca-certificates.crt
  [chromium]=chromium
  [postgresql]='/usr/lib/postgresql/*/bin/initdb'
  [fonts-dejavu-core]=/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf
  [poppler-utils]=pdftotext
)
ORDER=(mosquitto mosquitto-clients influxdb influxdb-client prometheus victoria-metrics curl ca-certificates
  fonts-dejavu-core)
# Test-only extras (deploy/test.sh asks for them): the headless browser the dashboard tests use, and
# PostgreSQL, which the store's tests run against beside SQLite (the harness starts its own server on a free
# port, as the `postgres` user the package creates when the tests run as root), and poppler's pdftotext, which
# reads the Energiebericht's PDF back.
if [[ ${1:-} == --with-test-tools ]]; then
  ORDER+=(chromium postgresql poppler-utils)
fi
# package -> the system service its postinst starts
declare -A SERVICE=([mosquitto]=mosquitto [influxdb]=influxdb [prometheus]=prometheus [victoria-metrics]=victoria-metrics
  [postgresql]=postgresql)

present() {
  local what=${PROVIDES[$1]}
  # An absolute path may be a glob (PostgreSQL's binaries live under its version).
  if [[ $what == /* ]]; then compgen -G "$what" >/dev/null; else have "$what"; fi
}

is_debian() {
  have apt-get && have dpkg-query && [[ -r /etc/os-release ]] &&
    grep -Eqi '^(ID|ID_LIKE)=.*(debian|ubuntu)' /etc/os-release
}

stop_service() {
  local name=$1
  if have systemctl && [[ -d /run/systemd/system ]]; then
    $SUDO systemctl disable --now "$name" >/dev/null 2>&1 || true
  elif have service; then
    $SUDO service "$name" stop >/dev/null 2>&1 || true
    if have update-rc.d; then $SUDO update-rc.d "$name" disable >/dev/null 2>&1 || true; fi
  fi
}

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  SUDO=sudo
fi

missing=()
for pkg in "${ORDER[@]}"; do
  present "$pkg" || missing+=("$pkg")
done

if ((${#missing[@]})); then
  if ! is_debian; then
    die "missing: ${missing[*]}. This script installs them only on Debian/Ubuntu; install the equivalent \
packages (mosquitto broker and clients, InfluxDB 1.x server and CLI, Prometheus' promtool, curl, CA \
certificates) with your package manager, or point ZW_MOSQUITTO_BIN / ZW_INFLUXD_BIN at the binaries."
  fi
  if [[ -n $SUDO ]] && ! have sudo; then
    die "missing: ${missing[*]}; not root and sudo is not installed. Run as root: apt-get install ${missing[*]}"
  fi
  log "installing: ${missing[*]}"

  # Keep the packages from starting their services during installation (see the header).
  policy=/usr/sbin/policy-rc.d
  own_policy=""
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# Temporary, from zaehlwerk deploy/setup.sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod 755 "$policy"
    own_policy=1
    trap '$SUDO rm -f "$policy"' EXIT
  fi

  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"

  if [[ -n $own_policy ]]; then
    $SUDO rm -f "$policy"
    trap - EXIT
  fi
  for pkg in "${missing[@]}"; do
    if [[ -n ${SERVICE[$pkg]:-} ]]; then stop_service "${SERVICE[$pkg]}"; fi
  done

  still=()
  for pkg in "${missing[@]}"; do present "$pkg" || still+=("$pkg"); done
  ((${#still[@]} == 0)) || die "still missing after apt-get install: ${still[*]}"
else
  log "mosquitto, influxdb, promtool, curl and CA certificates are installed"
fi

if [[ ${ZW_STOP_SYSTEM_SERVICES:-} == 1 ]]; then
  for svc in "${SERVICE[@]}"; do
    log "stopping and disabling system service $svc"
    stop_service "$svc"
  done
fi

if ! have cargo; then
  die "cargo not found on PATH. Install a Rust toolchain (1.90 or newer, with rustfmt and clippy), e.g. \
from your distribution or with rustup, then run this again."
fi
log "ok: $(cargo --version)"
