#!/usr/bin/env python3
"""`gradscope --scenario rnn,lstm,gru` in PyTorch, logging with tensorboardX:
the benchmark's peer for recurrent networks on sequential MNIST
(scripts/bench.sh runs it in bench/.venv-torch; section `recurrent`).

Per scenario: one recurrent layer (`nn.RNN` with tanh, `nn.LSTM` or
`nn.GRU`, batch first) of --hidden units over the image as a sequence
(--sequence rows: 28 steps of 28 pixels; pixels14: the image averaged over
2x2 blocks to 14x14, then 196 steps of one pixel; pixels: 784 steps of one
pixel), a linear head on the last hidden state, mean softmax cross-entropy,
Adam (betas 0.9/0.999, eps 1e-8, no weight decay) on seeded batches drawn
without replacement and reshuffled each epoch, optional global gradient-norm
clipping (`clip_grad_norm_`). Every parameter starts from U(+-1/sqrt(hidden))
(PyTorch's own default for these layers and for the head), drawn from a
seeded numpy generator; --forget-bias X sets the LSTM's forget-gate slice of
bias_ih to X and that of bias_hh to 0, so the gate's bias is X.

Unlogged steps run PyTorch's fused `nn.RNN`/`nn.LSTM`/`nn.GRU`. At logged
steps (every --log-every) the same parameters are unrolled step by step with
PyTorch's equations, so that each hidden state h_t is a tensor whose
gradient dL/dh_t autograd keeps (`retain_grad`); the step's parameter
gradients come from that pass. Logged: loss, acc, time_grad_first
(||dL/dh_1||), time_grad_last (||dL/dh_T||), time_attenuation (last over
first), the norm at T/4, T/2 and 3T/4, per-parameter gradient and weight
histograms, and the profile (log10 ||dL/dh_t|| against t, drawn with numpy
into an image: no plotting library in this venv). At the end, train_acc and
test_acc on the whole splits. One run folder per scenario.
"""
import time

START = time.perf_counter()

import argparse  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from tensorboardX import SummaryWriter  # noqa: E402

import peer_common as common  # noqa: E402

CELLS = ("rnn", "lstm", "gru")
SEQUENCES = ("rows", "pixels14", "pixels")
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def cell_list(s):
    names = [n.strip() for n in s.split(",")]
    for n in names:
        if n not in CELLS:
            raise argparse.ArgumentTypeError(f"unknown scenario {n!r}; valid: {', '.join(CELLS)}")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"a scenario is listed twice in {s!r}")
    return names


def parse_args():
    p = argparse.ArgumentParser(
        description="gradscope's recurrent experiment in PyTorch + tensorboardX "
        "(benchmark peer: same data, sequences, networks, optimizer and logging)")
    p.add_argument("--scenario", type=cell_list, default=list(CELLS),
                   help="a comma list of rnn, lstm, gru")
    p.add_argument("--sequence", choices=SEQUENCES, default="rows")
    p.add_argument("--dataset", choices=("mnist", "fashion-mnist"), default="mnist")
    p.add_argument("--data-dir", help="the four IDX files [default: data/<dataset>]")
    p.add_argument("--logdir", default="logs-peer")
    p.add_argument("--hidden", type=common.positive_int, default=64)
    p.add_argument("--iterations", type=common.positive_int, default=2500)
    p.add_argument("--batch-size", type=common.positive_int, default=30)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--log-every", type=common.positive_int, default=200)
    p.add_argument("--forget-bias", type=float, default=None,
                   help="LSTM: the forget gate's initial bias [default: drawn like the rest]")
    p.add_argument("--clip-norm", type=float, default=None,
                   help="clip the global gradient norm to this [default: no clipping]")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=0,
                   help="PyTorch's CPU thread count; 0: its default (all cores)")
    args = p.parse_args()
    if args.data_dir is None:
        args.data_dir = os.path.join("data", args.dataset)
    if not (args.lr > 0 and np.isfinite(args.lr)):
        p.error(f"--lr: must be a positive, finite number, got {args.lr}")
    if args.forget_bias is not None and "lstm" not in args.scenario:
        p.error("--forget-bias applies to lstm runs only, and --scenario has none")
    if args.clip_norm is not None and not (args.clip_norm > 0 and np.isfinite(args.clip_norm)):
        p.error(f"--clip-norm: must be a positive, finite number, got {args.clip_norm}")
    return args


def sequences(split, idx, sequence):
    """Images `idx` as float32 (batch, T, features) in [0, 1]."""
    pixels = split.pixels(idx)
    side = math.isqrt(pixels.shape[1])
    if sequence == "rows":
        return pixels.reshape(len(idx), side, side)
    if sequence == "pixels14":
        blocks = pixels.reshape(len(idx), side // 2, 2, side // 2, 2)
        return blocks.mean(axis=(2, 4), dtype=np.float32).reshape(len(idx), -1, 1)
    return pixels.reshape(len(idx), -1, 1)


class Net(torch.nn.Module):
    def __init__(self, cell, inputs, hidden, rng, forget_bias):
        super().__init__()
        layer = {"rnn": lambda: torch.nn.RNN(inputs, hidden, nonlinearity="tanh",
                                             batch_first=True),
                 "lstm": lambda: torch.nn.LSTM(inputs, hidden, batch_first=True),
                 "gru": lambda: torch.nn.GRU(inputs, hidden, batch_first=True)}[cell]
        self.cell = cell
        self.rnn = layer()
        self.head = torch.nn.Linear(hidden, common.CLASSES)
        bound = 1.0 / math.sqrt(hidden)
        with torch.no_grad():
            for _, p in self.named_parameters():
                p.copy_(torch.from_numpy(rng.uniform(-bound, bound, p.shape).astype(np.float32)))
            if cell == "lstm" and forget_bias is not None:
                self.rnn.bias_ih_l0[hidden:2 * hidden] = forget_bias
                self.rnn.bias_hh_l0[hidden:2 * hidden] = 0.0

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])

    def forward_unrolled(self, x):
        """The same network step by step; returns the logits and every h_t,
        each keeping its gradient."""
        r = self.rnn
        w_ih, w_hh, b_ih, b_hh = r.weight_ih_l0, r.weight_hh_l0, r.bias_ih_l0, r.bias_hh_l0
        batch = x.shape[0]
        h = x.new_zeros(batch, r.hidden_size)
        c = x.new_zeros(batch, r.hidden_size)
        hs = []
        for t in range(x.shape[1]):
            gi = F.linear(x[:, t], w_ih, b_ih)
            gh = F.linear(h, w_hh, b_hh)
            if self.cell == "rnn":
                h = torch.tanh(gi + gh)
            elif self.cell == "lstm":
                i, f, g, o = (gi + gh).chunk(4, 1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                h = torch.sigmoid(o) * torch.tanh(c)
            else:
                ir, iz, inn = gi.chunk(3, 1)
                hr, hz, hn = gh.chunk(3, 1)
                rg, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
                n = torch.tanh(inn + rg * hn)
                h = (1 - z) * n + z * h
            h.retain_grad()
            hs.append(h)
        return self.head(h), hs


def profile_image(profiles, height=240, width=480):
    """log10 ||dL/dh_t|| against t, one line per logged step so far (older
    ones fainter), as a (3, height, width) uint8 image."""
    img = np.full((3, height, width), 255, dtype=np.uint8)
    logs = [np.log10(np.maximum(p, 1e-30)) for p in profiles]
    lo, hi = min(v.min() for v in logs), max(v.max() for v in logs)
    span = max(hi - lo, 1e-6)
    for k, v in enumerate(logs):
        shade = int(200 * (1 - (k + 1) / len(logs)))
        xs = np.linspace(0, width - 1, len(v) * 4)
        ys = np.interp(xs, np.linspace(0, width - 1, len(v)), v)
        rows = ((hi - ys) / span * (height - 1)).astype(int)
        img[:, rows, xs.astype(int)] = np.array([shade, shade, 255])[:, None]
    return img


def accuracy(net, split, sequence):
    right = 0
    with torch.no_grad():
        for start in range(0, len(split), 1000):
            idx = np.arange(start, min(start + 1000, len(split)))
            logits = net(torch.from_numpy(sequences(split, idx, sequence)))
            right += int((logits.argmax(1) == torch.from_numpy(split.labels[idx])).sum())
    return right / max(len(split), 1)


def train(name, args, train_split, test_split):
    x0 = sequences(train_split, np.arange(1), args.sequence)
    rng = np.random.default_rng(args.seed)
    net = Net(name, x0.shape[2], args.hidden, rng, args.forget_bias)
    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8,
                                 weight_decay=0.0)
    run_dir = os.path.join(args.logdir, name)
    writer = SummaryWriter(logdir=run_dir)
    batches = common.Batcher(len(train_split), args.batch_size, args.seed)
    profiles = []
    print(f"Running scenario: {name} ({args.sequence}, T = {x0.shape[1]})")
    loop_start = time.perf_counter()
    for i in range(args.iterations):
        idx = batches.indices()
        x = torch.from_numpy(sequences(train_split, idx, args.sequence))
        y = torch.from_numpy(train_split.labels[idx])
        logged = i % args.log_every == 0
        if logged:
            logits, hs = net.forward_unrolled(x)
        else:
            logits = net(x)
        loss = F.cross_entropy(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        loss_value = loss.item()
        if not np.isfinite(loss_value):
            writer.close()
            common.fail(f"{name}: the loss became {loss_value} at iteration {i}")
        if args.clip_norm is not None:
            torch.nn.utils.clip_grad_norm_(net.parameters(), args.clip_norm)
        if logged:
            acc = (logits.argmax(1) == y).float().mean().item()
            norms = np.array([h.grad.norm().item() for h in hs])
            t_len = len(norms)
            writer.add_scalar("loss", loss_value, i)
            writer.add_scalar("acc", acc, i)
            writer.add_scalar("time_grad_first", norms[0], i)
            writer.add_scalar("time_grad_last", norms[-1], i)
            writer.add_scalar("time_attenuation", norms[-1] / max(norms[0], 1e-45), i)
            for frac in (25, 50, 75):
                writer.add_scalar(f"time_grad_{frac}pct", norms[t_len * frac // 100], i)
            for pname, p in net.named_parameters():
                writer.add_histogram(f"grad/{pname}", p.grad, i, bins="tensorflow")
                writer.add_histogram(f"weight/{pname}", p.detach(), i, bins="tensorflow")
            profiles.append(norms)
            writer.add_image("time_profile", profile_image(profiles), i)
            common.print_iteration(i, args, loss_value, acc)
        optimizer.step()
    loop_seconds = time.perf_counter() - loop_start
    train_acc = accuracy(net, train_split, args.sequence)
    test_acc = accuracy(net, test_split, args.sequence)
    writer.add_scalar("test_acc", test_acc, args.iterations)
    writer.add_scalar("train_acc", train_acc, args.iterations)
    writer.close()
    first, last = profiles[-1][0], profiles[-1][-1]
    print(f"{name}: last logged step: ||dL/dh_1|| {first:.3g}, ||dL/dh_T|| {last:.3g}, "
          f"through time {last / max(first, 1e-45):.3g}x")
    common.print_done(name, loop_seconds, args, test_acc, run_dir)


def main():
    args = parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
        torch.set_num_interop_threads(args.threads)
    torch.manual_seed(args.seed)
    train_split, test_split = common.load(args.data_dir)
    side = math.isqrt(train_split.images.shape[1])
    if side * side != train_split.images.shape[1] or (args.sequence == "pixels14" and side % 2):
        common.fail(f"--sequence {args.sequence}: images of {train_split.images.shape[1]} "
                    "pixels do not fit it")
    for name in args.scenario:
        train(name, args, train_split, test_split)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"whole process {time.perf_counter() - START:.3f} s (after interpreter start-up)")


if __name__ == "__main__":
    main()
