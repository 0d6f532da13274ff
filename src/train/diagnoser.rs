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
//!
//! Images: the first layer's kernel as one picture per unit
//! ([`crate::figure::unit_tiles`]) at the first and the last logged step,
//! and the gradient-flow bar chart ([`crate::figure::gradient_flow`]) at
//! the first logged step on or after each multiple of [`IMAGE_EVERY`]
//! iterations. Drawing and encoding a chart takes milliseconds (see
//! docs/views.md), longer than a training step: at every step of a
//! `--log-every 1` run it would hold training up.

use anyhow::{Context, Result};
use candle_core::Tensor;
use gradscope_candle::units::UnitMeasure;
use gradscope_tensorboard::image::{image, Image};
use gradscope_tensorboard::proto::{summary, Event};
use gradscope_tensorboard::summary::{histogram, scalar, summary_event};
use plotters::style::RGBColor;

use crate::figure::{gradient_flow, render, unit_tiles, Bars};
use crate::model::host_forward::forward_hidden;
use crate::model::Architecture;
use crate::stats::{update_ratio, UnitFractions};
use crate::tags;

/// Logged steps are diagnosed at most once per this many iterations: the
/// first logged step on or after each multiple (every logged step at the
/// default `--log-every 200`). The forward pass, histograms and update
/// ratios take about 30-50 µs on the default network, half a training
/// step: with denser logging the summary thread is the bottleneck, and
/// diagnosing every 10th step cost `--log-every 1` 1.18x the time of
/// `--log-every 200` (target 3 is 1.1x; every 200th: 1.08x).
pub const DIAGNOSE_EVERY: i64 = crate::train::defaults::LOG_EVERY as i64;

/// The gradient-flow image is drawn at most once per this many
/// iterations: at every logged step of the default `--log-every 200`.
pub const IMAGE_EVERY: i64 = crate::train::defaults::LOG_EVERY as i64;
/// How many times the kernels' pictures are enlarged (28x28 pixels are
/// small on a screen).
const KERNEL_ZOOM: usize = 4;
/// The gradient-flow image's size in pixels (width, height).
const FLOW_SIZE: (u32, u32) = (480, 300);
const FLOW_COLOUR: RGBColor = RGBColor(31, 119, 180);

/// What the diagnostics need to know of the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Diagnosed {
    pub arch: Architecture,
    /// The input images' rows and columns, for the kernels' pictures.
    pub image: (usize, usize),
}

/// The summary thread's diagnostics of one run.
pub struct Diagnoser {
    arch: Architecture,
    image: (usize, usize),
    measure: Option<UnitMeasure>,
    /// The logged step waiting for its update, with its values so far.
    pending: Option<Pending>,
    /// The kernels of the last logged step, before the optimizer's step.
    before: Vec<Vec<f32>>,
    /// The first and the last logged step, with their wall times.
    first: Option<i64>,
    last: Option<(i64, f64)>,
    /// The next step from which a gradient-flow image is due.
    next_flow_image: i64,
    /// The hidden layers' unit fractions at the last diagnosed step.
    units: Vec<f64>,
}

struct Pending {
    step: i64,
    wall_time: f64,
    values: Vec<summary::Value>,
}

impl Diagnoser {
    /// Diagnostics of a network `arch`.
    pub fn new(run: Diagnosed) -> Diagnoser {
        Diagnoser {
            arch: run.arch,
            image: run.image,
            measure: run.arch.activation.kind.unit_measure(),
            pending: None,
            before: Vec::new(),
            first: None,
            last: None,
            next_flow_image: 0,
            units: Vec::new(),
        }
    }

    /// Takes in logged step `step`: its batch `x` (`batch × inputs`), its
    /// kernels and biases before the optimizer's step and each layer's
    /// mean |grad|. Returns the event of an earlier step still pending, if
    /// any.
    pub fn observe(
        &mut self,
        step: i64,
        wall_time: f64,
        x: &Tensor,
        kernels: &[Vec<f32>],
        biases: &[Vec<f32>],
        means: &[f64],
    ) -> Result<Option<Event>> {
        let earlier = self.flush();
        let inputs = self.arch.shape.inputs;
        let layers = crate::cpu::with_f32(x, |x| {
            forward_hidden(&self.arch, x, x.len() / inputs.max(1), kernels, biases)
        })?
        .with_context(|| format!("step {step}: the diagnostics' forward pass"))?;
        let mut values = Vec::with_capacity(2 * layers.len() + kernels.len());
        self.units.clear();
        for (l, layer) in layers.iter().enumerate() {
            values.push(histogram(&tags::ACTIVATIONS.tag(l + 1), &layer.outputs).0);
            if let Some(measure) = self.measure {
                let tag = match measure {
                    UnitMeasure::Dead => tags::DEAD_FRACTION,
                    UnitMeasure::Saturated => tags::SATURATED_FRACTION,
                };
                let f = self.arch.activation;
                let fraction =
                    measure.fraction(&layer.pre_activations, layer.units, |z| f.derivative(z));
                values.push(scalar(&tag.tag(l + 1), fraction as f32));
                self.units.push(fraction);
            }
        }
        if self.first.is_none() {
            self.first = Some(step);
            values.extend(self.kernels_image(kernels));
        }
        if step >= self.next_flow_image {
            self.next_flow_image = (step / IMAGE_EVERY + 1) * IMAGE_EVERY;
            values.push(flow_image(step, means)?);
        }
        self.before.resize_with(kernels.len(), Vec::new);
        for (ours, theirs) in self.before.iter_mut().zip(kernels) {
            ours.clone_from(theirs);
        }
        self.last = Some((step, wall_time));
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
            // A step that changed nothing has no ratio (gradscope_candle's
            // definition), and no point.
            if let Some(ratio) = update_ratio(before, after) {
                pending
                    .values
                    .push(scalar(&tags::UPDATE_RATIO.tag(l + 1), ratio as f32));
            }
        }
        Some(pending.event())
    }

    /// The hidden layers' dead or saturated fractions at the last
    /// diagnosed step, if any was and the activation has the measure.
    pub fn units(&self) -> Option<UnitFractions> {
        let measure = self.measure.filter(|_| self.first.is_some())?;
        Some(UnitFractions {
            measure,
            per_layer: self.units.clone(),
        })
    }

    /// The event of the step still pending, without its update ratios.
    fn flush(&mut self) -> Option<Event> {
        self.pending.take().map(Pending::event)
    }

    /// The run's last diagnostics, once its steps are over (before its
    /// last events): the step still pending, and the first layer's kernels
    /// at the last logged step (if not the first). Empty if no step was
    /// logged since the last call.
    pub fn end(&mut self) -> Vec<Event> {
        let mut events: Vec<Event> = self.flush().into_iter().collect();
        if let Some((step, wall_time)) = self.last.take().filter(|&(s, _)| Some(s) != self.first) {
            let value = self.kernels_image(&self.before);
            events.push(summary_event(step, wall_time, value.into_iter().collect()));
        }
        events
    }

    /// The first layer's kernel as pictures, if its inputs are an image.
    fn kernels_image(&self, kernels: &[Vec<f32>]) -> Option<summary::Value> {
        let (&(_, units), first) = self.arch.shape.layer_sizes().first().zip(kernels.first())?;
        let (pixels, height, width) = unit_tiles(first, units, self.image, KERNEL_ZOOM)?;
        image(
            tags::FIRST_LAYER_KERNELS,
            &Image::hwc(pixels.as_slice(), height, width, 1),
        )
        .ok()
    }
}

/// The gradient-flow bar chart of `step`, whose layers' mean |grad| are
/// `means`.
fn flow_image(step: i64, means: &[f64]) -> Result<summary::Value> {
    let bars = [Bars {
        name: "",
        colour: FLOW_COLOUR,
        values: means,
    }];
    let caption = format!("Mean |gradient| per layer, step {step}");
    let pixels = render(FLOW_SIZE, |area| gradient_flow(area, &caption, &bars))?;
    let (width, height) = (FLOW_SIZE.0 as usize, FLOW_SIZE.1 as usize);
    Ok(image(
        tags::GRADIENT_FLOW,
        &Image::hwc(pixels.as_slice(), height, width, 3),
    )?)
}

impl Pending {
    fn event(self) -> Event {
        summary_event(self.step, self.wall_time, self.values)
    }
}
