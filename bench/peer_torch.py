#!/usr/bin/env python3
"""`gradscope --scenario all` in PyTorch, logging with tensorboardX: the
benchmark's PyTorch peer (scripts/bench.sh runs it in bench/.venv-torch).

Per scenario: the MLP 784 -> hidden x (layers-1) -> 10 with Glorot-uniform
kernels and zero biases, the activation after every hidden layer, mean
softmax cross-entropy, Adam (betas 0.9/0.999, eps 1e-8, no weight decay) on
seeded batches drawn without replacement and reshuffled each epoch. Every
--log-every steps, before the optimizer step: loss, acc, mean_1..n (mean
|grad| of each kernel), histogram_1..n (kernel gradients) and
hist_weights_1..n (kernels), histograms with tensorboardX's 'tensorflow'
bins (TensorFlow's exponential buckets, as gradscope writes). At the end,
train_acc and test_acc on the whole splits. One run folder per scenario.
PyTorch runs with its default thread count unless --threads is given.
"""
import time

START = time.perf_counter()

import os  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from tensorboardX import SummaryWriter  # noqa: E402

import peer_common as common  # noqa: E402


def activation(name, slope):
    return {
        "sigmoid": torch.sigmoid,
        "relu": F.relu,
        "leaky_relu": lambda x: F.leaky_relu(x, slope),
    }[name]


def forward(params, act, x):
    *hidden, (w, b) = params
    h = x
    for kw, kb in hidden:
        h = act(torch.addmm(kb, h, kw))
    return torch.addmm(b, h, w)


def accuracy(params, act, split):
    right = 0
    with torch.no_grad():
        for start in range(0, len(split), 2000):
            idx = np.arange(start, min(start + 2000, len(split)))
            logits = forward(params, act, torch.from_numpy(split.pixels(idx)))
            right += int((logits.argmax(1) == torch.from_numpy(split.labels[idx])).sum())
    return right / max(len(split), 1)


def train(name, args, train_split, test_split, kernels):
    act = activation(name, args.leaky_slope)
    params = [(torch.nn.Parameter(torch.from_numpy(k.copy())),
               torch.nn.Parameter(torch.zeros(k.shape[1]))) for k in kernels]
    flat = [p for pair in params for p in pair]
    optimizer = torch.optim.Adam(flat, lr=args.lr, betas=(0.9, 0.999), eps=1e-8,
                                 weight_decay=0.0)
    run_dir = os.path.join(args.logdir, name)
    writer = SummaryWriter(logdir=run_dir)
    batches = common.Batcher(len(train_split), args.batch_size, args.seed)
    print(f"Running scenario: {name}")
    loop_start = time.perf_counter()
    for i in range(args.iterations):
        idx = batches.indices()
        x = torch.from_numpy(train_split.pixels(idx))
        y = torch.from_numpy(train_split.labels[idx])
        logits = forward(params, act, x)
        loss = F.cross_entropy(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        loss_value = loss.item()
        if not np.isfinite(loss_value):
            writer.close()
            common.fail(f"{name}: the loss became {loss_value} at iteration {i}")
        if i % args.log_every == 0:
            acc = (logits.argmax(1) == y).float().mean().item()
            writer.add_scalar("loss", loss_value, i)
            writer.add_scalar("acc", acc, i)
            for layer, (w, _) in enumerate(params, 1):
                writer.add_scalar(f"mean_{layer}", w.grad.abs().mean().item(), i)
                writer.add_histogram(f"histogram_{layer}", w.grad, i, bins="tensorflow")
                writer.add_histogram(f"hist_weights_{layer}", w.detach(), i, bins="tensorflow")
            common.print_iteration(i, args, loss_value, acc)
        optimizer.step()
    loop_seconds = time.perf_counter() - loop_start
    train_acc = accuracy(params, act, train_split)
    test_acc = accuracy(params, act, test_split)
    writer.add_scalar("test_acc", test_acc, args.iterations)
    writer.add_scalar("train_acc", train_acc, args.iterations)
    writer.close()
    common.print_done(name, loop_seconds, args, test_acc, run_dir)


def main():
    args = common.parse_args("PyTorch + tensorboardX")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
        torch.set_num_interop_threads(args.threads)
    train_split, test_split = common.load(args.data_dir)
    kernels = common.initial_kernels(args, train_split.images.shape[1])
    for name in args.scenario:
        train(name, args, train_split, test_split, kernels)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"whole process {time.perf_counter() - START:.3f} s (after interpreter start-up)")


if __name__ == "__main__":
    main()
