#!/usr/bin/env bash
# A screenshot of TensorBoard's real dashboards for a logdir, taken with
# headless Chromium: by default the Time Series view filtered to the
# per-layer mean |grad| tags (mean_1 ... mean_N, one chart per layer, one line
# per run, log-scale y axes), the README's docs/tensorboard-scalars.png.
#
#   cargo run --release -- --scenario all --logdir logs
#   scripts/screenshot-dashboards.sh logs docs/tensorboard-scalars.png
#   SCREENSHOT_TAGS='^(loss|acc)$' SCREENSHOT_LINEAR=1 scripts/screenshot-dashboards.sh logs out.png
#
# SCREENSHOT_TAGS: TensorBoard's tag filter, a regular expression (default
# ^mean_). SCREENSHOT_SIZE: the window (default 1400,830: the six charts of
# a default run). SCREENSHOT_LINEAR=1 keeps the y axes linear.
#
# Starts TensorBoard on 127.0.0.1 on a free port and waits until its scalars
# plugin lists every run of LOGDIR. Then drives Chromium (Debian: `apt-get
# install chromium`, or set CHROMIUM) over the DevTools protocol on a pipe:
# sets TensorBoard's own settings (settings pane closed, no smoothing, no
# step selector, outliers kept), opens the view (SVG charts: headless Chromium
# has no WebGL here), waits until every chart on screen has drawn its lines,
# switches each chart's y axis to log scale from its menu, and saves the PNG.
# TensorBoard comes from GRADSCOPE_PYTHON, else .venv (scripts/setup-venv.sh);
# the driver needs only that Python's standard library. Not part of
# scripts/test.sh: Chromium is a heavy install. scripts/screenshot-hparams.sh
# does the same for the HParams table.
set -euo pipefail

# shellcheck source=scripts/screenshot-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/screenshot-common.sh"
screenshot_setup "$@"
tags="${SCREENSHOT_TAGS:-^mean_}"
size="${SCREENSHOT_SIZE:-1400,830}"

# The runs TensorBoard should list: every folder holding an event file.
runs="$(find "$logdir" -name 'events.out.tfevents.*' -printf '%h\n' | sort -u | wc -l)"
[ "$runs" -gt 0 ] || { echo "error: no event files under $logdir" >&2; exit 1; }

start_tensorboard
# Ready when the scalars plugin lists every run.
runs_listed() {
    curl -sf "http://127.0.0.1:$port/data/plugin/scalars/tags" >"$work/tags.json" 2>/dev/null &&
        "$python" -c 'import json, sys; sys.exit(len(json.load(open(sys.argv[1]))) < int(sys.argv[2]))' \
            "$work/tags.json" "$runs"
}
wait_for_tensorboard "the $runs runs of $logdir" runs_listed

filter="$("$python" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$tags")"
url="http://127.0.0.1:$port/?forceSVG=true&tagFilter=$filter#timeseries"

cat >"$work/shot.py" <<'PY'
"""Drive headless Chromium over the DevTools protocol on a pipe (fd 3: our
commands in, fd 4: its replies out, each message JSON ending in a NUL byte)."""
import base64, json, os, subprocess, sys, time

chromium, url, out, size, profile, log_y = sys.argv[1:7]
width, height = (int(x) for x in size.split(","))
origin = "/".join(url.split("/", 3)[:3]) + "/"

cmd_r, cmd_w = os.pipe()
reply_r, reply_w = os.pipe()
proc = subprocess.Popen(
    [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
     "--no-first-run", "--disable-background-networking", "--disable-component-update",
     "--disable-sync", "--hide-scrollbars", f"--user-data-dir={profile}",
     f"--window-size={width},{height}", "about:blank"],
    preexec_fn=lambda: (os.dup2(os.dup(cmd_r), 3), os.dup2(os.dup(reply_w), 4)),
    close_fds=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
os.close(cmd_r)
os.close(reply_w)
replies = os.fdopen(reply_r, "rb", buffering=0)
pending = b""
last_id = 0


def send(method, params=None, session=None):
    global last_id, pending
    last_id += 1
    message = {"id": last_id, "method": method, "params": params or {}}
    if session:
        message["sessionId"] = session
    os.write(cmd_w, json.dumps(message).encode() + b"\0")
    while True:
        while b"\0" not in pending:
            chunk = replies.read(1 << 16)
            if not chunk:
                sys.exit("error: chromium closed its DevTools pipe")
            pending += chunk
        raw, pending = pending.split(b"\0", 1)
        reply = json.loads(raw)
        if reply.get("id") == last_id:
            if "error" in reply:
                sys.exit(f"error: chromium: {method}: {reply['error']}")
            return reply["result"]


def js(expression):
    result = send("Runtime.evaluate",
                  {"expression": expression, "returnByValue": True, "awaitPromise": True}, page)
    return result["result"].get("value")


# Charts on screen, and how many of them have drawn a line.
CHARTS = """(() => {
  const on = Array.from(document.querySelectorAll('scalar-card'))
    .filter(c => c.getBoundingClientRect().top < window.innerHeight);
  return [on.length, on.filter(c => c.querySelector('svg path, svg polyline')).length];
})()"""


def wait_for_charts(what):
    deadline = time.time() + 60
    while True:
        shown, drawn = js(CHARTS)
        if shown and drawn == shown:
            return shown
        if time.time() > deadline:
            sys.exit(f"error: {what}: {drawn} of {shown} charts drawn after 60 s")
        time.sleep(0.5)


try:
    target = next(t for t in send("Target.getTargets")["targetInfos"] if t["type"] == "page")
    page = send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})["sessionId"]
    send("Emulation.setDeviceMetricsOverride",
         {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, page)
    # TensorBoard keeps its settings in localStorage: set them on its origin first.
    send("Page.navigate", {"url": origin}, page)
    deadline = time.time() + 30
    while js("document.readyState") != "complete" and time.time() < deadline:
        time.sleep(0.2)
    js("localStorage.setItem('_tb_global_settings', JSON.stringify({"
       "timeSeriesSettingsPaneOpened: false, stepSelectorEnabled: false,"
       "scalarSmoothing: 0, ignoreOutliers: false}))")
    send("Page.navigate", {"url": url}, page)
    charts = wait_for_charts("loading")
    if log_y == "1":
        # Each chart's menu has "Toggle Y-axis log scale".
        toggled = js("""(async () => {
          const sleep = ms => new Promise(r => setTimeout(r, ms));
          let n = 0;
          for (const card of document.querySelectorAll('scalar-card')) {
            const more = card.querySelector('button[aria-label="More line chart options"]');
            if (!more) continue;
            more.click();
            await sleep(300);
            const item = Array.from(document.querySelectorAll('[role="menu"] button, .mat-mdc-menu-panel button'))
              .find(b => b.textContent.includes('Toggle Y-axis log scale'));
            if (item) { item.click(); n++; }
            await sleep(300);
          }
          return n;
        })()""")
        if toggled < charts:
            sys.exit(f"error: switched {toggled} of {charts} charts to log scale")
        wait_for_charts("log scale")
    time.sleep(1.5)  # the last redraw
    shot = send("Page.captureScreenshot", {"format": "png"}, page)
    with open(out, "wb") as f:
        f.write(base64.b64decode(shot["data"]))
finally:
    # Browser.close lets Chromium end its own helper processes.
    try:
        os.write(cmd_w, json.dumps({"id": last_id + 1, "method": "Browser.close"}).encode() + b"\0")
        proc.wait(timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait()
PY

log_y=1
[ "${SCREENSHOT_LINEAR:-}" = 1 ] && log_y=0
"$python" "$work/shot.py" "$chromium" "$url" "$out" "$size" "$work/profile" "$log_y"
[ -s "$out" ] || { echo "error: chromium wrote no screenshot to $out" >&2; exit 1; }
echo "TensorBoard's Time Series view of $logdir (tags $tags) written to $out"
