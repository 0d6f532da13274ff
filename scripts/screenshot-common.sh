# Sourced by the screenshot scripts (screenshot-dashboards.sh,
# screenshot-hparams.sh): their arguments (LOGDIR OUT.png), the tools they
# need, a scratch folder, and a TensorBoard server on a free loopback port,
# stopped on exit. After `screenshot_setup "$@"`: $logdir, $out, $root,
# $python, $chromium, $work. After `start_tensorboard`: $port, $server_pid.
# `wait_for_tensorboard WHAT CMD...` polls CMD (bounded: 90 s) until it
# succeeds, failing with TensorBoard's log if it never does;
# `wait_for_runs PLUGIN` waits until PLUGIN's tags list every run of $logdir.

screenshot_setup() {
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
    local out_dir
    out_dir="$(dirname "$out")"
    [ -d "$out_dir" ] || { echo "error: the folder of OUT.png, $out_dir, does not exist" >&2; exit 1; }

    work="$(mktemp -d)"
    server_pid=""
    trap screenshot_cleanup EXIT
}

screenshot_cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}

start_tensorboard() {
    # A port the OS reports free; TensorBoard binds it a moment later.
    port="$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    "$python" -m tensorboard.main --logdir "$logdir" --host 127.0.0.1 --port "$port" \
        >"$work/tensorboard.log" 2>&1 &
    server_pid=$!
}

wait_for_tensorboard() {
    local what="$1"
    shift
    for _ in $(seq 1 180); do
        if ! kill -0 "$server_pid" 2>/dev/null; then
            echo "error: TensorBoard exited:" >&2
            cat "$work/tensorboard.log" >&2
            exit 1
        fi
        if "$@"; then
            return 0
        fi
        sleep 0.5
    done
    echo "error: TensorBoard did not show $what within 90 s:" >&2
    cat "$work/tensorboard.log" >&2
    exit 1
}

# Waits until the plugin PLUGIN (scalars, images, ...) lists every run of
# $logdir: every folder holding an event file. Fails first if there is none.
wait_for_runs() {
    local plugin="$1"
    runs="$(find "$logdir" -name 'events.out.tfevents.*' -printf '%h\n' | sort -u | wc -l)"
    [ "$runs" -gt 0 ] || { echo "error: no event files under $logdir" >&2; exit 1; }
    runs_listed() {
        curl -sf "http://127.0.0.1:$port/data/plugin/$plugin/tags" >"$work/tags.json" 2>/dev/null &&
            "$python" -c 'import json, sys; sys.exit(len(json.load(open(sys.argv[1]))) < int(sys.argv[2]))' \
                "$work/tags.json" "$runs"
    }
    wait_for_tensorboard "the $plugin of the $runs runs of $logdir" runs_listed
}
