#!/usr/bin/env python3
"""`gradscope --scenario all` in TensorFlow 2: the benchmark's TensorFlow peer
(scripts/bench.sh runs it in bench/.venv-tf).

The article's code was TensorFlow 1 graph code (placeholders, a session,
tf.summary.merge_all). This is its TensorFlow 2 equivalent: the training step
is one tf.function (traced twice: with and without the summaries), the
optimizer is the article's own tf.compat.v1.train.AdamOptimizer (betas
0.9/0.999, eps 1e-8), summaries go through tf.summary file writers. Same
network, initial kernel distribution, batches and logging schedule as
gradscope and peer_torch.py; see those for the details.

One difference is TensorFlow 2's own: tf.summary.histogram writes 30 equal
buckets as a tensor summary, where TensorFlow 1 (and gradscope, and
tensorboardX) write the ~1,500 exponential buckets of a HistogramProto.
TensorFlow runs with its default thread pools unless --threads is given.
"""
import time

START = time.perf_counter()

import os  # noqa: E402

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # start-up chatter only

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import peer_common as common  # noqa: E402


def activation(name, slope):
    return {
        "sigmoid": tf.sigmoid,
        "relu": tf.nn.relu,
        "leaky_relu": lambda x: tf.nn.leaky_relu(x, alpha=slope),
    }[name]


class Mlp:
    def __init__(self, kernels, act):
        self.kernels = [tf.Variable(k) for k in kernels]
        self.biases = [tf.Variable(tf.zeros([k.shape[1]])) for k in kernels]
        self.vars = [v for pair in zip(self.kernels, self.biases) for v in pair]
        self.act = act

    def __call__(self, x):
        h = x
        last = len(self.kernels) - 1
        for i, (w, b) in enumerate(zip(self.kernels, self.biases)):
            h = tf.matmul(h, w) + b
            if i < last:
                h = self.act(h)
        return h


def make_step(model, optimizer, writer):
    """One iteration: forward, loss, gradients, (summaries,) Adam step."""

    @tf.function
    def step(x, y, i, log):
        with tf.GradientTape() as tape:
            logits = model(x)
            loss = tf.reduce_mean(
                tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        grads = tape.gradient(loss, model.vars)
        acc = tf.constant(0.0)
        if log:  # a Python bool: two traces, the common one has no summary ops
            acc = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, 1), y), tf.float32))
            with writer.as_default(step=i):
                tf.summary.scalar("loss", loss)
                tf.summary.scalar("acc", acc)
                for layer, (w, g) in enumerate(zip(model.kernels, grads[0::2]), 1):
                    tf.summary.scalar(f"mean_{layer}", tf.reduce_mean(tf.abs(g)))
                    tf.summary.histogram(f"histogram_{layer}", g)
                    tf.summary.histogram(f"hist_weights_{layer}", w)
        optimizer.apply_gradients(zip(grads, model.vars))
        return loss, acc

    return step


def accuracy(model, split):
    right = 0
    for start in range(0, len(split), 2000):
        idx = np.arange(start, min(start + 2000, len(split)))
        logits = model(tf.constant(split.pixels(idx)))
        right += int(np.sum(np.argmax(logits.numpy(), 1) == split.labels[idx]))
    return right / max(len(split), 1)


def train(name, args, train_split, test_split, kernels):
    model = Mlp(kernels, activation(name, args.leaky_slope))
    optimizer = tf.compat.v1.train.AdamOptimizer(
        learning_rate=args.lr, beta1=0.9, beta2=0.999, epsilon=1e-8)
    run_dir = os.path.join(args.logdir, name)
    writer = tf.summary.create_file_writer(run_dir)
    step = make_step(model, optimizer, writer)
    batches = common.Batcher(len(train_split), args.batch_size, args.seed)
    print(f"Running scenario: {name}")
    loop_start = time.perf_counter()
    for i in range(args.iterations):
        idx = batches.indices()
        log = i % args.log_every == 0
        loss, acc = step(tf.constant(train_split.pixels(idx)),
                         tf.constant(train_split.labels[idx]),
                         tf.constant(i, tf.int64), log)
        loss_value = float(loss)
        if not np.isfinite(loss_value):
            writer.close()
            common.fail(f"{name}: the loss became {loss_value} at iteration {i}")
        if log:
            common.print_iteration(i, args, loss_value, float(acc))
    loop_seconds = time.perf_counter() - loop_start
    train_acc = accuracy(model, train_split)
    test_acc = accuracy(model, test_split)
    with writer.as_default(step=args.iterations):
        tf.summary.scalar("test_acc", test_acc)
        tf.summary.scalar("train_acc", train_acc)
    writer.close()
    common.print_done(name, loop_seconds, args, test_acc, run_dir)


def main():
    args = common.parse_args("TensorFlow 2")
    if args.threads > 0:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    train_split, test_split = common.load(args.data_dir)
    kernels = common.initial_kernels(args, train_split.images.shape[1])
    for name in args.scenario:
        train(name, args, train_split, test_split, kernels)
    threads = tf.config.threading.get_intra_op_parallelism_threads() or "default"
    print(f"tensorflow {tf.__version__}, {threads} threads; whole process "
          f"{time.perf_counter() - START:.3f} s (after interpreter start-up)")


if __name__ == "__main__":
    main()
