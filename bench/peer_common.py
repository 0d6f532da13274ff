"""What the two peer scripts (peer_torch.py, peer_tf.py) share: gradscope's
flags, the IDX data, the seeded batches and the Glorot-uniform kernels.

The peers repeat `gradscope --scenario all` in another framework so the
benchmark compares like with like: the same data files, network, initial
weight distribution, optimizer, batch order rule and logging schedule. Only
numpy is needed here, so both venvs can import it.
"""
import argparse
import gzip
import os
import sys

import numpy as np

SCENARIOS = ("sigmoid", "relu", "leaky_relu")
CLASSES = 10
IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# The README's fetch command; named in every "data missing" error.
FETCH = "scripts/fetch-data.sh"


def fail(message):
    """Exits with a one-line error, as gradscope does for bad input."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


def positive_int(s):
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s!r}")
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {s!r}")
    return v


def scenario_list(s):
    names = list(SCENARIOS) if s == "all" else [n.strip() for n in s.split(",")]
    for n in names:
        if n not in SCENARIOS:
            raise argparse.ArgumentTypeError(
                f"unknown scenario {n!r}; valid: all, {', '.join(SCENARIOS)}")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"a scenario is listed twice in {s!r}")
    return names


def parse_args(framework):
    """gradscope's flags that shape this experiment, with its defaults."""
    p = argparse.ArgumentParser(
        description=f"gradscope's vanishing-gradient experiment in {framework} "
        "(benchmark peer: same data, network, optimizer and logging)")
    p.add_argument("--scenario", type=scenario_list, default=list(SCENARIOS),
                   help="all, or a comma list of sigmoid, relu, leaky_relu")
    p.add_argument("--dataset", choices=("mnist", "fashion-mnist"), default="mnist")
    p.add_argument("--data-dir", help="the four IDX files [default: data/<dataset>]")
    p.add_argument("--logdir", default="logs-peer")
    p.add_argument("--layers", type=positive_int, default=6)
    p.add_argument("--hidden", type=positive_int, default=10)
    p.add_argument("--iterations", type=positive_int, default=2500)
    p.add_argument("--batch-size", type=positive_int, default=30)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--log-every", type=positive_int, default=200)
    p.add_argument("--leaky-slope", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=0,
                   help="the framework's CPU thread count; 0: its default (all cores)")
    args = p.parse_args()
    if args.data_dir is None:
        args.data_dir = os.path.join("data", args.dataset)
    if not (args.lr > 0 and np.isfinite(args.lr)):
        p.error(f"--lr: must be a positive, finite number, got {args.lr}")
    return args


def read_idx(path, magic):
    """The data of an IDX file (raw or gzip, recognised by content),
    validated like gradscope's `data::idx::read`."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        fail(f"{path}: cannot read: {e}")
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            fail(f"{path}: not a valid gzip file: {e}")
    if len(raw) < 4 or int.from_bytes(raw[:4], "big") != magic:
        fail(f"{path}: not an IDX file with magic {magic}")
    ndims = magic & 0xFF
    header = 4 + 4 * ndims
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndims)]
    if len(raw) != header + int(np.prod(dims)):
        fail(f"{path}: dimensions {dims} need {int(np.prod(dims))} data bytes, "
             f"found {len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def find(data_dir, name):
    for candidate in (name, name + ".gz"):
        path = os.path.join(data_dir, candidate)
        if os.path.isfile(path):
            return path
    fail(f"{data_dir}: missing {name} (or {name}.gz); fetch the data with `{FETCH}` "
         "(or `scripts/fetch-data.sh fashion-mnist`)")


class Split:
    """Images as u8 (n, rows*cols) and labels as int64, in file order."""

    def __init__(self, data_dir, which):
        images_name, labels_name = FILES[which]
        images_path, labels_path = find(data_dir, images_name), find(data_dir, labels_name)
        images = read_idx(images_path, IMAGES_MAGIC)
        labels = read_idx(labels_path, LABELS_MAGIC)
        if len(images) != len(labels):
            fail(f"{images_path} holds {len(images)} images but {labels_path} "
                 f"holds {len(labels)} labels")
        if labels.size and labels.max() >= CLASSES:
            fail(f"{labels_path}: a label is outside 0-{CLASSES - 1}")
        self.images = images.reshape(len(images), -1)
        self.labels = labels.astype(np.int64)

    def __len__(self):
        return len(self.labels)

    def pixels(self, idx):
        """Images `idx` as float32 in [0, 1]: converted per batch, as gradscope does."""
        return self.images[idx].astype(np.float32) / np.float32(255.0)


def load(data_dir):
    if not os.path.isdir(data_dir):
        fail(f"data directory {data_dir} does not exist; fetch it with `{FETCH}` "
             "(or `scripts/fetch-data.sh fashion-mnist`)")
    train, test = Split(data_dir, "train"), Split(data_dir, "test")
    print(f"Data: {data_dir} ({len(train)} training, {len(test)} test images)")
    return train, test


class Batcher:
    """Batches drawn without replacement, reshuffled each epoch; an epoch's
    last partial batch is dropped (gradscope's `data::Batcher`)."""

    def __init__(self, n, batch_size, seed):
        if not 1 <= batch_size <= n:
            fail(f"--batch-size {batch_size} is larger than the training set ({n} images)")
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(n)
        self.batch_size = batch_size
        self.next = 0

    def indices(self):
        if self.next + self.batch_size > len(self.order):
            self.rng.shuffle(self.order)
            self.next = 0
        batch = self.order[self.next:self.next + self.batch_size]
        self.next += self.batch_size
        return batch


def layer_sizes(inputs, hidden, layers):
    """(in, out) of each dense layer: inputs -> hidden x (layers-1) -> 10."""
    return [(inputs if i == 0 else hidden, CLASSES if i == layers - 1 else hidden)
            for i in range(layers)]


def glorot_uniform(rng, fan_in, fan_out):
    """An (in, out) float32 kernel from U(+-sqrt(6 / (fan_in + fan_out)))."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(np.float32)


def initial_kernels(args, inputs):
    """Every scenario starts from the same seeded kernels, as in gradscope."""
    rng = np.random.default_rng(args.seed)
    return [glorot_uniform(rng, i, o) for i, o in layer_sizes(inputs, args.hidden, args.layers)]


def print_iteration(i, args, loss, acc):
    print(f"Iteration {i} of {args.iterations}, loss: {loss:.3f}, "
          f"train accuracy: {acc * 100:.2f}%", flush=False)


def print_done(name, seconds, args, test_acc, run_dir):
    print(f"{name}: test accuracy {test_acc * 100:.2f}%, written to {run_dir}; "
          f"training loop {seconds:.3f} s for {args.iterations} steps")
