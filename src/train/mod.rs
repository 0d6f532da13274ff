//! Training one run: the loop, and what it logs.
//!
//! [`train`] drives any [`Network`] (the MLP in [`mlp`], the recurrent
//! networks in [`recurrent`]): each iteration draws a batch, runs forward,
//! loss, one backward pass and one Adam step with those same gradients.
//! Every `log_every` iterations the run's [`RunLog`] writes the loss, batch
//! accuracy and per-layer gradient and weight statistics through a
//! `SummaryWriter`, and at most once per 200 iterations the per-layer views
//! ([`views`]). What the run records about itself for the Text, HParams
//! and Graphs dashboards comes from [`describe`].
//!
//! The loop ends in one of three ways ([`Ending`]): finished, diverged
//! ([`divergence`]) or stopped by a signal ([`crate::interrupt`]); each
//! closes the event file complete through [`RunLog::end`].

pub mod adam;
pub mod checkpoint;
pub mod clip;
pub mod describe;
pub mod divergence;
pub mod engine;
pub mod lines;
pub mod loss;
pub mod mlp;
pub mod network;
pub mod origin;
pub mod recurrent;
pub mod run_log;
pub mod views;

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Result;
use candle_core::{Device, Tensor};
use gradscope_tensorboard::logdir::Run;

use crate::data::{Batcher, Dataset, Sequence};
use crate::interrupt;
use crate::model::{Activation, Cell, Init, DEFAULT_LEAKY_SLOPE, MAX_PARAMETERS};
use crate::stats::RunSummary;
pub use adam::{Adam, AdamConfig};
pub use engine::{DeviceChoice, Engine, Optimizer};
pub use mlp::{build_model, forward_backward};
pub use network::Network;
pub use run_log::{Diverged, Ending, RunLog};

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
    /// Iterations between checkpoints (see `checkpoint`): their cost
    /// stays under 2% of a run's time (docs/guarantees.md).
    pub const CHECKPOINT_EVERY: usize = 5000;

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

/// Which network a run trains: one variant per family, each with what
/// only it has. The settings both share (sizes aside) are [`TrainConfig`]'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// The MLP (`mlp`) with `activation`, with skip connections around
    /// its hidden layers after the first when `residual`.
    Mlp {
        activation: Activation,
        residual: bool,
    },
    /// A recurrent network of `cell` with a linear head (`recurrent`).
    Recurrent(Cell),
}

impl Scenario {
    /// The article's three: sigmoid, ReLU and leaky ReLU, without skips.
    pub const ARTICLE: [Scenario; 3] = [
        Scenario::plain(Activation::Sigmoid),
        Scenario::plain(Activation::Relu),
        Scenario::plain(Activation::LeakyRelu),
    ];

    /// The MLP with `activation`, without skip connections.
    pub const fn plain(activation: Activation) -> Scenario {
        Scenario::Mlp {
            activation,
            residual: false,
        }
    }

    /// The scenario's name: the activation (with `-residual`) or the cell.
    pub fn name(&self) -> String {
        match *self {
            Scenario::Mlp {
                activation,
                residual: true,
            } => format!("{}-residual", activation.name()),
            Scenario::Mlp { activation, .. } => activation.name().to_string(),
            Scenario::Recurrent(cell) => cell.name().to_string(),
        }
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
    /// `crate::model::recurrent`); `None` keeps the initial biases.
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
    /// The network.
    pub scenario: Scenario,
    /// Leaky ReLU's slope for negative inputs (the MLP's).
    pub leaky_slope: f64,
    /// The data set's name (`--dataset`), recorded with the run.
    pub dataset: String,
    /// The MLP's dense layers, counting the output layer.
    pub layers: usize,
    /// The MLP's hidden width.
    pub hidden: usize,
    /// The MLP's initialisation.
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
    /// The recurrent runs' settings.
    pub recurrent: RecurrentConfig,
    /// Clip the gradients to this global norm before each step
    /// ([`clip::clip_grad_norm`]); `None`: no clipping.
    pub clip_norm: Option<f64>,
    /// Save a [`checkpoint`] every this many iterations and when stopped by
    /// a signal; 0: never. Only the fused engine's Adam can be saved.
    pub checkpoint_every: usize,
    /// Continue from the run folder's checkpoint if it has one; without
    /// one, start over with the folder's earlier points dropped.
    pub resume: bool,
}

impl TrainConfig {
    /// The article's experiment with `activation`: 6 layers of 10, Glorot
    /// uniform, 2,500 iterations of 30, Adam at 1e-3, logging every 200,
    /// seed 1, shuffled, no progress bar. Change fields with `..`.
    pub fn article(activation: Activation) -> TrainConfig {
        TrainConfig {
            scenario: Scenario::plain(activation),
            leaky_slope: DEFAULT_LEAKY_SLOPE,
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
            recurrent: RecurrentConfig::default(),
            clip_norm: None,
            checkpoint_every: defaults::CHECKPOINT_EVERY,
            resume: false,
        }
    }
}

/// Trains the network of `cfg` on `data` and logs it to a new event file
/// in `run_dir`, the run called `name` in its logdir. Returns its summary,
/// and the [`Run`] its event file holds (for the report, which then need
/// not read it back; `None` for a run too long to keep in memory, see
/// `RunLog::end`, or one resumed from a checkpoint, whose earlier files
/// hold the rest).
///
/// With `cfg.checkpoint_every`, saves a [`checkpoint`] in `run_dir` every
/// that many iterations and when stopped by a signal, and removes it once
/// the run finishes. With `cfg.resume`, continues from that checkpoint:
/// on the CPU the run ends bit for bit as it would have uninterrupted.
pub fn train(
    name: &str,
    data: &Dataset,
    cfg: &TrainConfig,
    run_dir: &Path,
) -> Result<(RunSummary, Option<Run>)> {
    let device = open_device(cfg)?;
    check_batch_fits(cfg, data)?;
    // Read and checked before anything is written.
    let saved = match cfg.resume {
        true => checkpoint::load(run_dir, cfg)?,
        false => None,
    };
    let net = network::build(cfg, data, &device)?;
    let mut optimizer = net.optimizer(cfg.lr)?;
    let mut batches = if cfg.shuffle {
        Batcher::shuffled(data.train.len(), cfg.batch_size, cfg.seed)
    } else {
        Batcher::in_order(data.train.len(), cfg.batch_size)
    };
    let (start, opening) = match saved {
        Some(saved) => {
            let Optimizer::Fused(adam) = &mut optimizer else {
                anyhow::bail!(
                    "{}: the {} engine's optimizer cannot continue from a checkpoint",
                    saved.path.display(),
                    cfg.engine
                );
            };
            let at = saved.iteration;
            let state = saved.restore(net.as_ref(), adam, &mut batches)?;
            (at, run_log::Opening::Resume { at, state })
        }
        None if cfg.resume => (0, run_log::Opening::Restart),
        None => (0, run_log::Opening::Fresh),
    };
    let mut log = RunLog::start(name, run_dir, cfg, data, net.as_ref(), opening)?;
    let parameters = net.parameters();
    // The clipped variables, collected once rather than every iteration.
    let vars: Vec<_> = parameters.iter().map(|p| p.2.clone()).collect();
    let kernels = net.kernels();
    // What a checkpoint needs, borrowed afresh each time.
    let mut saver = checkpoint::Saver::new(run_dir);
    let save = |saver: &mut checkpoint::Saver,
                iteration: usize,
                log: &RunLog,
                optimizer: &Optimizer,
                batches: &Batcher| {
        let Optimizer::Fused(adam) = optimizer else {
            return Ok(None);
        };
        // Every step the checkpoint has done is in the file first.
        log.flush()?;
        let snapshot = checkpoint::Snapshot {
            iteration,
            cfg,
            net: net.as_ref(),
            adam,
            batcher: batches,
            log: log.state(),
        };
        anyhow::Ok(Some(saver.start(snapshot)?))
    };

    let mut labels = Vec::new();
    for i in start..cfg.iterations {
        if let Some(signal) = interrupt::requested() {
            let saved = match cfg.checkpoint_every {
                0 => Ok(None),
                _ => save(&mut saver, i, &log, &optimizer, &batches)
                    .and_then(|path| Ok(saver.finish().map(|()| path)?)),
            };
            if let Ok(Some(path)) = &saved {
                log.continues_later();
                eprintln!(
                    "{name}: checkpoint of iteration {i} saved to {}",
                    path.display()
                );
            }
            let ended = log.end(i, Ending::Stopped(signal));
            saved?;
            return ended;
        }
        let indices = batches.next_indices();
        labels.clear();
        labels.extend(indices.iter().map(|&i| u32::from(data.train.labels[i])));
        let x = net.inputs(&data.train, indices, &device)?;
        let y = Tensor::from_slice(&labels, cfg.batch_size, &device)?;
        let mut pass = net.forward_backward(&x, &y)?;
        let loss = pass.loss.to_scalar::<f32>()?;
        let diverged = divergence::check(loss, &parameters, &pass.grads)?;
        if let Some(max_norm) = cfg.clip_norm {
            let total = clip::clip_grad_norm(&mut pass.grads, &vars, max_norm)?;
            log.clipped(total, max_norm);
        }
        if i % cfg.log_every == 0 || diverged.is_some() {
            let acc = batch_accuracy(&pass.logits, &labels)?;
            log.step(i, loss, acc, &x, &pass)?;
        }
        if let Some(cause) = diverged {
            // Where it began: the iteration re-run on host copies (the
            // optimizer has not stepped the weights).
            let origin = net.locate(&x, &labels, &pass, i);
            return log.end(i, Ending::Diverged { cause, origin });
        }
        if log.measures_optimizer(i) {
            let measures = optimizer.step_measured(&pass.grads, &kernels)?;
            log.optimized(i, measures)?;
        } else {
            optimizer.step(&pass.grads)?;
        }
        log.stepped(i)?;
        let done = i + 1;
        if cfg.checkpoint_every > 0 && done % cfg.checkpoint_every == 0 && done < cfg.iterations {
            save(&mut saver, done, &log, &optimizer, &batches)?;
        }
    }

    let train_acc = network::accuracy(net.as_ref(), &data.train, &device)?;
    let test_acc = network::accuracy(net.as_ref(), &data.test, &device)?;
    let finished = Ending::Finished {
        train_acc,
        test_acc,
    };
    let (summary, run) = log.end(cfg.iterations, finished)?;
    if let Some(path) = &cfg.save {
        net.save(path)?;
    }
    // Finished: nothing continues from it. A checkpoint left behind (its
    // write or the removal failing) is harmless, a finished run is never
    // resumed.
    let _ = saver.finish();
    let _ = checkpoint::remove(run_dir);
    Ok((summary, run))
}

/// The device `cfg` asks for, if its engine can run there.
fn open_device(cfg: &TrainConfig) -> Result<Device, ConfigError> {
    if cfg.engine == Engine::Fused && cfg.device != DeviceChoice::Cpu {
        return Err(ConfigError::FusedOffCpu { device: cfg.device });
    }
    cfg.device
        .open()
        .map_err(|e| ConfigError::DeviceUnavailable {
            device: cfg.device,
            reason: e.to_string(),
        })
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

/// The number of rows whose largest logit is the label (the first largest,
/// on a tie). Read from the logits in place: at `--log-every 1` this runs
/// every step, and candle's argmax plus a copy cost more than the count.
pub(crate) fn correct(logits: &Tensor, labels: &[u32]) -> Result<usize> {
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
