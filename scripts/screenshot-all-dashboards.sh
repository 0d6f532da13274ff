#!/usr/bin/env bash
# A headless-Chromium screenshot of every TensorBoard dashboard for a logdir,
# one PNG per dashboard: OUTDIR/tensorboard-<dashboard>.png. With the logdir
# of crates/gradscope-tensorboard/examples/all_dashboards.rs these are the
# pictures in docs/ (see docs/dashboards.md):
#
#   cargo run -p gradscope-tensorboard --example all_dashboards -- /tmp/all
#   scripts/screenshot-all-dashboards.sh /tmp/all docs
#
# SCREENSHOT_WAIT: seconds each dashboard gets to draw (default 8).
# TensorBoard comes from GRADSCOPE_PYTHON, else .venv; Chromium from
# CHROMIUM, else PATH (Debian: apt-get install chromium). Not part of
# scripts/test.sh: Chromium is a heavy install.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 LOGDIR OUTDIR" >&2
    exit 2
fi
out_dir="$2"
[ -d "$out_dir" ] || { echo "error: OUTDIR $out_dir is not a directory" >&2; exit 1; }
wait_s="${SCREENSHOT_WAIT:-8}"
# shellcheck source=scripts/screenshot-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/screenshot-common.sh"
screenshot_setup "$1" "$out_dir/tensorboard.png"
start_tensorboard
# Ready once the scalars plugin lists a run.
lists_a_run() {
    curl -sf "http://127.0.0.1:$port/data/plugin/scalars/tags" | grep -q '{"'
}
wait_for_tensorboard "a run of $logdir" lists_a_run

cat >"$work/shot.py" <<'PY'
"""Headless Chromium over the DevTools protocol on a pipe (fd 3: commands
in, fd 4: replies out; each message JSON ending in a NUL byte): open each
dashboard, give it time to draw, save a PNG."""
import base64, json, os, subprocess, sys, time

chromium, base, out_dir, profile, wait_s = sys.argv[1:6]
DASHBOARDS = ["scalars", "histograms", "distributions", "images", "audio", "text",
              "pr_curves", "projector", "custom_scalars", "hparams", "graphs"]
cmd_r, cmd_w = os.pipe()
reply_r, reply_w = os.pipe()
proc = subprocess.Popen(
    [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
     "--no-first-run", "--hide-scrollbars", "--use-gl=swiftshader", "--enable-unsafe-swiftshader",
     f"--user-data-dir={profile}", "--window-size=1400,900", "about:blank"],
    preexec_fn=lambda: (os.dup2(os.dup(cmd_r), 3), os.dup2(os.dup(reply_w), 4)),
    close_fds=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
os.close(cmd_r)
os.close(reply_w)
replies = os.fdopen(reply_r, "rb", buffering=0)
buf = b""
next_id = 0


def send(method, params=None, session=None):
    global next_id, buf
    next_id += 1
    msg = {"id": next_id, "method": method, "params": params or {}}
    if session:
        msg["sessionId"] = session
    os.write(cmd_w, json.dumps(msg).encode() + b"\0")
    while True:
        while b"\0" not in buf:
            chunk = replies.read(1 << 16)
            if not chunk:
                sys.exit("error: chromium closed its DevTools pipe")
            buf += chunk
        raw, buf = buf.split(b"\0", 1)
        reply = json.loads(raw)
        if reply.get("id") == next_id:
            if "error" in reply:
                sys.exit(f"error: {method}: {reply['error']}")
            return reply["result"]


try:
    target = next(t for t in send("Target.getTargets")["targetInfos"] if t["type"] == "page")
    page = send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})["sessionId"]
    send("Emulation.setDeviceMetricsOverride",
         {"width": 1400, "height": 900, "deviceScaleFactor": 1, "mobile": False}, page)
    for name in DASHBOARDS:
        send("Page.navigate", {"url": f"{base}/?forceSVG=true#{name}"}, page)
        time.sleep(float(wait_s))
        shot = send("Page.captureScreenshot", {"format": "png"}, page)
        path = os.path.join(out_dir, f"tensorboard-{name}.png")
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        print(path)
finally:
    try:
        os.write(cmd_w, json.dumps({"id": next_id + 1, "method": "Browser.close"}).encode() + b"\0")
        proc.wait(timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait()
PY

"$python" "$work/shot.py" "$chromium" "http://127.0.0.1:$port" "$out_dir" "$work/profile" "$wait_s"
