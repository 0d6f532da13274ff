//! Training one scenario: the loop, and what it logs.
//!
//! Each iteration draws a batch, runs forward, loss, one backward pass and
//! one Adam step with those same gradients. Every `log_every` iterations it
//! also writes the loss, batch accuracy and per-layer gradient and weight
//! statistics to the run's event file. What the run records about itself for
//! the Text, HParams and Graphs dashboards comes from [`describe`].
//!
//! The loop stops early, with its event file closed and complete, when the
//! run diverges ([`divergence`]) or a signal asks it to ([`crate::interrupt`]).

pub mod adam;
pub mod describe;
pub mod divergence;
pub mod lines;
pub mod loss;
pub mod stats;
pub mod summarizer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::data::{Batcher, Dataset, Split, CLASSES};
use crate::interrupt::{self, Interrupted, Signal};
use crate::model::{
    checkpoint, Activation, ActivationFn, Architecture, Init, Mlp, Shape, DEFAULT_LEAKY_SLOPE,
    MAX_PARAMETERS,
};
use crate::report::logdir::Run;
use crate::report::run_writer::RunWriter;
use crate::summary::builders::{scalar, summary_event, wall_time_now};
pub use adam::{Adam, AdamConfig};
use lines::Lines;
pub use stats::GradStats;
use summarizer::{Setup, Summarizer};

/// Everything that shapes a training run, besides the data.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    pub activation: ActivationFn,
    /// Skip connections around the hidden layers after the first.
    pub residual: bool,
    /// The data set's name (`--dataset`), recorded with the run.
    pub dataset: String,
    /// Dense layers, counting the output layer.
    pub layers: usize,
    pub hidden: usize,
    pub init: Init,
    /// Start from these weights instead of `init`.
    pub init_from: Option<PathBuf>,
    /// Save the final weights here.
    pub save: Option<PathBuf>,
    /// Reshuffle every epoch (otherwise batches come in file order).
    pub shuffle: bool,
    pub iterations: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub log_every: usize,
    pub seed: u64,
    /// Draw a progress bar (it hides itself when stderr is not a terminal).
    pub progress: bool,
}

impl TrainConfig {
    /// The article's experiment with `activation`: 6 layers of 10, Glorot
    /// uniform, 2,500 iterations of 30, Adam at 1e-3, logging every 200,
    /// seed 1, shuffled, no progress bar. Change fields with `..`.
    pub fn article(activation: Activation) -> TrainConfig {
        use crate::cli::defaults;
        TrainConfig {
            activation: ActivationFn::new(activation, DEFAULT_LEAKY_SLOPE),
            residual: false,
            dataset: "mnist".into(),
            layers: defaults::LAYERS as usize,
            hidden: defaults::HIDDEN as usize,
            init: Init::GlorotUniform,
            init_from: None,
            save: None,
            shuffle: true,
            iterations: defaults::ITERATIONS as usize,
            batch_size: defaults::BATCH_SIZE as usize,
            lr: defaults::LR,
            log_every: 200,
            seed: defaults::SEED,
            progress: false,
        }
    }
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub name: String,
    /// Each layer's mean |grad| averaged over the logged steps, input first.
    pub mean_grad: Vec<f64>,
    /// The last logged loss and batch accuracy.
    pub final_loss: f32,
    pub final_batch_acc: f32,
    /// Accuracy on the whole training and test splits after training.
    pub train_acc: f32,
    pub test_acc: f32,
}

impl RunSummary {
    pub fn attenuation(&self) -> f64 {
        stats::attenuation(&self.mean_grad)
    }
}

/// Trains one network on `data` and logs it to a new event file in `run_dir`,
/// the run called `name` in its logdir. Returns its figures, and the [`Run`]
/// its event file holds (for the report, which then need not read it back;
/// `None` for a run too long to keep in memory, see [`RunWriter`]).
pub fn train(
    name: &str,
    data: &Dataset,
    cfg: &TrainConfig,
    run_dir: &Path,
) -> Result<(RunSummary, Option<Run>)> {
    let device = Device::Cpu;
    if cfg.batch_size > data.train.len() {
        bail!(
            "--batch-size {} is larger than the training set ({} images in {})",
            cfg.batch_size,
            data.train.len(),
            data.dir.display()
        );
    }
    let model = build_model(cfg, data.train.image_size(), &device)?;
    let shape = model.arch.shape;
    let mut optimizer = adam(&model, cfg.lr)?;
    let mut batches = if cfg.shuffle {
        Batcher::shuffled(data.train.len(), cfg.batch_size, cfg.seed)
    } else {
        Batcher::in_order(data.train.len(), cfg.batch_size)
    };
    let writer = RunWriter::create(run_dir, name)?;
    let progress = progress_bar(name, cfg);
    let setup = Setup {
        layers: cfg.layers,
        values_per_step: 2 * model
            .layers
            .iter()
            .map(|layer| layer.kernel.elem_count())
            .sum::<usize>(),
        iterations: cfg.iterations,
        // Every step logged: the summary thread can replay the optimizer.
        replica: (cfg.log_every == 1).then(|| optimizer.config()),
    };
    let mut summaries = Summarizer::start(writer, setup, Lines::stdout(progress.clone()))?;
    for event in describe::start_events(cfg, data, &shape, run_dir, wall_time_now()) {
        summaries.write_event(event)?;
    }

    let mut labels = Vec::new();
    let (mut final_loss, mut final_batch_acc) = (f32::NAN, f32::NAN);
    let mut last_logged = None;
    for i in 0..cfg.iterations {
        if let Some(signal) = interrupt::requested() {
            progress.finish_and_clear();
            return Err(stopped_by(signal, name, i, cfg, last_logged, summaries));
        }
        // A fresh buffer each step, moved into the tensor rather than copied
        // (the allocator hands back the one the last step's tensor freed).
        let mut pixels = Vec::with_capacity(cfg.batch_size * shape.inputs);
        batches.next_batch(&data.train, &mut pixels, &mut labels);
        let x = Tensor::from_vec(pixels, (cfg.batch_size, shape.inputs), &device)?;
        let y = Tensor::from_slice(&labels, cfg.batch_size, &device)?;
        let (logits, loss, grads) = forward_backward(&model, &x, &y)?;
        let loss_value = loss.to_scalar::<f32>()?;
        let diverged = divergence::check(loss_value, &model, &grads)?;

        if i % cfg.log_every == 0 || diverged.is_some() {
            let acc = batch_accuracy(&logits, &labels)?;
            // Copy the numbers out; the summary thread builds the rest, and
            // prints the step's line once its event is written.
            let mut record = summaries.record(i as i64, wall_time_now(), loss_value, acc);
            for (l, layer) in model.layers.iter().enumerate() {
                let grad = grads
                    .get(layer.kernel.as_tensor())
                    .context("the loss does not depend on a layer's kernel")?;
                crate::cpu::copy_f32(grad, &mut record.grads[l])?;
            }
            if summaries.wants_weights(i as i64) {
                copy_kernels(&model, &mut record.weights)?;
                record.has_weights = true;
            }
            summaries
                .log_step(record, |weights| copy_kernels(&model, weights))
                .with_context(|| format!("{name}: logging iteration {i}"))?;
            last_logged = Some(i);
            (final_loss, final_batch_acc) = (loss_value, acc);
        }
        if let Some(divergence) = diverged {
            progress.finish_and_clear();
            let now = wall_time_now();
            summaries.write_event(summary_event(i as i64, now, describe::failure_values(now)))?;
            let writer = summaries.finish()?.0;
            let path = writer.path().display().to_string();
            writer.close()?;
            bail!(
                "{name}: training diverged at iteration {i}: {divergence} (try a smaller --lr). \
                 Everything logged up to and including iteration {i} is in {path}"
            );
        }
        optimizer.step(&grads)?;
        progress.inc(1);
    }
    progress.finish_and_clear();

    let train_acc = accuracy(&model, &data.train, &device)?;
    let test_acc = accuracy(&model, &data.test, &device)?;
    let (mut writer, grad_stats) = summaries.finish()?;
    let summary = RunSummary {
        name: name.to_string(),
        mean_grad: grad_stats.averages(),
        final_loss,
        final_batch_acc,
        train_acc,
        test_acc,
    };
    let end = cfg.iterations as i64;
    let wall_time = wall_time_now();
    let mut values = vec![
        scalar("test_acc", test_acc),
        scalar("train_acc", train_acc),
        scalar("attenuation", summary.attenuation() as f32),
    ];
    values.extend(describe::finish_values(&summary, wall_time));
    writer
        .write_event(&summary_event(end, wall_time, values))
        .with_context(|| format!("{name}: logging the final accuracies"))?;
    let run = writer.close()?;
    if let Some(path) = &cfg.save {
        checkpoint::save(&model, path)?;
    }
    Ok((summary, run))
}

/// The network `cfg` describes, for `inputs` pixels: from `cfg.init_from`
/// if given, else freshly initialised from `cfg.seed`.
pub fn build_model(cfg: &TrainConfig, inputs: usize, device: &Device) -> Result<Mlp> {
    let arch = Architecture {
        shape: Shape {
            inputs,
            hidden: cfg.hidden,
            outputs: CLASSES,
            layers: cfg.layers,
        },
        activation: cfg.activation,
        residual: cfg.residual,
    };
    if arch.shape.parameters() > MAX_PARAMETERS {
        bail!(
            "--layers {} and --hidden {} on {inputs}-pixel images make {} parameters; \
             at most {MAX_PARAMETERS} are allowed",
            cfg.layers,
            cfg.hidden,
            arch.shape.parameters()
        );
    }
    match &cfg.init_from {
        Some(path) => checkpoint::load(path, arch, device),
        None => Ok(Mlp::new(arch, cfg.init, cfg.seed, device)?),
    }
}

/// Adam with PyTorch's and TensorFlow's defaults: betas 0.9/0.999, eps 1e-8
/// and no weight decay.
pub fn adam(model: &Mlp, lr: f64) -> Result<Adam> {
    Ok(Adam::new(model.vars(), AdamConfig::with_lr(lr)))
}

/// Copies each layer's kernel into `out`, input layer first.
fn copy_kernels(model: &Mlp, out: &mut [Vec<f32>]) -> anyhow::Result<()> {
    for (layer, out) in model.layers.iter().zip(out) {
        crate::cpu::copy_f32(layer.kernel.as_tensor(), out)?;
    }
    Ok(())
}

/// Logits, mean softmax cross-entropy, and the gradients of every variable:
/// the one backward pass of an iteration.
pub fn forward_backward(
    model: &Mlp,
    x: &Tensor,
    y: &Tensor,
) -> Result<(Tensor, Tensor, GradStore)> {
    let logits = model.forward(x)?;
    let loss = loss::cross_entropy(&logits, y)?;
    let grads = loss.backward()?;
    Ok((logits, loss, grads))
}

/// Writes out what `summaries` still holds and closes the event file of a
/// run that `signal` stopped before iteration `i` (recording the session as
/// ended, for the HParams dashboard); says where it stopped.
fn stopped_by(
    signal: Signal,
    name: &str,
    i: usize,
    cfg: &TrainConfig,
    last_logged: Option<usize>,
    mut summaries: Summarizer,
) -> anyhow::Error {
    let now = wall_time_now();
    let closed = summaries
        .write_event(summary_event(i as i64, now, describe::failure_values(now)))
        .and_then(|()| summaries.finish())
        .and_then(|(writer, _)| {
            let path = writer.path().display().to_string();
            writer.close()?;
            Ok(path)
        });
    let path = match closed {
        Ok(path) => path,
        Err(e) => return e.context(format!("{name}: stopped by {signal}")),
    };
    let logged = match last_logged {
        Some(step) => format!("logged up to and including iteration {step} in {path}"),
        None => format!("nothing logged yet; {path} holds only the run's description"),
    };
    Interrupted {
        signal,
        message: format!(
            "{name}: stopped by {signal} at iteration {i} of {} ({i} iterations done); {logged}",
            cfg.iterations
        ),
    }
    .into()
}

fn progress_bar(name: &str, cfg: &TrainConfig) -> ProgressBar {
    let target = if cfg.progress {
        ProgressDrawTarget::stderr_with_hz(10)
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(cfg.iterations as u64), target);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:40}] {human_pos}/{human_len} eta {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(name.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// The number of rows whose largest logit is the label (the first largest,
/// on a tie). Read from the logits in place: at `--log-every 1` this runs
/// every step, and candle's argmax plus a copy cost more than the count.
fn correct(logits: &Tensor, labels: &[u32]) -> Result<usize> {
    let classes = logits.dim(1)?;
    let right = crate::cpu::with_f32(logits, |values| {
        values
            .chunks_exact(classes)
            .zip(labels)
            .filter(|(row, &label)| {
                // Selects, not branches: which class leads is random from
                // row to row, and mispredicted jumps cost more than the count
                // (0.5-0.8 -> 0.2 µs for a batch of 30).
                let first = (0, row[0]);
                let (best, _) = row
                    .iter()
                    .enumerate()
                    .skip(1)
                    .fold(first, |(b, m), (c, &v)| if v > m { (c, v) } else { (b, m) });
                best == label as usize
            })
            .count()
    })?;
    Ok(right)
}

fn batch_accuracy(logits: &Tensor, labels: &[u32]) -> Result<f32> {
    Ok(correct(logits, labels)? as f32 / labels.len().max(1) as f32)
}

/// Accuracy of `model` on a whole split, in chunks to bound memory.
pub fn accuracy(model: &Mlp, split: &Split, device: &Device) -> Result<f32> {
    // 256 images are 0.8 MB of f32 pixels: each chunk reuses the memory the
    // last one freed. (At 2,000, each chunk's 6 MB came fresh from the OS,
    // and zeroing its pages cost more than the products.)
    const CHUNK: usize = 256;
    let mut right = 0;
    let mut start = 0;
    while start < split.len() {
        let end = (start + CHUNK).min(split.len());
        let n = split.image_size();
        let mut x = Vec::with_capacity((end - start) * n);
        crate::data::extend_scaled(&mut x, &split.pixels[start * n..end * n]);
        let x = Tensor::from_vec(x, (end - start, n), device)?;
        let labels: Vec<u32> = split.labels[start..end].iter().map(|&l| l.into()).collect();
        right += correct(&model.forward(&x)?, &labels)?;
        start = end;
    }
    Ok(right as f32 / split.len().max(1) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first largest logit wins a tie; a row whose first logit is NaN
    /// picks class 0 (no comparison with NaN is true), as the loop this
    /// replaced did.
    #[test]
    fn correct_takes_the_first_largest_logit() {
        let rows: [[f32; 3]; 5] = [
            [0.1, 0.7, 0.2],
            [-3.0, -1.0, -2.0],
            [0.5, 0.5, 0.1],
            [f32::NAN, 1.0, 2.0],
            [1.0, f32::NAN, 2.0],
        ];
        let logits = Tensor::new(&rows, &Device::Cpu).unwrap();
        let count = |labels: &[u32]| correct(&logits, labels).unwrap();
        assert_eq!(count(&[1, 1, 0, 0, 2]), 5);
        assert_eq!(count(&[2, 2, 1, 2, 1]), 0);
    }
}
