//! The per-layer views of the MLP's logged steps (docs/views.md): written at
//! the diagnosed steps only, at most one per [`DIAGNOSE_EVERY`] iterations.
//!
//! At such a step it runs the hidden layers forward on the step's batch
//! from host copies of the kernels and biases (the training step keeps
//! nothing for this), and logs each hidden layer's activation histogram
//! and its dead or saturated fraction. It keeps the kernels until the
//! optimizer has stepped them, then logs each layer's update ratio.
//!
//! Images: the first layer's kernel as one picture per unit
//! ([`crate::figure::unit_tiles`]) at the first and the last diagnosed
//! step, and the gradient-flow bar chart ([`crate::figure::gradient_flow`])
//! at each diagnosed step. Drawing a chart takes about half a millisecond
//! and encoding it another (the writer's thread does that), which is why
//! the views are not drawn at every step of a `--log-every 1` run.

use anyhow::{Context, Result};
use candle_core::Tensor;
use gradscope_candle::units::UnitMeasure;
use gradscope_tensorboard::image::Image;
use gradscope_tensorboard::SummaryWriter;
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
/// step, on the training thread: diagnosing every 10th step had cost
/// `--log-every 1` 1.18x the time of `--log-every 200` (target 3 is 1.1x).
pub const DIAGNOSE_EVERY: usize = crate::train::defaults::LOG_EVERY;
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

/// The per-layer views of one run.
pub struct Views {
    arch: Architecture,
    image: (usize, usize),
    measure: Option<UnitMeasure>,
    /// The kernels of the last diagnosed step, before the optimizer's step.
    before: Vec<Vec<f32>>,
    /// The first and the last diagnosed step.
    first: Option<usize>,
    last: Option<usize>,
    /// The hidden layers' unit fractions at the last diagnosed step.
    units: Vec<f64>,
}

/// [`Views::saved`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ViewsState {
    /// The first and the last diagnosed step.
    pub first: Option<usize>,
    pub last: Option<usize>,
    /// The hidden layers' unit fractions at the last diagnosed step.
    pub units: Vec<f64>,
    /// The first layer's kernel at the last diagnosed step, before its
    /// optimizer step (empty before any).
    pub last_first_kernel: Vec<f32>,
}

impl Views {
    /// The views of a network `arch`.
    pub fn new(run: Diagnosed) -> Views {
        Views {
            arch: run.arch,
            image: run.image,
            measure: run.arch.activation.kind.unit_measure(),
            before: Vec::new(),
            first: None,
            last: None,
            units: Vec::new(),
        }
    }

    /// Logs diagnosed step `step` to `writer`: its batch `x` (`batch ×
    /// inputs`), its kernels and biases before the optimizer's step and
    /// each layer's mean |grad|.
    pub fn observe(
        &mut self,
        writer: &SummaryWriter,
        step: usize,
        x: &Tensor,
        kernels: Vec<Vec<f32>>,
        biases: &[Vec<f32>],
        means: &[f64],
    ) -> Result<()> {
        let inputs = self.arch.shape.inputs;
        let layers = crate::cpu::with_f32(x, |x| {
            forward_hidden(&self.arch, x, x.len() / inputs.max(1), &kernels, biases)
        })?
        .with_context(|| format!("step {step}: the views' forward pass"))?;
        self.units.clear();
        for (l, layer) in layers.into_iter().enumerate() {
            if let Some(measure) = self.measure {
                let tag = match measure {
                    UnitMeasure::Dead => tags::DEAD_FRACTION,
                    UnitMeasure::Saturated => tags::SATURATED_FRACTION,
                };
                let f = self.arch.activation;
                let fraction =
                    measure.fraction(&layer.pre_activations, layer.units, |z| f.derivative(z));
                writer.add_scalar(&tag.tag(l + 1), fraction, step)?;
                self.units.push(fraction);
            }
            writer.add_histogram(&tags::ACTIVATIONS.tag(l + 1), layer.outputs, step)?;
        }
        if self.first.is_none() {
            self.first = Some(step);
            self.write_kernels_image(writer, &kernels, step)?;
        }
        flow_image(writer, step, means)?;
        self.before = kernels;
        self.last = Some(step);
        Ok(())
    }

    /// The optimizer has stepped the kernels of diagnosed step `step` to
    /// `after`: every layer's update ratio.
    pub fn stepped(
        &mut self,
        writer: &SummaryWriter,
        step: usize,
        after: &[Vec<f32>],
    ) -> Result<()> {
        for (l, (before, after)) in self.before.iter().zip(after).enumerate() {
            // A step that changed nothing has no ratio (gradscope_candle's
            // definition), and no point.
            if let Some(ratio) = update_ratio(before, after) {
                writer.add_scalar(&tags::UPDATE_RATIO.tag(l + 1), ratio, step)?;
            }
        }
        Ok(())
    }

    /// What the views carry from one diagnosed step to the next and to the
    /// run's end: what a resumed run needs to continue them exactly.
    pub fn saved(&self) -> ViewsState {
        ViewsState {
            first: self.first,
            last: self.last,
            units: self.units.clone(),
            last_first_kernel: self.before.first().cloned().unwrap_or_default(),
        }
    }

    /// Continues from `state` ([`saved`](Self::saved)).
    pub fn resume(&mut self, state: ViewsState) {
        self.first = state.first;
        self.last = state.last;
        self.units = state.units;
        // Only the first layer's is read after its step: by `end`.
        self.before = vec![state.last_first_kernel];
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

    /// The run's last view, once its steps are over (before its last
    /// events): the first layer's kernels at the last diagnosed step, if
    /// it was not the first.
    pub fn end(&mut self, writer: &SummaryWriter) -> Result<()> {
        if let Some(step) = self.last.take().filter(|&s| Some(s) != self.first) {
            self.write_kernels_image(writer, &self.before, step)?;
        }
        Ok(())
    }

    /// The first layer's kernel as pictures, if its inputs are an image.
    fn write_kernels_image(
        &self,
        writer: &SummaryWriter,
        kernels: &[Vec<f32>],
        step: usize,
    ) -> Result<()> {
        let Some((&(_, units), first)) = self.arch.shape.layer_sizes().first().zip(kernels.first())
        else {
            return Ok(());
        };
        if let Some((pixels, height, width)) = unit_tiles(first, units, self.image, KERNEL_ZOOM) {
            let image = Image::hwc(pixels.as_slice(), height, width, 1);
            writer.add_image(tags::FIRST_LAYER_KERNELS, &image, step)?;
        }
        Ok(())
    }
}

/// The gradient-flow bar chart of `step`, whose layers' mean |grad| are
/// `means`.
fn flow_image(writer: &SummaryWriter, step: usize, means: &[f64]) -> Result<()> {
    let bars = [Bars {
        name: "",
        colour: FLOW_COLOUR,
        values: means,
    }];
    let caption = format!("Mean |gradient| per layer, step {step}");
    let pixels = render(FLOW_SIZE, |area| gradient_flow(area, &caption, &bars))?;
    let (width, height) = (FLOW_SIZE.0 as usize, FLOW_SIZE.1 as usize);
    let image = Image::hwc(pixels.as_slice(), height, width, 3);
    writer.add_image(tags::GRADIENT_FLOW, &image, step)?;
    Ok(())
}
