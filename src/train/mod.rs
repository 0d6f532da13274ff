//! Training one scenario: the loop, and what it logs.
//!
//! Each iteration draws a batch, runs forward, loss, one backward pass and
//! one Adam step with those same gradients. Every `log_every` iterations the
//! run's [`RunLog`] writes the loss, batch accuracy, per-layer gradient
//! and weight statistics and the per-layer diagnostics ([`diagnoser`]) to
//! its event file. What the run records about
//! itself for the Text, HParams and Graphs dashboards comes from
//! [`describe`].
//!
//! The loop ends in one of three ways ([`Ending`]): finished, diverged
//! ([`divergence`]) or stopped by a signal ([`crate::interrupt`]); each
//! closes the event file complete through [`RunLog::end`].

pub mod adam;
pub mod clip;
pub mod describe;
pub mod diagnoser;
pub mod divergence;
pub mod engine;
pub mod lines;
pub mod loss;
pub mod origin;
pub mod recurrent;
pub mod run_log;
pub mod run_writer;
pub mod summarizer;

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Result;
use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor};
use gradscope_tensorboard::logdir::Run;

use crate::data::{Batcher, Dataset, Sequence, Split, CLASSES};
use crate::interrupt;
use crate::model::{
    checkpoint, Activation, ActivationFn, Architecture, Cell, Init, Mlp, Shape,
    DEFAULT_LEAKY_SLOPE, MAX_PARAMETERS,
};
use crate::stats::RunSummary;
pub use adam::{Adam, AdamConfig};
pub use engine::{DeviceChoice, Engine};
pub use run_log::{Diverged, Ending, RunLog};
pub use run_writer::RunWriter;

/// The article's settings: the defaults of every run. A run's folder name
/// mentions only the settings that differ from them.
pub mod defaults {
    pub const LAYERS: usize = 6;
    pub const HIDDEN: usize = 10;
    pub const ITERATIONS: usize = 2500;
    pub const BATCH_SIZE: usize = 30;
    pub const LR: f64 = 0.001;
    pub const LOG_EVERY: usize = 200;
    pub const SEED: u64 = 1;

    /// The recurrent runs' own defaults (`rnn`, `lstm`, `gru`); iterations,
    /// batch size, learning rate, logging and seed are the article's above.
    /// They apply where the command line leaves the setting out.
    pub mod recurrent {
        use crate::data::Sequence;
        use crate::model::Init;

        /// Units of the one recurrent layer.
        pub const HIDDEN: usize = 64;
        /// PyTorch's RNN initialisation.
        pub const INIT: Init = Init::TorchUniform;
        /// MNIST row by row: 28 steps of 28 pixels.
        pub const SEQUENCE: Sequence = Sequence::Rows;
    }
}

/// The settings only the recurrent runs use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecurrentConfig {
    /// Units of the recurrent layer.
    pub hidden: usize,
    pub init: Init,
    /// How images become sequences.
    pub sequence: Sequence,
    /// The LSTM's forget-gate bias, set after `init` (see
    /// [`crate::model::recurrent`]); `None` keeps the initial biases.
    pub forget_bias: Option<f64>,
}

impl Default for RecurrentConfig {
    fn default() -> RecurrentConfig {
        RecurrentConfig {
            hidden: defaults::recurrent::HIDDEN,
            init: defaults::recurrent::INIT,
            sequence: defaults::recurrent::SEQUENCE,
            forget_bias: None,
        }
    }
}

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
    /// The display the bar joins when several runs train at once (one
    /// combined display); `None`: the bar draws on its own.
    pub progress_bars: Option<indicatif::MultiProgress>,
    /// Which ops compute the network.
    pub engine: Engine,
    /// Where its tensors live (the fused engine: the CPU only).
    pub device: DeviceChoice,
    /// The recurrent cell, for a recurrent run ([`recurrent::train`]);
    /// `None` for the MLP.
    pub cell: Option<Cell>,
    /// The recurrent runs' settings.
    pub recurrent: RecurrentConfig,
    /// Clip the gradients to this global norm before each step
    /// ([`clip::clip_grad_norm`]); `None`: no clipping.
    pub clip_norm: Option<f64>,
}

impl TrainConfig {
    /// The article's experiment with `activation`: 6 layers of 10, Glorot
    /// uniform, 2,500 iterations of 30, Adam at 1e-3, logging every 200,
    /// seed 1, shuffled, no progress bar. Change fields with `..`.
    pub fn article(activation: Activation) -> TrainConfig {
        TrainConfig {
            activation: ActivationFn::new(activation, DEFAULT_LEAKY_SLOPE),
            residual: false,
            dataset: "mnist".into(),
            layers: defaults::LAYERS,
            hidden: defaults::HIDDEN,
            init: Init::GlorotUniform,
            init_from: None,
            save: None,
            shuffle: true,
            iterations: defaults::ITERATIONS,
            batch_size: defaults::BATCH_SIZE,
            lr: defaults::LR,
            log_every: defaults::LOG_EVERY,
            seed: defaults::SEED,
            progress: false,
            progress_bars: None,
            engine: Engine::Fused,
            device: DeviceChoice::Cpu,
            cell: None,
            recurrent: RecurrentConfig::default(),
            clip_norm: None,
        }
    }
}

/// Trains one network on `data` and logs it to a new event file in `run_dir`,
/// the run called `name` in its logdir. Returns its figures, and the [`Run`]
/// its event file holds (for the report, which then need not read it back;
/// `None` for a run too long to keep in memory, see [`RunLog::end`]).
pub fn train(
    name: &str,
    data: &Dataset,
    cfg: &TrainConfig,
    run_dir: &Path,
) -> Result<(RunSummary, Option<Run>)> {
    if cfg.engine == Engine::Fused && cfg.device != DeviceChoice::Cpu {
        return Err(ConfigError::FusedOffCpu { device: cfg.device }.into());
    }
    let device = cfg
        .device
        .open()
        .map_err(|e| ConfigError::DeviceUnavailable {
            device: cfg.device,
            reason: e.to_string(),
        })?;
    check_batch_fits(cfg, data)?;
    let model = build_model(cfg, data.train.image_size(), &device)?;
    let inputs = model.arch.shape.inputs;
    let mut optimizer = cfg.engine.optimizer(&model, cfg.lr)?;
    let mut batches = if cfg.shuffle {
        Batcher::shuffled(data.train.len(), cfg.batch_size, cfg.seed)
    } else {
        Batcher::in_order(data.train.len(), cfg.batch_size)
    };
    let mut log = RunLog::start(name, run_dir, cfg, data, &model, optimizer.replayable())?;
    let kernels: Vec<_> = model.layers.iter().map(|l| l.kernel.clone()).collect();

    let mut labels = Vec::new();
    for i in 0..cfg.iterations {
        if let Some(signal) = interrupt::requested() {
            return log.end(i, Ending::Stopped(signal));
        }
        // A fresh buffer each step, moved into the tensor rather than copied
        // (the allocator hands back the one the last step's tensor freed).
        let mut pixels = Vec::with_capacity(cfg.batch_size * inputs);
        batches.next_batch(&data.train, &mut pixels, &mut labels);
        let x = Tensor::from_vec(pixels, (cfg.batch_size, inputs), &device)?;
        let y = Tensor::from_slice(&labels, cfg.batch_size, &device)?;
        let (logits, loss, mut grads) = cfg.engine.forward_backward(&model, &x, &y)?;
        let loss = loss.to_scalar::<f32>()?;
        let diverged = divergence::check(loss, &model, &grads)?;
        if let Some(max_norm) = cfg.clip_norm {
            let total = clip::clip_grad_norm(&mut grads, &model.vars(), max_norm)?;
            log.clipped(total, max_norm);
        }
        if i % cfg.log_every == 0 || diverged.is_some() {
            let acc = batch_accuracy(&logits, &labels)?;
            log.step(i, &x, loss, acc, &model, &grads)?;
        }
        if let Some(cause) = diverged {
            // Where it began: the iteration re-run on host copies (the
            // optimizer has not stepped the weights).
            let origin = origin::Located::of(origin::locate(&model, &x, &labels, i));
            return log.end(i, Ending::Diverged { cause, origin });
        }
        if log.measures_optimizer(i) {
            let measures = optimizer.step_measured(&grads, &kernels)?;
            log.optimized(i, measures)?;
        } else {
            optimizer.step(&grads)?;
        }
        log.stepped(i, &model)?;
    }

    let train_acc = accuracy(cfg.engine, &model, &data.train, &device)?;
    let test_acc = accuracy(cfg.engine, &model, &data.test, &device)?;
    let finished = Ending::Finished {
        train_acc,
        test_acc,
    };
    let (summary, run) = log.end(cfg.iterations, finished)?;
    if let Some(path) = &cfg.save {
        checkpoint::save(&model, path)?;
    }
    Ok((summary, run))
}

/// Fails when a batch of `cfg` needs more images than `data` trains on.
pub fn check_batch_fits(cfg: &TrainConfig, data: &Dataset) -> Result<(), ConfigError> {
    if cfg.batch_size > data.train.len() {
        return Err(ConfigError::BatchLargerThanData {
            batch_size: cfg.batch_size,
            images: data.train.len(),
            data_dir: data.dir.clone(),
        });
    }
    Ok(())
}

/// A configuration that cannot train on the data it was given.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ConfigError {
    /// A batch needs more images than the training set has.
    BatchLargerThanData {
        batch_size: usize,
        images: usize,
        data_dir: PathBuf,
    },
    /// The network is larger than [`MAX_PARAMETERS`].
    TooManyParameters {
        layers: usize,
        hidden: usize,
        inputs: usize,
        parameters: u64,
    },
    /// The fused engine was asked to run off the CPU.
    FusedOffCpu { device: DeviceChoice },
    /// The device cannot be opened (no GPU, or a build without CUDA).
    DeviceUnavailable {
        device: DeviceChoice,
        reason: String,
    },
    /// A forget-gate bias was given but no run has an LSTM.
    ForgetBiasWithoutLstm,
    /// A setting the recurrent runs do not support.
    NotForRecurrent { setting: RecurrentUnsupported },
}

/// What the recurrent runs cannot do (yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecurrentUnsupported {
    /// Start from a checkpoint.
    InitFrom,
    /// Save a checkpoint.
    Save,
    /// Run off the CPU.
    Device,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::BatchLargerThanData {
                batch_size,
                images,
                data_dir,
            } => write!(
                f,
                "a batch of {batch_size} is larger than the training set ({images} images in {})",
                data_dir.display()
            ),
            ConfigError::TooManyParameters {
                layers,
                hidden,
                inputs,
                parameters,
            } => write!(
                f,
                "{layers} layers of {hidden} units on {inputs}-pixel images make {parameters} \
                 parameters; at most {MAX_PARAMETERS} are allowed"
            ),
            ConfigError::DeviceUnavailable { device, reason } => write!(
                f,
                "device {device} cannot be used: {reason} (CUDA needs a build with \
                 `--features cuda` and a GPU)"
            ),
            ConfigError::FusedOffCpu { device } => write!(
                f,
                "the fused engine runs on the CPU only, not on {device}; the candle-nn engine \
                 runs on any device"
            ),
            ConfigError::ForgetBiasWithoutLstm => write!(
                f,
                "a forget-gate bias applies to LSTM runs only, and none of the runs is an LSTM"
            ),
            ConfigError::NotForRecurrent { setting } => {
                let what = match setting {
                    RecurrentUnsupported::InitFrom => "start from a checkpoint",
                    RecurrentUnsupported::Save => "save their weights",
                    RecurrentUnsupported::Device => "run off the CPU",
                };
                write!(f, "recurrent runs (rnn, lstm, gru) cannot {what} yet")
            }
        }
    }
}

impl std::error::Error for ConfigError {}

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
        return Err(ConfigError::TooManyParameters {
            layers: cfg.layers,
            hidden: cfg.hidden,
            inputs,
            parameters: arch.shape.parameters(),
        }
        .into());
    }
    match &cfg.init_from {
        Some(path) => Ok(checkpoint::load(path, arch, device)?),
        None => Ok(Mlp::new(arch, cfg.init, cfg.seed, device)?),
    }
}

/// Adam with PyTorch's and TensorFlow's defaults: betas 0.9/0.999, eps 1e-8
/// and no weight decay (the fused engine's).
pub fn adam(model: &Mlp, lr: f64) -> Result<Adam> {
    Ok(Adam::new(model.vars(), AdamConfig::with_lr(lr)))
}

/// [`Engine::forward_backward`] of the fused engine.
pub fn forward_backward(
    model: &Mlp,
    x: &Tensor,
    y: &Tensor,
) -> Result<(Tensor, Tensor, GradStore)> {
    Engine::Fused.forward_backward(model, x, y)
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
pub fn accuracy(engine: Engine, model: &Mlp, split: &Split, device: &Device) -> Result<f32> {
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
        right += correct(&engine.forward(model, &x)?, &labels)?;
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
