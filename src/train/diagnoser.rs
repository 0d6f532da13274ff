//! The summary thread's per-layer diagnostics of logged steps (the
//! formulas are [`crate::diagnostics`]'), written as one event per logged
//! step after the step's own.
//!
//! At a logged step it runs the hidden layers forward on the step's batch
//! from its kernels and biases (the training step keeps nothing for this),
//! and logs each hidden layer's activation histogram and its dead or
//! saturated fraction. It keeps a copy of the kernels until the optimizer's
//! step is known (from the summarizer's [`Replica`](crate::train::adam::Replica)
//! at `--log-every 1`, else from the kernels the training thread sends
//! after stepping), then logs each layer's update ratio. A step whose
//! update never comes (the run diverged there, or ended) is logged without
//! it.

use anyhow::{Context, Result};
use candle_core::Tensor;
use gradscope_tensorboard::proto::{summary, Event};
use gradscope_tensorboard::summary::{histogram, scalar, summary_event};

use crate::diagnostics::{forward_hidden, update_ratio, UnitMeasure};
use crate::model::Architecture;
use crate::tags;

/// The summary thread's diagnostics of one run.
pub struct Diagnoser {
    arch: Architecture,
    measure: Option<UnitMeasure>,
    /// The logged step waiting for its update, with its values so far.
    pending: Option<Pending>,
    /// The kernels of the last logged step, before the optimizer's step.
    before: Vec<Vec<f32>>,
}

struct Pending {
    step: i64,
    wall_time: f64,
    values: Vec<summary::Value>,
}

impl Diagnoser {
    /// Diagnostics of a network `arch`.
    pub fn new(arch: Architecture) -> Diagnoser {
        Diagnoser {
            arch,
            measure: UnitMeasure::of(arch.activation.kind),
            pending: None,
            before: Vec::new(),
        }
    }

    /// Takes in logged step `step`: its batch `x` (`batch × inputs`) and
    /// its kernels and biases before the optimizer's step. Returns the
    /// event of an earlier step still pending, if any.
    pub fn observe(
        &mut self,
        step: i64,
        wall_time: f64,
        x: &Tensor,
        kernels: &[Vec<f32>],
        biases: &[Vec<f32>],
    ) -> Result<Option<Event>> {
        let earlier = self.flush();
        let inputs = self.arch.shape.inputs;
        let layers = crate::cpu::with_f32(x, |x| {
            forward_hidden(&self.arch, x, x.len() / inputs.max(1), kernels, biases)
        })?
        .with_context(|| format!("step {step}: the diagnostics' forward pass"))?;
        let mut values = Vec::with_capacity(2 * layers.len() + kernels.len());
        for (l, layer) in layers.iter().enumerate() {
            values.push(histogram(&tags::ACTIVATIONS.tag(l + 1), &layer.outputs).0);
            match self.measure {
                Some(UnitMeasure::Dead) => values.push(scalar(
                    &tags::DEAD_FRACTION.tag(l + 1),
                    UnitMeasure::Dead.fraction(
                        &layer.pre_activations,
                        layer.units,
                        self.arch.activation,
                    ) as f32,
                )),
                Some(UnitMeasure::Saturated) => values.push(scalar(
                    &tags::SATURATED_FRACTION.tag(l + 1),
                    UnitMeasure::Saturated.fraction(
                        &layer.pre_activations,
                        layer.units,
                        self.arch.activation,
                    ) as f32,
                )),
                None => {}
            }
        }
        self.before.resize_with(kernels.len(), Vec::new);
        for (ours, theirs) in self.before.iter_mut().zip(kernels) {
            ours.clone_from(theirs);
        }
        self.pending = Some(Pending {
            step,
            wall_time,
            values,
        });
        Ok(earlier)
    }

    /// The optimizer has stepped the kernels of logged step `step` to
    /// `after`: the step's event, with every layer's update ratio.
    pub fn stepped(&mut self, step: i64, after: &[Vec<f32>]) -> Option<Event> {
        let mut pending = self.pending.take_if(|p| p.step == step)?;
        for (l, (before, after)) in self.before.iter().zip(after).enumerate() {
            pending.values.push(scalar(
                &tags::UPDATE_RATIO.tag(l + 1),
                update_ratio(before, after) as f32,
            ));
        }
        Some(pending.event())
    }

    /// The event of the step still pending, without its update ratios.
    pub fn flush(&mut self) -> Option<Event> {
        self.pending.take().map(Pending::event)
    }
}

impl Pending {
    fn event(self) -> Event {
        summary_event(self.step, self.wall_time, self.values)
    }
}
