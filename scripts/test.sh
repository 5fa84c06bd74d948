#!/usr/bin/env bash
# Set up (system packages, .venv with test extras) and run the whole test suite headless.
# Qt tests run offscreen; the few that need a real X display start their own Xvfb (tests/e2e/xvfb.py:
# Xvfb picks a free display number itself, so the two pytest-xdist workers never share one). FEEDAPP_TEST_WORKERS (default
# 2) sets the number of workers; 0 runs in one process.
# Without arguments, tests/store and tests/lab then run a second time inside a time namespace whose
# monotonic and boot-time clocks read about a minute (a machine just switched on), where
# `unshare --time` is allowed; otherwise one line says that run was skipped. The exit code is
# non-zero when either run fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
export QT_QPA_PLATFORM=offscreen QT_LOGGING_RULES="qt.multimedia*=false"
unset DISPLAY WAYLAND_DISPLAY
rc=0
workers=${FEEDAPP_TEST_WORKERS:-2}
.venv/bin/python -m pytest -q -n "$workers" "$@" || rc=$?
if [ $# -eq 0 ]; then
    uptime_s=$(cut -d. -f1 /proc/uptime 2>/dev/null || echo 0)
    offset=$(( uptime_s > 60 ? uptime_s - 60 : 0 ))
    ns=""
    for prefix in "unshare --time" "unshare --user --map-root-user --time"; do
        if $prefix --fork --monotonic=-"$offset" --boottime=-"$offset" true >/dev/null 2>&1; then
            ns="$prefix --fork --monotonic=-$offset --boottime=-$offset"
            break
        fi
    done
    if [ -n "$ns" ]; then
        echo "second run of tests/store and tests/lab with the monotonic clock reading about a minute ($ns):"
        ns_rc=0
        $ns .venv/bin/python -m pytest -q -n "$workers" -p no:cacheprovider tests/store tests/lab || ns_rc=$?
        [ "$ns_rc" -ne 0 ] && [ "$rc" -eq 0 ] && rc=$ns_rc
    else
        echo "skipped the second run of tests/store and tests/lab in a time namespace: unshare --time is not allowed here"
    fi
fi
exit "$rc"
