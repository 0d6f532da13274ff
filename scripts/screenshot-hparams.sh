#!/usr/bin/env bash
# One headless-Chromium screenshot of TensorBoard's HParams dashboard for a
# logdir, to look at what a person would see (the HTTP API test cannot).
#
#   scripts/screenshot-hparams.sh LOGDIR OUT.png
#   SCREENSHOT_SIZE=2400,700 scripts/screenshot-hparams.sh LOGDIR OUT.png
#
# At the default 1400x900 the table shows the first five hyperparameter
# columns (TensorBoard's choice: alphabetical) and the metric columns begin at
# its right edge; a wider SCREENSHOT_SIZE shows them all.
#
# Starts TensorBoard on 127.0.0.1 on a free port, waits until its HParams
# plugin has the logdir's sessions, loads http://127.0.0.1:PORT/#hparams in
# Chromium (Debian: `apt-get install chromium`, or set CHROMIUM), writes the
# PNG to OUT.png and stops the server. TensorBoard comes from
# GRADSCOPE_PYTHON, else .venv (scripts/setup-venv.sh).
# Not part of scripts/test.sh: Chromium is a heavy install.
set -euo pipefail

# shellcheck source=scripts/screenshot-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/screenshot-common.sh"
screenshot_setup "$@"

start_tensorboard
# Ready when the HParams plugin answers with sessions.
request='{"experimentName":"","allowedStatuses":["STATUS_UNKNOWN","STATUS_SUCCESS","STATUS_FAILURE","STATUS_RUNNING"],"colParams":[],"startIndex":0,"sliceSize":100}'
has_sessions() {
    curl -sf -X POST -H 'Content-Type: application/json' -d "$request" \
        "http://127.0.0.1:$port/data/plugin/hparams/session_groups" 2>/dev/null |
        grep -q '"sessions"'
}
wait_for_tensorboard "HParams sessions for $logdir" has_sessions

# Virtual time lets the page's scripts and requests settle before the shot
# without a fixed real-time sleep.
"$chromium" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run \
    --user-data-dir="$work/profile" --window-size="${SCREENSHOT_SIZE:-1400,900}" \
    --virtual-time-budget=20000 --screenshot="$out" \
    "http://127.0.0.1:$port/#hparams" >"$work/chromium.log" 2>&1 || {
    echo "error: chromium failed:" >&2
    cat "$work/chromium.log" >&2
    exit 1
}
[ -s "$out" ] || { echo "error: chromium wrote no screenshot to $out" >&2; cat "$work/chromium.log" >&2; exit 1; }
echo "HParams view of $logdir written to $out"
