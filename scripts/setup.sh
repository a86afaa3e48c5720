#!/usr/bin/env bash
# Install what HallWatch needs on Debian/Ubuntu, idempotently: Mosquitto, InfluxDB 1.x,
# the virtualenv .venv with the pinned requirements, and the package itself (editable).
# For tests and the demo: requirements-dev.txt (the runtime pins plus the test tools);
# production installs requirements.txt alone (docs/DEPLOY.md).
set -euo pipefail

cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."

STAMP=.venv/.requirements.sha
SBIN_PATH="$PATH:/usr/sbin:/usr/local/sbin:/sbin"

say() { echo "setup: $*" >&2; }
die() { echo "setup: error: $*" >&2; exit 1; }

have() { PATH="$SBIN_PATH" command -v "$1" >/dev/null 2>&1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root to run: $* (no sudo found); run it as root, then run this script again"
    fi
}

apt_updated=
apt_install() {
    command -v apt-get >/dev/null 2>&1 \
        || die "apt-get not found; install $* with your package manager, then run this again"
    say "installing $* (apt-get)"
    local log
    log=$(mktemp)
    if [ -z "$apt_updated" ]; then
        as_root apt-get update -qq >"$log" 2>&1 || { cat "$log" >&2; rm -f "$log"; die "apt-get update failed"; }
        apt_updated=1
    fi
    # Debian's packages may start their own services; we never use their ports (1883, 8086).
    if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        rm -f "$log"
        die "apt-get install $* failed"
    fi
    rm -f "$log"
}

# --- Python 3.11+ --------------------------------------------------------------------------
command -v python3 >/dev/null 2>&1 || die "python3 not found; HallWatch needs Python 3.11 or newer"
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "python3 is $(python3 -V 2>&1 | cut -d' ' -f2); HallWatch needs 3.11 or newer"

# --- Mosquitto and InfluxDB ----------------------------------------------------------------
if ! have mosquitto || ! have influxd; then
    apt_install mosquitto influxdb
    have mosquitto || die "mosquitto still not found after installing"
    have influxd || die "influxd still not found after installing (package influxdb, 1.x)"
fi

# --- Chromium and CJK fonts, for the browser tests -----------------------------------------
# Debian's chromium, driven by Playwright; Playwright's own browser downloads are never used.
# Not fatal: the demo runs without it, and the browser tests say what is missing (under CI
# they fail, elsewhere they are skipped).
cjk_fonts() { command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh family)" ]; }
if ! have chromium || ! cjk_fonts; then
    ( apt_install chromium fonts-noto-cjk ) \
        || say "warning: chromium or fonts-noto-cjk could not be installed; no browser tests"
fi

# --- virtualenv ----------------------------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
    say "creating .venv"
    if ! python3 -m venv .venv >/dev/null 2>&1; then
        rm -rf .venv
        apt_install python3-venv
        python3 -m venv .venv || die "python3 -m venv failed even after installing python3-venv"
    fi
fi

# --- Python packages -----------------------------------------------------------------------
want=$(cat requirements.txt requirements-dev.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -x .venv/bin/hallwatch ]; then
    exit 0
fi
say "installing Python packages into .venv"
log=$(mktemp)
pip() { .venv/bin/pip --disable-pip-version-check -q "$@" >"$log" 2>&1; }
if ! pip install -r requirements-dev.txt; then
    tail -n 30 "$log" >&2; rm -f "$log"; die "pip install -r requirements-dev.txt failed"
fi
if ! pip install --no-deps -e .; then
    tail -n 30 "$log" >&2; rm -f "$log"; die "pip install -e . failed"
fi
rm -f "$log"
echo "$want" >"$STAMP"
say "ready"
