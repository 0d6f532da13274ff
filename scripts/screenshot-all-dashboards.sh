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
"""Each dashboard in turn, given time to draw, saved as a PNG."""
import os, sys, time

scripts, chromium, base, out_dir, profile, wait_s = sys.argv[1:7]
sys.path.insert(0, scripts)
from devtools import Page

DASHBOARDS = ["scalars", "histograms", "distributions", "images", "audio", "text",
              "pr_curves", "projector", "custom_scalars", "hparams", "graphs"]
# SwiftShader: the Projector draws with WebGL, which --disable-gpu leaves out.
with Page(chromium, profile, 1400, 900,
          ["--use-gl=swiftshader", "--enable-unsafe-swiftshader"]) as page:
    for name in DASHBOARDS:
        page.navigate(f"{base}/?forceSVG=true#{name}")
        time.sleep(float(wait_s))
        path = os.path.join(out_dir, f"tensorboard-{name}.png")
        page.screenshot(path)
        print(path)
PY

"$python" "$work/shot.py" "$root/scripts" "$chromium" "http://127.0.0.1:$port" "$out_dir" "$work/profile" "$wait_s"
