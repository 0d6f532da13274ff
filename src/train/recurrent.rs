//! Training a recurrent network (`rnn`, `lstm`, `gru`) on images read as
//! sequences ([`Sequence`](crate::data::Sequence)): the loop, and the gradient through time it
//! logs.
//!
//! Each iteration draws a batch, runs the sequence through the network,
//! takes the mean cross-entropy of the head's logits, one backward pass,
//! optionally clips the gradients' global norm ([`clip`]) and takes one
//! Adam step ([`Adam`], PyTorch's arithmetic). The network's fused op
//! ([`crate::model::sequence_op`]) leaves dL/dh_t for every t after the
//! backward pass ([`Recurrent::forward_recorded`]); at a logged step the
//! run's [`RunLog`] writes its norms with the loss, the batch accuracy and
//! the kernels' statistics (layer 1 `weight_ih_l0`, 2 `weight_hh_l0`, 3
//! `head.weight`). The gradients logged and the weights' updates are those
//! after clipping; dL/dh_t is never clipped.

use std::path::Path;

use anyhow::Result;
use candle_core::backprop::GradStore;
use candle_core::{Device, Module, Tensor, Var};
use gradscope_tensorboard::logdir::Run;

use crate::data::{Batcher, Dataset, Split, CLASSES};
use crate::interrupt;
use crate::model::sequence_op::TimeGrads;
use crate::model::{Cell, Recurrent, RecurrentShape};
use crate::stats::RunSummary;
use crate::train::adam::{Adam, AdamConfig};
use crate::train::origin::{self, Located};
use crate::train::run_log::{Ending, RunLog};
use crate::train::{
    batch_accuracy, check_batch_fits, clip, correct, describe, divergence, loss, ConfigError,
    DeviceChoice, RecurrentUnsupported, TrainConfig,
};
use gradscope_tensorboard::summary::wall_time_now;

/// Trains `cfg.cell`'s network on `data` and logs it to a new event file
/// in `run_dir`, as [`crate::train::train`] does the MLP.
pub fn train(
    name: &str,
    data: &Dataset,
    cfg: &TrainConfig,
    run_dir: &Path,
) -> Result<(RunSummary, Option<Run>)> {
    check(cfg, data)?;
    let device = Device::Cpu;
    let model = build_model(cfg, data, &device)?;
    let sequence = cfg.recurrent.sequence;
    let (steps, inputs) = sequence.steps(data.train.rows, data.train.cols)?;
    let vars = model.vars();
    let kernels = [&model.weight_ih, &model.weight_hh, &model.head_weight].map(Var::clone);
    let mut optimizer = Adam::new(vars.clone(), AdamConfig::with_lr(cfg.lr));
    let mut batches = if cfg.shuffle {
        Batcher::shuffled(data.train.len(), cfg.batch_size, cfg.seed)
    } else {
        Batcher::in_order(data.train.len(), cfg.batch_size)
    };
    let events =
        describe::recurrent_start_events(cfg, data, &model.shape, steps, run_dir, wall_time_now());
    let mut log = RunLog::start_with(name, run_dir, cfg, &kernels, events, None)?;

    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    for i in 0..cfg.iterations {
        if let Some(signal) = interrupt::requested() {
            return log.end(i, Ending::Stopped(signal));
        }
        let indices = batches.next_indices();
        sequence.batch(&data.train, indices.iter().copied(), &mut pixels);
        labels.clear();
        labels.extend(indices.iter().map(|&i| u32::from(data.train.labels[i])));
        let x = Tensor::from_slice(&pixels, (cfg.batch_size, steps, inputs), &device)?;
        let y = Tensor::from_slice(&labels, cfg.batch_size, &device)?;
        let logged = i % cfg.log_every == 0;
        let time_grads = TimeGrads::default();
        let (logits, loss, mut grads) = forward_backward(&model, &x, &y, &time_grads)?;
        let loss = loss.to_scalar::<f32>()?;
        let diverged = divergence::check_params(loss, parameters(&model), &grads)?;
        if let Some(max_norm) = cfg.clip_norm {
            let total = clip::clip_grad_norm(&mut grads, &vars, max_norm)?;
            log.clipped(total, max_norm);
        }
        if logged || diverged.is_some() {
            let acc = batch_accuracy(&logits, &labels)?;
            log.step_kernels(i, loss, acc, &kernels, &grads)?;
            if let Some(norms) = time_grads.norms(steps) {
                log.through_time(i, &norms)?;
            }
        }
        if let Some(cause) = diverged {
            let located = origin::locate_recurrent(&model, &x, &labels, &time_grads, i);
            let origin = Located::of(located);
            return log.end(i, Ending::Diverged { cause, origin });
        }
        if log.measures_optimizer(i) {
            let measures = optimizer.step_measured(&grads, &kernels)?;
            log.optimized(i, Some(measures))?;
        } else {
            optimizer.step(&grads)?;
        }
        log.tick();
    }

    let train_acc = accuracy(&model, &data.train, cfg)?;
    let test_acc = accuracy(&model, &data.test, cfg)?;
    let finished = Ending::Finished {
        train_acc,
        test_acc,
    };
    log.end(cfg.iterations, finished)
}

/// Fails before training where the configuration does not suit a
/// recurrent run or `data`.
pub fn check(cfg: &TrainConfig, data: &Dataset) -> Result<()> {
    let unsupported = if cfg.init_from.is_some() {
        Some(RecurrentUnsupported::InitFrom)
    } else if cfg.save.is_some() {
        Some(RecurrentUnsupported::Save)
    } else if cfg.device != DeviceChoice::Cpu {
        Some(RecurrentUnsupported::Device)
    } else {
        None
    };
    if let Some(setting) = unsupported {
        return Err(ConfigError::NotForRecurrent { setting }.into());
    }
    cfg.recurrent
        .sequence
        .steps(data.train.rows, data.train.cols)?;
    check_batch_fits(cfg, data)?;
    Ok(())
}

/// The network `cfg` describes for `data`'s sequences, initialised from
/// `cfg.seed`, with the forget-gate bias set if one is given.
pub fn build_model(cfg: &TrainConfig, data: &Dataset, device: &Device) -> Result<Recurrent> {
    let cell = cfg.cell.unwrap_or(Cell::Rnn);
    let (_, inputs) = cfg
        .recurrent
        .sequence
        .steps(data.train.rows, data.train.cols)?;
    let shape = RecurrentShape {
        cell,
        inputs,
        hidden: cfg.recurrent.hidden,
        outputs: CLASSES,
    };
    let model = Recurrent::new(shape, cfg.recurrent.init, cfg.seed, device)?;
    if let Some(bias) = cfg.recurrent.forget_bias {
        model.set_forget_bias(bias)?;
    }
    Ok(model)
}

/// The logits, the mean cross-entropy against `y` and the gradients of one
/// backward pass, which leaves dL/dh_t in `time_grads`.
pub fn forward_backward(
    model: &Recurrent,
    x: &Tensor,
    y: &Tensor,
    time_grads: &TimeGrads,
) -> Result<(Tensor, Tensor, GradStore)> {
    let logits = model.forward_recorded(x, time_grads)?;
    let loss = loss::cross_entropy(&logits, y)?;
    let grads = loss.backward()?;
    Ok((logits, loss, grads))
}

/// ||dL/dh_t|| for t = 1..T from the probes of
/// [`Recurrent::forward_probed`]: each probe's gradient's L2 norm.
pub fn time_norms(grads: &GradStore, probes: &[Var]) -> Result<Vec<f64>> {
    probes
        .iter()
        .map(|p| {
            let Some(grad) = grads.get(p.as_tensor()) else {
                // A step the loss does not depend on.
                return Ok(0.0);
            };
            let squares = crate::cpu::with_f32(grad, |g| {
                g.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>()
            })?;
            Ok(squares.sqrt())
        })
        .collect()
}

/// The variables with their layer (1: recurrent, 2: head) and name, for
/// the divergence check.
fn parameters(model: &Recurrent) -> Vec<(usize, &'static str, &Var)> {
    vec![
        (1, "weight_ih_l0", &model.weight_ih),
        (1, "weight_hh_l0", &model.weight_hh),
        (1, "bias_ih_l0", &model.bias_ih),
        (1, "bias_hh_l0", &model.bias_hh),
        (2, "weight", &model.head_weight),
        (2, "bias", &model.head_bias),
    ]
}

/// Accuracy of `model` on a whole split, in chunks to bound memory: the
/// fused op keeps every step's states (for a backward pass), so a chunk
/// holds about 14,000 sequence steps (500 sequences of 28 rows, 71 of 196
/// pixels), some 50 MB for an LSTM of 64.
pub fn accuracy(model: &Recurrent, split: &Split, cfg: &TrainConfig) -> Result<f32> {
    let sequence = cfg.recurrent.sequence;
    let (steps, inputs) = sequence.steps(split.rows, split.cols)?;
    let chunk = (14_000 / steps).clamp(1, 500);
    let (mut right, mut start, mut x) = (0, 0, Vec::new());
    while start < split.len() {
        let end = (start + chunk).min(split.len());
        sequence.batch(split, start..end, &mut x);
        let x = Tensor::from_slice(&x, (end - start, steps, inputs), &Device::Cpu)?;
        let labels: Vec<u32> = split.labels[start..end].iter().map(|&l| l.into()).collect();
        right += correct(&model.forward(&x)?, &labels)?;
        start = end;
    }
    Ok(right as f32 / split.len().max(1) as f32)
}
