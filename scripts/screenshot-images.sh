#!/usr/bin/env bash
# A screenshot of TensorBoard's Images dashboard for a logdir, taken with
# headless Chromium: each run's first-layer kernels and gradient-flow chart
# at their last step (docs/views.md). docs/images-dashboard.png:
#
#   cargo run --release -- --scenario all --logdir logs
#   scripts/screenshot-images.sh logs docs/images-dashboard.png
#
# SCREENSHOT_SIZE: the window (default 1400,1800: both categories of three
# runs). Starts TensorBoard on 127.0.0.1 on a free port, waits until its
# Images plugin lists every run, opens #images in Chromium over the DevTools
# protocol (scripts/devtools.py), waits until every image on screen has
# loaded and saves the PNG. Same requirements as
# scripts/screenshot-dashboards.sh.
set -euo pipefail

# shellcheck source=scripts/screenshot-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/screenshot-common.sh"
screenshot_setup "$@"
size="${SCREENSHOT_SIZE:-1400,1800}"

start_tensorboard
wait_for_runs images
url="http://127.0.0.1:$port/#images"

cat >"$work/shot.py" <<'PY'
"""The Images dashboard, once every image on screen has loaded, as a PNG."""
import sys, time

scripts, chromium, url, out, size, profile = sys.argv[1:7]
sys.path.insert(0, scripts)
from devtools import DEEP_QUERY, Page

width, height = (int(x) for x in size.split(","))

# How many images are on screen, and how many of them have loaded.
LOADED = DEEP_QUERY + """
(() => {
  const on = deep(document.body, 'img').filter(i => i.getBoundingClientRect().top < window.innerHeight);
  return [on.length, on.filter(i => i.complete && i.naturalWidth > 0).length];
})()
"""

with Page(chromium, profile, width, height) as page:
    page.navigate(url)
    deadline = time.time() + 60
    while True:
        shown, loaded = page.js(LOADED) or (0, 0)
        if shown and loaded == shown:
            break
        if time.time() > deadline:
            sys.exit(f"error: {loaded} of {shown} images loaded after 60 s")
        time.sleep(0.5)
    time.sleep(1)
    print(f"{loaded} images on screen")
    page.screenshot(out)
PY

"$python" "$work/shot.py" "$root/scripts" "$chromium" "$url" "$out" "$size" "$work/profile"
[ -s "$out" ] || { echo "error: chromium wrote no screenshot to $out" >&2; exit 1; }
echo "TensorBoard's Images dashboard of $logdir written to $out"
