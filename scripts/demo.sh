#!/usr/bin/env bash
# Set up (first time only) and launch the feedapp demo. Extra arguments go to `feedapp demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ] && [ -z "${QT_QPA_PLATFORM:-}" ]; then
  echo "feedapp: no display found (DISPLAY is not set). Run this on a desktop session, or under a virtual" >&2
  echo "display: xvfb-run -a bash scripts/demo.sh" >&2
  exit 1
fi
exec .venv/bin/feedapp demo "$@"
