#!/usr/bin/env bash
# Headless-Chromium screenshots of the log10 |grad| histograms: TensorBoard's
# Histograms dashboard, filtered to one tag family, for a logdir. With a
# sigmoid run these are docs/log10-histograms.png and
# docs/log10-distributions.png (docs/views.md): each layer's gradient
# magnitudes sit decades apart, where the linear histograms show a spike
# on zero.
#
#   cargo run --release -- --scenario sigmoid --logdir /tmp/sig
#   scripts/screenshot-log-histograms.sh /tmp/sig docs/log10-histograms.png
#
# SCREENSHOT_TAGS: the tag filter (default ^log10_abs_grad_); the
# Distributions dashboard's picture goes beside OUT, with "histograms"
# replaced by "distributions" in its name. SCREENSHOT_WAIT: seconds each
# dashboard gets to draw (default 10). TensorBoard from GRADSCOPE_PYTHON,
# else .venv; Chromium from CHROMIUM, else PATH (apt-get install chromium).
set -euo pipefail

# shellcheck source=scripts/screenshot-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/screenshot-common.sh"
screenshot_setup "$@"
tags="${SCREENSHOT_TAGS:-^log10_abs_grad_}"
wait_s="${SCREENSHOT_WAIT:-10}"
start_tensorboard
wait_for_runs histograms

cat >"$work/shot.py" <<'PY'
"""The Histograms and Distributions dashboards, filtered to the tags, each
given time to draw, saved as PNGs."""
import sys, time, urllib.parse

scripts, chromium, base, out, profile, tags, wait_s = sys.argv[1:8]
sys.path.insert(0, scripts)
from devtools import Page

query = urllib.parse.quote(tags, safe="")
with Page(chromium, profile, 1400, 1000) as page:
    for dashboard in ["histograms", "distributions"]:
        page.navigate(f"{base}/?forceSVG=true#{dashboard}&tagFilter={query}")
        time.sleep(float(wait_s))
        path = out.replace("histograms", dashboard) if dashboard != "histograms" else out
        page.screenshot(path)
        print(path)
PY

"$python" "$work/shot.py" "$root/scripts" "$chromium" "http://127.0.0.1:$port" "$out" \
    "$work/profile" "$tags" "$wait_s"
