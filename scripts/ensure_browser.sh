#!/usr/bin/env bash
# Browser tests drive Debian's Chromium through Playwright (no browser download from the internet).
set -u
if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> installing Debian chromium for the browser tests"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || {
    echo "!! could not install chromium with apt-get" >&2; exit 1; }
  exit 0
fi
echo "!! chromium is missing; install it with: sudo apt-get install chromium" >&2
exit 1
