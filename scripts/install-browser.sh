#!/bin/sh
# Debian's Chromium for the browser tests (tests/browser), installed when it is missing and we
# are root; Playwright's own browser download needs a CDN, which CI and offline machines lack.
# Elsewhere it only says what to do: the tests fail, with the same advice, until it is done.
set -eu

CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
[ -x "$CHROMIUM" ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-browser: no Chromium at $CHROMIUM; the browser tests need one." >&2
    echo "  Debian/Ubuntu: sudo apt-get install chromium; or set CHROMIUM_PATH to a Chromium." >&2
    exit 1
fi
echo "install-browser: installing Debian's chromium for the browser tests" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium >/dev/null
[ -x "$CHROMIUM" ] || { echo "install-browser: apt-get installed no $CHROMIUM" >&2; exit 1; }
