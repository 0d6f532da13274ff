#!/usr/bin/env bash
# A screenshot of TensorBoard's Custom Scalars dashboard for a logdir, taken
# with headless Chromium: the layout every gradscope run writes (docs/views.md),
# its first chart (every layer's log10 mean |grad|, every run, on one chart)
# enlarged. docs/custom-scalars.png:
#
#   cargo run --release -- --scenario all --logdir logs
#   scripts/screenshot-custom-scalars.sh logs docs/custom-scalars.png
#
# SCREENSHOT_SIZE: the window (default 1400,900). SCREENSHOT_CHART: the
# title of the chart to enlarge (default "log10 mean |grad| per layer").
#
# Starts TensorBoard on 127.0.0.1 on a free port, waits until its Custom
# Scalars plugin returns the layout, opens #custom_scalars in Chromium over
# the DevTools protocol (scripts/devtools.py), waits until the chart has
# drawn every run's lines, enlarges it from its own button and saves the PNG.
# Same requirements as scripts/screenshot-dashboards.sh.
set -euo pipefail

# shellcheck source=scripts/screenshot-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/screenshot-common.sh"
screenshot_setup "$@"
size="${SCREENSHOT_SIZE:-1400,900}"
chart="${SCREENSHOT_CHART:-log10 mean |grad| per layer}"

start_tensorboard
layout_served() {
    curl -sf "http://127.0.0.1:$port/data/plugin/custom_scalars/layout" >"$work/layout.json" 2>/dev/null &&
        grep -q '"category"' "$work/layout.json"
}
wait_for_tensorboard "the Custom Scalars layout of $logdir" layout_served
url="http://127.0.0.1:$port/?forceSVG=true#custom_scalars"

cat >"$work/shot.py" <<'PY'
"""The Custom Scalars dashboard with no smoothing and outliers kept, the
chart titled CHART enlarged with its legend open once its lines are drawn,
saved as a PNG."""
import sys, time

scripts, chromium, url, out, size, profile, chart = sys.argv[1:8]
sys.path.insert(0, scripts)
from devtools import DEEP_QUERY, Page

width, height = (int(x) for x in size.split(","))

DEEP = DEEP_QUERY + """
var cards = () => deep(document.body, 'tf-custom-scalar-multi-line-chart-card');
var card = () => cards().find(c => c.title === TITLE);
""".replace("TITLE", repr(chart))

# How many of the chart's points are drawn (-1: no such chart yet).
DRAWN = DEEP + "(() => { const c = card(); return c ? deep(c, 'path.symbol').length : -1; })()"

with Page(chromium, profile, width, height) as page:
    page.navigate(url)
    deadline = time.time() + 90
    while (drawn := page.js(DRAWN)) in (None, -1, 0):
        if time.time() > deadline:
            sys.exit(f"error: the chart {chart!r} drew nothing within 90 s ({drawn})")
        time.sleep(0.5)
    time.sleep(2)  # every run's series
    # The dashboard's own controls: outliers kept (its checkbox), no
    # smoothing (its slider); then the chart enlarged, its legend open.
    done = page.js(DEEP + """(async () => {
      const sleep = ms => new Promise(r => setTimeout(r, ms));
      const outliers = deep(document.body, 'paper-checkbox')
        .find(b => b.textContent.includes('Ignore outliers'));
      if (outliers && outliers.checked) outliers.click();
      const slider = deep(document.body, 'paper-slider')[0];
      if (slider) { slider.value = 0; slider.dispatchEvent(new CustomEvent('change')); }
      for (const c of cards()) { c.smoothingWeight = 0; c.ignoreYOutliers = false; }
      await sleep(500);
      const c = card();
      const full = deep(c, 'paper-icon-button').find(b => b.getAttribute('icon') === 'fullscreen');
      if (full) full.click();
      c._matchesListOpened = true;
      await sleep(1500);
      c.scrollIntoView();
      return [!!outliers, !!slider, !!full];
    })()""")
    print(f"chart {chart!r}: {drawn} points drawn; controls found (outliers, smoothing, enlarge): {done}")
    time.sleep(2)
    page.screenshot(out)
PY

"$python" "$work/shot.py" "$root/scripts" "$chromium" "$url" "$out" "$size" "$work/profile" "$chart"
[ -s "$out" ] || { echo "error: chromium wrote no screenshot to $out" >&2; exit 1; }
echo "TensorBoard's Custom Scalars dashboard of $logdir written to $out"
