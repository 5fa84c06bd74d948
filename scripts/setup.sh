#!/usr/bin/env bash
# Set up feedapp on a Debian/Ubuntu machine: system libraries Qt needs, a virtual environment in
# .venv, and the package itself. Safe to run again: it only does what is missing.
#   scripts/setup.sh          what the app needs
#   scripts/setup.sh --test   also what the test suite needs (Xvfb, xdotool, ffmpeg, test packages, and the
#                             optional peers extra: vowpalwabbit, for the vw_cb peer; a warning if it cannot install)
set -euo pipefail
cd "$(dirname "$0")/.."
want_test=0
[ "${1:-}" = "--test" ] && want_test=1
say() { printf 'feedapp setup: %s\n' "$*" >&2; }

# --- Python 3.11+ ------------------------------------------------------------------------------
PY=""
for cand in "${PYTHON:-}" python3 python3.13 python3.12 python3.11; do
  [ -n "$cand" ] && command -v "$cand" >/dev/null 2>&1 || continue
  if "$cand" -c 'import sys; raise SystemExit(sys.version_info < (3, 11))' 2>/dev/null; then PY=$cand; break; fi
done
if [ -z "$PY" ]; then
  say "Python 3.11 or newer is needed and none was found (python3 is $(python3 --version 2>&1 || echo missing))."
  say "Install it (Debian 12/Ubuntu 24.04: sudo apt-get install python3 python3-venv) and run this again."
  exit 1
fi

# --- system libraries, checked by the shared library Qt loads, installed by package name ---------
# Each line: library file | Debian/Ubuntu package(s) that provide it (first one the archive knows wins)
libs=(
  "libpulse.so.0|libpulse0"
  "libEGL.so.1|libegl1"
  "libGL.so.1|libgl1"
  "libfontconfig.so.1|libfontconfig1"
  "libfreetype.so.6|libfreetype6"
  "libglib-2.0.so.0|libglib2.0-0t64 libglib2.0-0"
  "libdbus-1.so.3|libdbus-1-3"
  "libX11.so.6|libx11-6"
  "libX11-xcb.so.1|libx11-xcb1"
  "libXext.so.6|libxext6"
  "libXrandr.so.2|libxrandr2"
  "libxkbcommon.so.0|libxkbcommon0"
  "libxkbcommon-x11.so.0|libxkbcommon-x11-0"
  "libxcb.so.1|libxcb1"
  "libxcb-cursor.so.0|libxcb-cursor0"
  "libxcb-glx.so.0|libxcb-glx0"
  "libxcb-icccm.so.4|libxcb-icccm4"
  "libxcb-image.so.0|libxcb-image0"
  "libxcb-keysyms.so.1|libxcb-keysyms1"
  "libxcb-randr.so.0|libxcb-randr0"
  "libxcb-render-util.so.0|libxcb-render-util0"
  "libxcb-render.so.0|libxcb-render0"
  "libxcb-shape.so.0|libxcb-shape0"
  "libxcb-shm.so.0|libxcb-shm0"
  "libxcb-sync.so.1|libxcb-sync1"
  "libxcb-util.so.1|libxcb-util1"
  "libxcb-xfixes.so.0|libxcb-xfixes0"
  "libxcb-xkb.so.1|libxcb-xkb1"
  "libzstd.so.1|libzstd1"
)
missing_pkgs=()
# The linker cache, read once (grep -q on a pipe would SIGPIPE ldconfig, which pipefail reports as failure).
LDCACHE=$(ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null || true)
have_lib() {
  grep -q "[[:space:]]$1 " <<<"$LDCACHE" ||
    ls /usr/lib/*/"$1" /lib/*/"$1" /usr/lib64/"$1" /usr/lib/"$1" /lib64/"$1" >/dev/null 2>&1
}
apt_updated=0
apt_update_once() {
  if [ $apt_updated = 0 ]; then say "apt-get update"; apt-get update -qq >&2; apt_updated=1; fi
}
pick_pkg() {  # first candidate the package archive knows (without apt, the first one)
  local c
  for c in "$@"; do
    if command -v apt-cache >/dev/null 2>&1 && apt-cache show "$c" >/dev/null 2>&1; then echo "$c"; return; fi
  done
  echo "$1"
}
for entry in "${libs[@]}"; do
  lib=${entry%%|*}; pkgs=${entry#*|}
  have_lib "$lib" || missing_pkgs+=("$pkgs")
done
if [ $want_test = 1 ]; then
  command -v xvfb-run >/dev/null 2>&1 || missing_pkgs+=("xvfb")
  command -v xauth >/dev/null 2>&1 || missing_pkgs+=("xauth")
  command -v xdotool >/dev/null 2>&1 || missing_pkgs+=("xdotool")  # real X input in tests/e2e
  command -v ffmpeg >/dev/null 2>&1 || missing_pkgs+=("ffmpeg")  # makes the real-codec corpus (tests/corpus.py)
fi
# Debian's Python needs python3-venv for `python -m venv` (ensurepip)
if [ ! -x .venv/bin/python ] && ! "$PY" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  v=$("$PY" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
  missing_pkgs+=("python$v-venv python3-venv")
fi

if [ ${#missing_pkgs[@]} -gt 0 ]; then
  can_apt=0
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && can_apt=1
  if [ $can_apt = 1 ]; then
    apt_update_once
    names=()
    for p in "${missing_pkgs[@]}"; do read -r -a alts <<<"$p"; names+=("$(pick_pkg "${alts[@]}")"); done
    say "installing system packages: ${names[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${names[@]}" >&2
  else
    names=()
    for p in "${missing_pkgs[@]}"; do read -r -a alts <<<"$p"; names+=("$(pick_pkg "${alts[@]}")"); done
    say "these system packages are missing and this script cannot install them (it needs root and apt-get):"
    say "  sudo apt-get install ${names[*]}"
    say "Then run this command again."
    exit 1
  fi
fi

# --- virtual environment and the package -------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
  say "creating a virtual environment in .venv with $("$PY" --version)"
  "$PY" -m venv .venv
fi
extras=""
stamp=".venv/.feedapp-installed"
if [ $want_test = 1 ]; then extras="[test]"; stamp="$stamp-test"; fi
sum=$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$sum" ]; then
  say "installing feedapp$extras and its Python packages into .venv (PySide6, OpenCV, sqlite-utils, numpy)"
  log=.venv/pip-install.log
  if ! { .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip &&
         .venv/bin/python -m pip install -q --disable-pip-version-check -e ".$extras"; } >"$log" 2>&1; then
    cat "$log" >&2
    say "installing the Python packages failed (the lines above say why; full log in $log)"
    exit 1
  fi
  if [ $want_test = 1 ] &&
     ! .venv/bin/python -m pip install -q --disable-pip-version-check -e ".[peers]" >>"$log" 2>&1; then
    # optional: without vowpalwabbit the vw_cb peer is reported as missing and its tests are skipped
    say "warning: the optional peers extra (vowpalwabbit) did not install (see $log); simulate will report vw_cb as missing"
  fi
  echo "$sum" >"$stamp"
fi
say "ready"
