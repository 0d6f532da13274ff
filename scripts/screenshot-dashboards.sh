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

start_tensorboard
# Ready when the scalars plugin lists every run.
wait_for_runs scalars

filter="$("$python" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$tags")"
url="http://127.0.0.1:$port/?forceSVG=true&tagFilter=$filter#timeseries"

cat >"$work/shot.py" <<'PY'
"""The Time Series view with TensorBoard's own settings (settings pane
closed, no smoothing, no step selector, outliers kept), every chart drawn,
each switched to log scale from its menu, saved as a PNG."""
import sys, time

scripts, chromium, url, out, size, profile, log_y = sys.argv[1:8]
sys.path.insert(0, scripts)
from devtools import Page

width, height = (int(x) for x in size.split(","))
origin = "/".join(url.split("/", 3)[:3]) + "/"

# Charts on screen, and how many of them have drawn a line.
CHARTS = """(() => {
  const on = Array.from(document.querySelectorAll('scalar-card'))
    .filter(c => c.getBoundingClientRect().top < window.innerHeight);
  return [on.length, on.filter(c => c.querySelector('svg path, svg polyline')).length];
})()"""


def wait_for_charts(page, what):
    deadline = time.time() + 60
    while True:
        shown, drawn = page.js(CHARTS)
        if shown and drawn == shown:
            return shown
        if time.time() > deadline:
            sys.exit(f"error: {what}: {drawn} of {shown} charts drawn after 60 s")
        time.sleep(0.5)


with Page(chromium, profile, width, height) as page:
    # TensorBoard keeps its settings in localStorage: set them on its origin first.
    page.navigate(origin)
    page.js("localStorage.setItem('_tb_global_settings', JSON.stringify({"
            "timeSeriesSettingsPaneOpened: false, stepSelectorEnabled: false,"
            "scalarSmoothing: 0, ignoreOutliers: false}))")
    page.navigate(url)
    charts = wait_for_charts(page, "loading")
    if log_y == "1":
        # Each chart's menu has "Toggle Y-axis log scale".
        toggled = page.js("""(async () => {
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
        wait_for_charts(page, "log scale")
    time.sleep(1.5)  # the last redraw
    page.screenshot(out)
PY

log_y=1
[ "${SCREENSHOT_LINEAR:-}" = 1 ] && log_y=0
"$python" "$work/shot.py" "$root/scripts" "$chromium" "$url" "$out" "$size" "$work/profile" "$log_y"
[ -s "$out" ] || { echo "error: chromium wrote no screenshot to $out" >&2; exit 1; }
echo "TensorBoard's Time Series view of $logdir (tags $tags) written to $out"
