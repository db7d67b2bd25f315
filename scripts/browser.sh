#!/usr/bin/env bash
# Headless Chromium (Debian's chromium, which scripts/setup.sh installs), the
# one way sfcrime's browser test and README pictures drive a browser:
#
#   scripts/browser.sh dom URL                       the DOM after the page loaded, on stdout
#   scripts/browser.sh screenshot FILE URL [WxH]     a PNG of the page (default 1400x1000)
#
# Each call gets a profile of its own (concurrent Chromiums sharing one hand
# their page to the first and exit), scripts run for up to 10 s of virtual
# time (Spark's UI draws its graphs with JavaScript), and Chromium's own
# chatter (no D-Bus in a container) is shown only when it fails.
set -euo pipefail

usage() { echo "usage: $0 dom URL | screenshot FILE URL [WxH]" >&2; exit 2; }
chromium=${SFCRIME_CHROMIUM:-chromium}
if ! command -v "$chromium" >/dev/null; then
  echo "browser.sh: no '$chromium' on PATH: scripts/setup.sh installs Debian's chromium (apt-get install chromium)" >&2
  exit 127
fi
(($# >= 2)) || usage
profile=$(mktemp -d "${TMPDIR:-/tmp}/sfcrime-chromium.XXXXXX")
trap 'rm -rf "$profile"' EXIT
flags=(--headless=new --no-sandbox --disable-gpu --no-first-run --hide-scrollbars
       --user-data-dir="$profile" --virtual-time-budget=10000)
case $1 in
  dom)
    (($# == 2)) || usage
    args=(--dump-dom "$2")
    ;;
  screenshot)
    (($# == 3 || $# == 4)) || usage
    size=${4:-1400x1000}
    args=(--screenshot="$(realpath -m "$2")" --window-size="${size/x/,}" "$3")
    ;;
  *) usage ;;
esac
if ! timeout 120 "$chromium" "${flags[@]}" "${args[@]}" 2>"$profile/stderr"; then
  cat "$profile/stderr" >&2
  echo "browser.sh: chromium failed on ${*: -1}" >&2
  exit 1
fi
