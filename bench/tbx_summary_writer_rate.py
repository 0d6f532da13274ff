#!/usr/bin/env python3
"""Per-call throughput of tensorboardX's SummaryWriter: the other half of
examples/summary_writer_rate.rs, timed the same way on the same values.

Each repeat times a fresh SummaryWriter in a temporary directory from its
creation to close(): N add_scalar calls, N add_histogram calls of 10,000
values with bins='tensorflow' (TensorFlow's buckets, the ones gradscope
writes), N add_image calls of a 256 x 256 RGB uint8 image (HWC). Both
programs print the values' checksum and the image's byte sum.

    bench/.venv-tbx/bin/python bench/tbx_summary_writer_rate.py [--scalars N] [--histograms N] [--images N] [--repeats R]
"""
import argparse
import statistics
import tempfile
import time

import numpy as np
import tensorboardX
from tensorboardX import SummaryWriter

from tbx_writer_rate import checksum, normalish

HISTOGRAM_VALUES = 10_000
SIDE = 256


def rate(n, call):
    with tempfile.TemporaryDirectory() as logdir:
        start = time.perf_counter()
        writer = SummaryWriter(logdir=logdir)
        for step in range(n):
            call(writer, step)
        writer.close()
        return n / (time.perf_counter() - start)


def image_bytes():
    """examples/summary_writer_rate.rs's image: a hash of the index."""
    k = np.arange(SIDE * SIDE * 3, dtype=np.uint64)
    return ((k * np.uint64(2_654_435_761)) >> np.uint64(13)).astype(np.uint8).reshape(SIDE, SIDE, 3)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scalars", type=int, default=20_000)
    p.add_argument("--histograms", type=int, default=1_000)
    p.add_argument("--images", type=int, default=200)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    for flag in ("scalars", "histograms", "images", "repeats"):
        if getattr(args, flag) < 1:
            p.error(f"--{flag} must be at least 1")

    values = normalish(HISTOGRAM_VALUES, 1, 0.01)
    scalars = values.tolist()
    pixels = image_bytes()
    mantissa, exponent = f"{checksum(values):.9e}".split("e")
    print(f"values: {len(values)} normal-ish, checksum {mantissa}e{int(exponent)}; "
          f"image {SIDE}x{SIDE}x3, byte sum {int(pixels.sum(dtype=np.uint64))}")

    s_rates, h_rates, i_rates = [], [], []
    for _ in range(args.repeats):
        s_rates.append(rate(args.scalars, lambda w, step: w.add_scalar(
            "loss", scalars[step % len(scalars)], step)))
        h_rates.append(rate(args.histograms, lambda w, step: w.add_histogram(
            "weights", values, step, bins="tensorflow")))
        i_rates.append(rate(args.images, lambda w, step: w.add_image(
            "noise", pixels, step, dataformats="HWC")))
    s, h, i = (statistics.median(r) for r in (s_rates, h_rates, i_rates))
    print(f"tensorboardX {tensorboardX.__version__} SummaryWriter")
    print(f"add_scalar: {args.scalars} per repeat, median {s:.0f} calls/s")
    print(f"add_histogram ({HISTOGRAM_VALUES} values): {args.histograms} per repeat, "
          f"median {h:.0f} calls/s")
    print(f"add_image ({SIDE}x{SIDE} RGB): {args.images} per repeat, median {i:.0f} calls/s")
    print(f"api_scalar_calls_per_s={s:.1f}")
    print(f"api_histogram_calls_per_s={h:.1f}")
    print(f"api_image_calls_per_s={i:.1f}")


if __name__ == "__main__":
    main()
