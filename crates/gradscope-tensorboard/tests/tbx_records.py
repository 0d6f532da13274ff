#!/usr/bin/env python3
"""Writes, with tensorboardX's SummaryWriter, the records that
tests/tensorboardx.rs writes with gradscope-tensorboard's, from the same
inputs, so that the Rust test can compare the two event files record by
record (wall time aside).

    python tbx_records.py SPEC.json LOGDIR

SPEC.json (written by the Rust test) lists the calls: each kind is a list
of calls in the order to make them; LOGDIR gets tensorboardX's event file
(and, for add_hparams, the subfolder that tensorboardX writes it into).
Needs tensorboardX 2.6.5, numpy, Pillow (add_image) and soundfile
(add_audio). Prints the tensorboardX version and the event files written.
"""
import glob
import json
import os
import sys

import numpy as np
import tensorboardX
from tensorboardX import SummaryWriter


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    logdir = sys.argv[2]
    # A fixed wall time: the Rust side ignores it, but a fixed one keeps the
    # file the same from run to run.
    walltime = 1.0e9
    with SummaryWriter(logdir=logdir, flush_secs=3600) as w:
        for c in spec.get("scalars", []):
            w.add_scalar(c["tag"], c["value"], c["step"], walltime=walltime)
        for c in spec.get("texts", []):
            w.add_text(c["tag"], c["text"], c["step"], walltime=walltime)
        for c in spec.get("images", []):
            pixels = np.array(c["pixels"], dtype=c["dtype"]).reshape(c["shape"])
            w.add_image(c["tag"], pixels, c["step"], walltime=walltime,
                        dataformats=c["dataformats"])
        for c in spec.get("audio", []):
            samples = np.array(c["samples"], dtype=np.float32)
            w.add_audio(c["tag"], samples, c["step"], sample_rate=c["sample_rate"],
                        walltime=walltime)
        for c in spec.get("pr_curves", []):
            w.add_pr_curve_raw(c["tag"], np.array(c["tp"]), np.array(c["fp"]),
                               np.array(c["tn"]), np.array(c["fn"]),
                               np.array(c["precision"]), np.array(c["recall"]),
                               c["step"], num_thresholds=len(c["tp"]), walltime=walltime)
        for c in spec.get("histograms_raw", []):
            w.add_histogram_raw(c["tag"], c["min"], c["max"], c["num"], c["sum"],
                                c["sum_squares"], c["bucket_limits"], c["bucket_counts"],
                                c["step"], walltime=walltime)
        for c in spec.get("histograms", []):
            values = np.array(c["values"], dtype=np.float32)
            w.add_histogram(c["tag"], values, c["step"], bins="tensorflow",
                            walltime=walltime)
        if "custom_scalars" in spec:
            # {category: {chart: ["Multiline" | "Margin", [tags]]}}, in order.
            layout = {cat: {chart: (kind, tags) for chart, kind, tags in charts}
                      for cat, charts in spec["custom_scalars"]}
            w.add_custom_scalars(layout)
        for c in spec.get("hparams", []):
            w.add_hparams(dict(c["hparams"]), dict(c["metrics"]), name=c["name"],
                          global_step=c["step"])
    files = sorted(glob.glob(os.path.join(logdir, "**", "events.out.tfevents.*"),
                             recursive=True))
    print(f"tensorboardX {tensorboardX.__version__}")
    for path in files:
        print(os.path.relpath(path, logdir))


if __name__ == "__main__":
    main()
