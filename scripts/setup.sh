#!/usr/bin/env bash
# Sets up everything from zero: .venv with auroral[dev], and Mosquitto, systemd-analyze, openssl, and
# Chromium with its ChromeDriver (for the station page's browser test) from Debian's packages where they
# are missing. Safe to run again: finished steps are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=.venv
STAMP=$VENV/.installed

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "setup: Python 3.11 or newer is needed ($PYTHON is $("$PYTHON" --version 2>&1))" >&2
    exit 1
fi

if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating $VENV"
    "$PYTHON" -m venv "$VENV"
fi
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ] || [ scripts/constraints.txt -nt "$STAMP" ]; then
    need_gb=8  # torch, torchvision and the rest unpacked take about 6.6 GB, pip needs room to unpack
    free_gb=$(df -Pk "$VENV" | awk 'NR == 2 { print int($4 / 1048576) }')
    if [ "$free_gb" -lt "$need_gb" ]; then
        echo "setup: only $free_gb GB free on the disk holding $VENV; the install needs about $need_gb GB" >&2
        exit 1
    fi
    echo "setup: installing auroral[dev] into $VENV (torch included; a few minutes the first time)"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -c scripts/constraints.txt -e ".[dev]" 2>&1 \
        | grep -v "is ignored: it is neither a file nor a directory" || true
    "$VENV/bin/python" -c "import auroral.edge, torch, onnxruntime, paho.mqtt" \
        || { echo "setup: the Python install failed (see above)" >&2; exit 1; }
    touch "$STAMP"
fi

missing=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
[ -x /usr/bin/chromium ] || missing+=(chromium)  # the browser test drives exactly these two paths
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "setup: installing ${missing[*]} from Debian's packages"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "setup: ${missing[*]} missing and cannot be installed here (needs root and apt-get):" \
             "sudo apt-get install ${missing[*]}" >&2
        exit 1
    fi
fi
echo "setup: ready ($("$VENV/bin/python" --version), mosquitto, systemd-analyze and chromium present)"
