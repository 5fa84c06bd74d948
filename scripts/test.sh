#!/usr/bin/env bash
# Set up (system packages, .venv with test extras) and run the whole test suite headless.
# Qt tests run offscreen; the few that need a real X display start their own Xvfb (xvfb-run -a).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
export QT_QPA_PLATFORM=offscreen QT_LOGGING_RULES="qt.multimedia*=false"
unset DISPLAY WAYLAND_DISPLAY
exec .venv/bin/python -m pytest -q "$@"
