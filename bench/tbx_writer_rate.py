#!/usr/bin/env python3
"""How many summary events per second tensorboardX writes: the other half
of examples/writer_rate.rs, timed the same way on the same values.

Each repeat times a fresh SummaryWriter in a temporary directory from its
creation to close(), so the queued events are written before the clock
stops: N add_scalar calls (one event each), then N add_histogram calls of
the 7,840 values with bins='tensorflow' (TensorFlow's exponential buckets,
the ones gradscope writes). The values come from the generator in
benches/support/mod.rs, repeated here bit for bit; both programs print
their checksum.

    bench/.venv-torch/bin/python bench/tbx_writer_rate.py [--scalars N] [--histograms N] [--repeats R]
"""
import argparse
import math
import statistics
import tempfile
import time

import numpy as np
import tensorboardX
from tensorboardX import SummaryWriter

MASK = (1 << 64) - 1
HISTOGRAM_VALUES = 7840


class SplitMix64:
    """benches/support/mod.rs's SplitMix64, on Python integers."""

    def __init__(self, seed):
        self.state = seed

    def next_u64(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def next_f64(self):
        return (self.next_u64() >> 11) * (1.0 / (1 << 53))


def normalish(n, seed, scale):
    """benches/support/mod.rs's normalish: the same float32 values."""
    rng = SplitMix64(seed)
    unit = math.sqrt(3.0)
    out = []
    for _ in range(n):
        total = rng.next_f64() + rng.next_f64() + rng.next_f64() + rng.next_f64()
        out.append((total - 2.0) * unit * scale)
    return np.array(out, dtype=np.float64).astype(np.float32)


def checksum(values):
    """The f64 sum, left to right, as the Rust side computes it."""
    total = 0.0
    for v in values.tolist():
        total += v
    return total


def rate(n, write):
    with tempfile.TemporaryDirectory() as logdir:
        start = time.perf_counter()
        writer = SummaryWriter(logdir=logdir)
        for step in range(n):
            write(writer, step)
        writer.close()
        return n / (time.perf_counter() - start)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scalars", type=int, default=20_000)
    p.add_argument("--histograms", type=int, default=2_000)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    for flag in ("scalars", "histograms", "repeats"):
        if getattr(args, flag) < 1:
            p.error(f"--{flag} must be at least 1")

    values = normalish(HISTOGRAM_VALUES, 1, 0.01)
    scalars = values.tolist()
    # Rust's `{:.9e}` has no '+' and no zero padding in the exponent.
    mantissa, exponent = f"{checksum(values):.9e}".split("e")
    print(f"values: {len(values)} normal-ish, checksum {mantissa}e{int(exponent)}")

    scalar_rates, histogram_rates = [], []
    for _ in range(args.repeats):
        scalar_rates.append(rate(args.scalars, lambda w, step: w.add_scalar(
            "loss", scalars[step % len(scalars)], step)))
        histogram_rates.append(rate(args.histograms, lambda w, step: w.add_histogram(
            "histogram_1", values, step, bins="tensorflow")))
    s, h = statistics.median(scalar_rates), statistics.median(histogram_rates)
    print(f"tensorboardX {tensorboardX.__version__}")
    print(f"scalar events: {args.scalars} per repeat, median {s:.0f} events/s")
    print(f"histogram events ({len(values)} values): {args.histograms} per repeat, "
          f"median {h:.0f} events/s")
    print(f"scalar_events_per_s={s:.1f}")
    print(f"histogram_events_per_s={h:.1f}")


if __name__ == "__main__":
    main()
