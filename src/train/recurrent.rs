//! The recurrent networks (`rnn`, `lstm`, `gru`) as a [`Network`], on
//! images read as sequences ([`Sequence`](crate::data::Sequence)).
//!
//! The network's fused op ([`crate::model::sequence_op`]) leaves dL/dh_t
//! for every t after the backward pass ([`Recurrent::forward_recorded`]),
//! which the run logs at each logged step beside the kernels' statistics
//! (layer 1 `weight_ih_l0`, 2 `weight_hh_l0`, 3 `head.weight`). The
//! gradients logged and the weights' updates are those after clipping;
//! dL/dh_t is never clipped.

use std::path::Path;

use anyhow::Result;
use candle_core::backprop::GradStore;
use candle_core::{Device, Module, Tensor, Var};
use gradscope_tensorboard::proto::Event;

use crate::data::{Dataset, Sequence, Split, CLASSES};
use crate::model::sequence_op::TimeGrads;
use crate::model::{Cell, Recurrent, RecurrentShape};
use crate::train::adam::{Adam, AdamConfig};
use crate::train::describe;
use crate::train::engine::Optimizer;
use crate::train::network::{Network, Parameter, Pass};
use crate::train::origin::{self, Located};
use crate::train::views::Diagnosed;
use crate::train::{loss, ConfigError, DeviceChoice, RecurrentUnsupported, TrainConfig};

/// A recurrent network of a run, reading images as `sequence`.
pub struct RecurrentNetwork {
    pub model: Recurrent,
    sequence: Sequence,
    /// Time steps and values per step of one image.
    steps: usize,
    inputs: usize,
}

impl RecurrentNetwork {
    /// The network of `cell` that `cfg` describes for `data`'s sequences,
    /// initialised from `cfg.seed`, with the forget-gate bias set if one
    /// is given; an error for a setting recurrent runs do not support.
    pub fn new(
        cfg: &TrainConfig,
        cell: Cell,
        data: &Dataset,
        device: &Device,
    ) -> Result<RecurrentNetwork> {
        check(cfg, data)?;
        let sequence = cfg.recurrent.sequence;
        let (steps, inputs) = sequence.steps(data.train.rows, data.train.cols)?;
        Ok(RecurrentNetwork {
            model: build_model(cfg, cell, data, device)?,
            sequence,
            steps,
            inputs,
        })
    }
}

/// The network of `cell` that `cfg` describes for `data`'s sequences,
/// initialised from `cfg.seed`, with the forget-gate bias set if one is
/// given.
pub fn build_model(
    cfg: &TrainConfig,
    cell: Cell,
    data: &Dataset,
    device: &Device,
) -> Result<Recurrent> {
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
    Ok(())
}

impl Network for RecurrentNetwork {
    fn inputs(&self, split: &Split, indices: &[usize], device: &Device) -> Result<Tensor> {
        let mut values = Vec::with_capacity(indices.len() * self.steps * self.inputs);
        self.sequence
            .batch(split, indices.iter().copied(), &mut values);
        let shape = (indices.len(), self.steps, self.inputs);
        Ok(Tensor::from_vec(values, shape, device)?)
    }

    fn forward_backward(&self, x: &Tensor, y: &Tensor) -> Result<Pass> {
        let time_grads = TimeGrads::default();
        let (logits, loss, grads) = forward_backward(&self.model, x, y, &time_grads)?;
        Ok(Pass {
            logits,
            loss,
            grads,
            time_grads: Some((time_grads, self.steps)),
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self.model.forward(x)?)
    }

    fn eval_chunk(&self) -> usize {
        // The fused op keeps every step's states (for a backward pass), so
        // a chunk holds about 14,000 sequence steps (500 sequences of 28
        // rows, 71 of 196 pixels), some 50 MB for an LSTM of 64.
        (14_000 / self.steps.max(1)).clamp(1, 500)
    }

    fn optimizer(&self, lr: f64) -> Result<Optimizer> {
        let adam = Adam::new(self.model.vars(), AdamConfig::with_lr(lr));
        Ok(Optimizer::Fused(adam))
    }

    fn parameters(&self) -> Vec<Parameter> {
        let m = &self.model;
        vec![
            (1, "weight_ih_l0", m.weight_ih.clone()),
            (1, "weight_hh_l0", m.weight_hh.clone()),
            (1, "bias_ih_l0", m.bias_ih.clone()),
            (1, "bias_hh_l0", m.bias_hh.clone()),
            (2, "weight", m.head_weight.clone()),
            (2, "bias", m.head_bias.clone()),
        ]
    }

    fn kernels(&self) -> Vec<Var> {
        let m = &self.model;
        [&m.weight_ih, &m.weight_hh, &m.head_weight]
            .map(Var::clone)
            .to_vec()
    }

    fn biases(&self) -> Vec<Var> {
        Vec::new()
    }

    fn start_events(&self, cfg: &TrainConfig, data: &Dataset, run_dir: &Path) -> Vec<Event> {
        describe::recurrent_start_events(cfg, data, &self.model.shape, self.steps, run_dir)
    }

    fn diagnosed(&self, _data: &Dataset) -> Option<Diagnosed> {
        None
    }

    fn locate(&self, x: &Tensor, labels: &[u32], pass: &Pass, iteration: usize) -> Located {
        let empty = TimeGrads::default();
        let time_grads = pass.time_grads.as_ref().map_or(&empty, |(t, _)| t);
        Located::new(origin::locate_recurrent(
            &self.model,
            x,
            labels,
            time_grads,
            iteration,
        ))
    }

    fn save(&self, _path: &Path) -> Result<()> {
        // `check` refuses `--save` for recurrent runs before training.
        Err(ConfigError::NotForRecurrent {
            setting: RecurrentUnsupported::Save,
        }
        .into())
    }
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
/// `Recurrent::forward_probed`: each probe's gradient's L2 norm.
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
