//! One training step of the default network (784 -> 10 x 5 -> 10, batch 30),
//! as `train::train` runs it between two log steps: the batch into tensors,
//! forward, loss, one backward pass, the loss read back (the NaN check) and
//! one Adam step. One bench per scenario of `--scenario all`.
//!
//! The cost of a step drifts as a network trains (units die, moments decay
//! towards subnormal numbers), so the bench replays whole runs: a fresh
//! network every 2,500 steps (`--iterations`), as the experiment trains
//! each scenario. Rebuilding it is not timed. The batches come from
//! data/mnist when it is there (as in the experiment), else from random
//! images; the bench says which.
//!
//! `scripts/bench.sh step` reads the medians from
//! `<target>/criterion/step/<activation>/new/estimates.json` against the
//! issue's 150 us target.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use candle_core::{Device, Tensor};
use criterion::{criterion_group, criterion_main, Criterion};
use gradscope::{build_model, forward_backward, Adam, AdamConfig, TrainConfig};
use gradscope::{Activation, Mlp};
use gradscope::{Batcher, Dataset, Split};

// As the binary has it (src/main.rs), so the bench allocates as a run does.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn config(activation: Activation) -> TrainConfig {
    TrainConfig::article(activation)
}

/// One training run in progress: what a step needs.
struct Run<'a> {
    cfg: &'a TrainConfig,
    split: &'a Split,
    device: &'a Device,
    model: Mlp,
    optimizer: Adam,
    batches: Batcher,
    labels: Vec<u32>,
    steps: usize,
}

impl<'a> Run<'a> {
    fn new(cfg: &'a TrainConfig, split: &'a Split, device: &'a Device) -> Run<'a> {
        let model = build_model(cfg, split.image_size(), device).expect("the default network");
        let optimizer = Adam::new(model.vars(), AdamConfig::with_lr(cfg.lr));
        Run {
            cfg,
            split,
            device,
            model,
            optimizer,
            batches: Batcher::shuffled(split.len(), cfg.batch_size, cfg.seed),
            labels: Vec::new(),
            steps: 0,
        }
    }

    fn step(&mut self) -> f32 {
        let (batch, inputs) = (self.cfg.batch_size, self.split.image_size());
        // As the training loop does: a fresh buffer moved into the tensor.
        let mut pixels = Vec::with_capacity(batch * inputs);
        self.batches
            .next_batch(self.split, &mut pixels, &mut self.labels);
        let x = Tensor::from_vec(pixels, (batch, inputs), self.device).unwrap();
        let y = Tensor::from_slice(&self.labels, batch, self.device).unwrap();
        let (_logits, loss, grads) = forward_backward(&self.model, &x, &y).unwrap();
        let loss = loss.to_scalar::<f32>().unwrap();
        self.optimizer.step(&grads).unwrap();
        self.steps += 1;
        loss
    }

    /// Times `iters` steps, starting a fresh run (untimed) whenever one
    /// reaches the experiment's length.
    fn time(&mut self, iters: u64) -> Duration {
        let mut left = iters as usize;
        let mut total = Duration::ZERO;
        while left > 0 {
            if self.steps == self.cfg.iterations {
                *self = Run::new(self.cfg, self.split, self.device);
            }
            let n = left.min(self.cfg.iterations - self.steps);
            let start = Instant::now();
            for _ in 0..n {
                std::hint::black_box(self.step());
            }
            total += start.elapsed();
            left -= n;
        }
        total
    }
}

/// data/mnist's training split if it is there, else random images.
fn training_images() -> Split {
    let dir = Path::new("data/mnist");
    match Dataset::load(dir) {
        Ok(data) => {
            eprintln!("step bench: batches from {}", dir.display());
            data.train
        }
        Err(e) => {
            eprintln!("step bench: batches of random images ({e:#})");
            support::synthetic_split(8_000)
        }
    }
}

fn step(c: &mut Criterion) {
    // As the binary does, before candle's first op (see src/main.rs).
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        std::env::set_var("RAYON_NUM_THREADS", "1");
    }
    let device = Device::Cpu;
    let split = training_images();
    let mut group = c.benchmark_group("step");
    for activation in [Activation::Sigmoid, Activation::Relu, Activation::LeakyRelu] {
        let cfg = config(activation);
        let mut run = Run::new(&cfg, &split, &device);
        group.bench_function(activation.name(), |b| {
            b.iter_custom(|iters| run.time(iters))
        });
    }
    group.finish();
}

criterion_group!(benches, step);
criterion_main!(benches);
