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

if [ $# -ne 2 ]; then
    echo "usage: $0 LOGDIR OUT.png" >&2
    exit 2
fi
logdir="$1"
out="$2"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${GRADSCOPE_PYTHON:-$root/.venv/bin/python}"
chromium="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}"

[ -d "$logdir" ] || { echo "error: LOGDIR $logdir is not a directory" >&2; exit 1; }
[ -x "$python" ] || {
    echo "error: no Python with TensorBoard at $python; run scripts/setup-venv.sh or set GRADSCOPE_PYTHON" >&2
    exit 1
}
command -v curl >/dev/null || { echo "error: curl not found (it asks TensorBoard whether it is ready)" >&2; exit 1; }
[ -n "$chromium" ] || { echo "error: chromium not found; apt-get install chromium, or set CHROMIUM" >&2; exit 1; }
out_dir="$(dirname "$out")"
[ -d "$out_dir" ] || { echo "error: the folder of OUT.png, $out_dir, does not exist" >&2; exit 1; }

work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# A port the OS reports free; TensorBoard binds it a moment later.
port="$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$python" -m tensorboard.main --logdir "$logdir" --host 127.0.0.1 --port "$port" \
    >"$work/tensorboard.log" 2>&1 &
server_pid=$!

# Ready when the HParams plugin answers with sessions (bounded: 90 s).
request='{"experimentName":"","allowedStatuses":["STATUS_UNKNOWN","STATUS_SUCCESS","STATUS_FAILURE","STATUS_RUNNING"],"colParams":[],"startIndex":0,"sliceSize":100}'
ready=""
for _ in $(seq 1 180); do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "error: TensorBoard exited:" >&2
        cat "$work/tensorboard.log" >&2
        exit 1
    fi
    if curl -sf -X POST -H 'Content-Type: application/json' -d "$request" \
        "http://127.0.0.1:$port/data/plugin/hparams/session_groups" 2>/dev/null |
        grep -q '"sessions"'; then
        ready=1
        break
    fi
    sleep 0.5
done
if [ -z "$ready" ]; then
    echo "error: TensorBoard showed no HParams sessions for $logdir within 90 s:" >&2
    cat "$work/tensorboard.log" >&2
    exit 1
fi

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
