//! The one trait the training loop drives: what a network must offer to be
//! trained, logged and diagnosed. The MLP ([`super::mlp`]) and the
//! recurrent networks ([`super::recurrent`]) implement it, each in its own
//! file; [`build`] picks one from the configuration.

use std::path::Path;

use anyhow::Result;
use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor, Var};
use gradscope_tensorboard::proto::Event;

use crate::data::{Dataset, Split};
use crate::model::sequence_op::TimeGrads;
use crate::train::engine::Optimizer;
use crate::train::origin::Located;
use crate::train::views::Diagnosed;
use crate::train::{Scenario, TrainConfig};

/// One iteration's forward and backward pass.
pub struct Pass {
    pub logits: Tensor,
    /// The mean cross-entropy.
    pub loss: Tensor,
    pub grads: GradStore,
    /// dL/dh_t of a network that runs through time, over its steps
    /// ([`Pass::through_time`]).
    pub time_grads: Option<(TimeGrads, usize)>,
}

impl Pass {
    /// ||dL/dh_t|| for t = 1..T, for a network that runs through time
    /// (computed when asked: at logged steps).
    pub fn through_time(&self) -> Option<Vec<f64>> {
        let (time_grads, steps) = self.time_grads.as_ref()?;
        time_grads.norms(*steps)
    }
}

/// A trained parameter, for the divergence check and its report: its
/// layer (from 1 at the input, as the logged tags count), its name there,
/// and the variable.
pub type Parameter = (usize, &'static str, Var);

/// A network the trainer can train, log and diagnose.
pub trait Network {
    /// The batch of images `indices` of `split`, as this network reads them.
    fn inputs(&self, split: &Split, indices: &[usize], device: &Device) -> Result<Tensor>;
    /// Logits, loss and the gradients of one backward pass.
    fn forward_backward(&self, x: &Tensor, y: &Tensor) -> Result<Pass>;
    /// The logits alone, for the accuracy on a whole split.
    fn forward(&self, x: &Tensor) -> Result<Tensor>;
    /// How many images [`forward`](Network::forward) takes at once when
    /// scoring a split (bounds memory).
    fn eval_chunk(&self) -> usize;
    /// Adam over every parameter, with the engine's arithmetic.
    fn optimizer(&self, lr: f64) -> Result<Optimizer>;
    /// Every parameter, input first: the order divergence is checked in.
    fn parameters(&self) -> Vec<Parameter>;
    /// The matrices whose gradients and values are logged, as layers 1,
    /// 2, ... of the tags.
    fn kernels(&self) -> Vec<Var>;
    /// Each kernel's bias, for the per-layer diagnostics (empty where the
    /// network has none).
    fn biases(&self) -> Vec<Var>;
    /// What the run writes before its first step: its configuration, its
    /// HParams records, its charts' layout and (if it has one) its graph.
    fn start_events(&self, cfg: &TrainConfig, data: &Dataset, run_dir: &Path) -> Vec<Event>;
    /// What the per-layer diagnostics need (the MLP's hidden layers run
    /// forward on the host), or `None` for a network without them.
    fn diagnosed(&self, data: &Dataset) -> Option<Diagnosed>;
    /// Where iteration `iteration`'s first non-finite value began, its
    /// batch `x` with `labels`, the weights as they were then.
    fn locate(&self, x: &Tensor, labels: &[u32], pass: &Pass, iteration: usize) -> Located;
    /// Saves the weights to `path` (safetensors), if the network can.
    fn save(&self, path: &Path) -> Result<()>;
}

/// The network `cfg` describes for `data`: built, initialised (or loaded),
/// and checked against the data before any training.
pub fn build(cfg: &TrainConfig, data: &Dataset, device: &Device) -> Result<Box<dyn Network>> {
    Ok(match cfg.scenario {
        Scenario::Mlp { .. } => Box::new(super::mlp::MlpNetwork::new(cfg, data, device)?),
        Scenario::Recurrent(cell) => Box::new(super::recurrent::RecurrentNetwork::new(
            cfg, cell, data, device,
        )?),
    })
}

/// The fraction of `split` that `net` classifies right, scored in chunks.
pub fn accuracy(net: &dyn Network, split: &Split, device: &Device) -> Result<f32> {
    let chunk = net.eval_chunk().max(1);
    let (mut right, mut start) = (0, 0);
    let mut indices = Vec::with_capacity(chunk);
    while start < split.len() {
        let end = (start + chunk).min(split.len());
        indices.clear();
        indices.extend(start..end);
        let x = net.inputs(split, &indices, device)?;
        let labels: Vec<u32> = split.labels[start..end].iter().map(|&l| l.into()).collect();
        right += super::correct(&net.forward(&x)?, &labels)?;
        start = end;
    }
    Ok(right as f32 / split.len().max(1) as f32)
}
