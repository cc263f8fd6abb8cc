#!/usr/bin/env bash
# What the browser test (ragassets_tests/test_ui_browser.py) needs: Debian's Chromium and the
# playwright Python package. No browser download: the test drives /usr/bin/chromium through
# Playwright's executable_path. Idempotent; safe to run on every CI start.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  # recommends included: they bring the fonts that make the screenshots readable
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium
fi
chromium --version 2>/dev/null || { echo "chromium is not runnable" >&2; exit 1; }

PY="${PYTHON:-.venv/bin/python}"
if [ ! -x "$PY" ]; then
  make install-dev
fi
# pip never downloads a browser for playwright; PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD guards `playwright install`
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
"$PY" -m pip install -q -c constraints.txt "playwright>=1.45" "psutil>=5.9"
"$PY" -c "import playwright.sync_api, psutil; print('playwright ready')"
