//! Where a divergence began: the first non-finite value of the iteration
//! whose loss or gradient turned non-finite ([`super::divergence`]).
//!
//! The training step keeps nothing for this, and checks nothing beyond the
//! loss and the parameters' gradients (which it always did). Only once a run
//! has diverged, [`locate`] re-runs that iteration on host copies of the
//! weights it used (the optimizer has not stepped them) and of its batch,
//! layer by layer, in the order the values are computed, and stops at the
//! first that is NaN or infinite:
//!
//! 1. the parameters themselves (a kernel or bias already non-finite);
//! 2. forward, per layer from the input: the pre-activation `x·W + b`, the
//!    activation (with a skip connection, the layer's output after adding
//!    its input back); then the logits and the per-example losses;
//! 3. backward, from the output layer down: the logits' gradient, then per
//!    layer its kernel's and bias's gradients and the gradient reaching the
//!    layer below's activation, and that layer's pre-activation gradient.
//!
//! A recurrent run ([`locate_recurrent`]) is located by time step: its
//! parameters, its hidden states h_1..h_T, the logits and the losses, then
//! dL/dh_t from t = T down.
//!
//! The products use the same gemm as the fused layers, so an overflow the
//! training step met is met here too; one that only a different order of
//! additions would meet (a value within rounding of f32's largest) may not
//! be, and then nothing is located, which the run's message says.

use std::fmt;

use candle_core::{Device, Tensor};

use crate::model::dense::{product, Matrix};
use crate::model::sequence_op::TimeGrads;
use crate::model::{Mlp, Recurrent};

/// Forward or backward.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    Forward,
    Backward,
}

/// Which value of an iteration turned non-finite first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Site {
    /// A layer's kernel, before the iteration's forward pass.
    Kernel,
    /// A layer's bias, likewise.
    Bias,
    /// `x·W + b` of a hidden layer.
    PreActivation,
    /// A hidden layer's output `f(x·W + b)` (plus its input, with a skip
    /// connection).
    Activation,
    /// The output layer's `x·W + b`.
    Logits,
    /// The cross-entropy of an example, or their mean.
    Loss,
    /// dLoss/dlogits.
    LogitsGradient,
    /// dLoss/d(a hidden layer's output).
    ActivationGradient,
    /// dLoss/d(a hidden layer's pre-activation).
    PreActivationGradient,
    /// dLoss/dW of a layer's kernel.
    KernelGradient,
    /// dLoss/db of a layer's bias.
    BiasGradient,
    /// A recurrent network's parameter, by its name, before the
    /// iteration's forward pass.
    Parameter(&'static str),
    /// A recurrent network's hidden state h_t.
    HiddenState,
    /// dLoss/dh_t.
    HiddenStateGradient,
}

impl Site {
    /// The pass the value belongs to (the parameters: before the forward).
    pub fn pass(self) -> Pass {
        match self {
            Site::Kernel
            | Site::Bias
            | Site::Parameter(_)
            | Site::HiddenState
            | Site::PreActivation
            | Site::Activation
            | Site::Logits
            | Site::Loss => Pass::Forward,
            _ => Pass::Backward,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Site::Kernel => "kernel",
            Site::Bias => "bias",
            Site::PreActivation => "pre-activation",
            Site::Activation => "activation",
            Site::Logits => "logits",
            Site::Loss => "loss",
            Site::LogitsGradient => "logits' gradient",
            Site::ActivationGradient => "activation's gradient",
            Site::PreActivationGradient => "pre-activation's gradient",
            Site::KernelGradient => "kernel gradient",
            Site::BiasGradient => "bias gradient",
            Site::Parameter(name) => name,
            Site::HiddenState => "hidden state",
            Site::HiddenStateGradient => "hidden state's gradient",
        }
    }
}

/// The first non-finite value of a diverged iteration.
#[derive(Debug, Clone, PartialEq)]
pub struct Origin {
    pub iteration: usize,
    /// Counting from 1 at the input, as the tags do; `None` for the loss.
    pub layer: Option<usize>,
    /// A recurrent run's time step t (from 1) of a hidden state or its
    /// gradient.
    pub time_step: Option<usize>,
    pub site: Site,
    /// The first non-finite value (NaN, inf or -inf), in row-major order.
    pub value: f32,
    /// The largest finite |value| of the same quantity (`None` if none is
    /// finite): how close to f32's limit (3.4e38) the rest of it came.
    pub largest_finite: Option<f32>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whose = match (self.layer, self.time_step) {
            (_, Some(t)) => format!("time step {t}'s"),
            (Some(layer), None) => format!("layer {layer}'s"),
            (None, None) => "the".to_string(),
        };
        let name = self.site.name();
        let what = if self.value.is_nan() {
            "became NaN".to_string()
        } else {
            format!("overflowed to {}", self.value)
        };
        let i = self.iteration;
        match self.site {
            Site::Kernel | Site::Bias | Site::Parameter(_) => write!(
                f,
                "{whose} {name} already held {} when iteration {i} began (its last update \
                 made it so)",
                self.value
            )?,
            site => {
                let pass = match site.pass() {
                    Pass::Forward => "forward",
                    Pass::Backward => "backward",
                };
                write!(
                    f,
                    "{whose} {name} {what} in the {pass} pass at iteration {i}"
                )?;
            }
        }
        match self.largest_finite {
            Some(largest) => write!(f, " (largest finite |value| {largest:.1e})"),
            None => write!(f, " (no finite value)"),
        }
    }
}

/// What a diverged run says of where its divergence began.
#[derive(Debug, Clone, PartialEq)]
pub enum Located {
    /// The first non-finite value.
    Found(Origin),
    /// Re-run on the host, every value of the iteration was finite (see
    /// the module's note on rounding).
    NotReproduced,
    /// Not looked for, or the re-run failed: why.
    Unknown(String),
}

impl Located {
    /// `locate`'s answer, its failure kept as the reason.
    pub fn new(located: Result<Option<Origin>, LocateError>) -> Located {
        match located {
            Ok(Some(origin)) => Located::Found(origin),
            Ok(None) => Located::NotReproduced,
            Err(e) => Located::Unknown(e.to_string()),
        }
    }
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Located::Found(origin) => write!(f, "the first non-finite value: {origin}"),
            Located::NotReproduced => write!(
                f,
                "re-run on host copies of its weights, every value of the iteration stayed                  finite (a value within rounding of f32's limit)"
            ),
            Located::Unknown(why) => write!(f, "where it began is not known: {why}"),
        }
    }
}

/// Why [`locate`] could not re-run the iteration.
#[derive(Debug)]
pub struct LocateError(String);

impl fmt::Display for LocateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "locating the divergence: {}", self.0)
    }
}

impl std::error::Error for LocateError {}

impl From<candle_core::Error> for LocateError {
    fn from(e: candle_core::Error) -> LocateError {
        LocateError(e.to_string())
    }
}

/// The first non-finite value of iteration `iteration` of `model` on the
/// batch `x` (`batch × inputs`) with `labels`, the model's parameters as
/// they were for that iteration; `None` if every value is finite on the
/// host (see the module's note on rounding).
pub fn locate(
    model: &Mlp,
    x: &Tensor,
    labels: &[u32],
    iteration: usize,
) -> Result<Option<Origin>, LocateError> {
    let host = |t: &Tensor| -> Result<Vec<f32>, LocateError> {
        Ok(t.flatten_all()?.to_device(&Device::Cpu)?.to_vec1::<f32>()?)
    };
    let kernels = model
        .layers
        .iter()
        .map(|l| host(l.kernel.as_tensor()))
        .collect::<Result<Vec<_>, _>>()?;
    let biases = model
        .layers
        .iter()
        .map(|l| host(l.bias.as_tensor()))
        .collect::<Result<Vec<_>, _>>()?;
    let x = host(x)?;
    let network = HostNetwork {
        model,
        kernels: &kernels,
        biases: &biases,
    };
    let mut found = None;
    network.walk(&x, labels, &mut |layer, site, values| {
        found = non_finite(values).map(|(value, largest_finite)| Origin {
            iteration,
            layer,
            time_step: None,
            site,
            value,
            largest_finite,
        });
        found.is_some()
    })?;
    Ok(found)
}

/// The mean cross-entropy of `logits` (`batch × classes`) against
/// `labels`: each example's loss, and the mean's gradient with respect to
/// the logits, (softmax - one-hot) / batch.
fn cross_entropy(
    logits: &[f32],
    labels: &[u32],
    classes: usize,
) -> Result<(Vec<f32>, Vec<f32>), LocateError> {
    let batch = labels.len();
    if logits.len() != batch * classes {
        return Err(LocateError(format!(
            "{} logits for {batch} examples of {classes} classes",
            logits.len()
        )));
    }
    let mut losses = Vec::with_capacity(batch);
    let mut grad = vec![0f32; logits.len()];
    for ((row, &label), g) in logits
        .chunks_exact(classes)
        .zip(labels)
        .zip(grad.chunks_exact_mut(classes))
    {
        let label = label as usize;
        if label >= classes {
            return Err(LocateError(format!("label {label} of {classes} classes")));
        }
        let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        let sum: f32 = row.iter().map(|&v| (v - max).exp()).sum();
        losses.push(max + sum.ln() - row[label]);
        for (c, (g, &v)) in g.iter_mut().zip(row).enumerate() {
            let one_hot = if c == label { 1.0 } else { 0.0 };
            *g = ((v - max).exp() / sum - one_hot) / batch as f32;
        }
    }
    Ok((losses, grad))
}

/// [`locate`] for a recurrent run's iteration `iteration` on the batch
/// `x` (`batch × steps × inputs`) with `labels`: its parameters (layer 1
/// the recurrent layer, 2 the head), forward its hidden states h_1..h_T
/// (by candle's standard ops, step by step), the logits and the losses;
/// backward the logits' gradient, then dL/dh_t from t = T down, as the
/// iteration's own backward pass through the fused op left them in
/// `time_grads`.
pub fn locate_recurrent(
    model: &Recurrent,
    x: &Tensor,
    labels: &[u32],
    time_grads: &TimeGrads,
    iteration: usize,
) -> Result<Option<Origin>, LocateError> {
    let host = |t: &Tensor| -> Result<Vec<f32>, LocateError> {
        Ok(t.flatten_all()?.to_device(&Device::Cpu)?.to_vec1::<f32>()?)
    };
    let found = |layer, time_step, site, values: &[f32]| {
        non_finite(values).map(|(value, largest_finite)| Origin {
            iteration,
            layer: Some(layer),
            time_step,
            site,
            value,
            largest_finite,
        })
    };
    for (name, var) in model.named_vars() {
        let layer = if name.starts_with("head") { 2 } else { 1 };
        if let Some(origin) = found(layer, None, Site::Parameter(name), &host(&var)?) {
            return Ok(Some(origin));
        }
    }
    let (states, logits) = model.hidden_states(x)?;
    for (t, h) in states.iter().enumerate() {
        if let Some(origin) = found(1, Some(t + 1), Site::HiddenState, &host(h)?) {
            return Ok(Some(origin));
        }
    }
    let logits = host(&logits)?;
    if let Some(origin) = found(2, None, Site::Logits, &logits) {
        return Ok(Some(origin));
    }
    let (losses, grad) = cross_entropy(&logits, labels, model.shape.outputs)?;
    let mean = losses.iter().sum::<f32>() / labels.len().max(1) as f32;
    if let Some(mut origin) =
        found(2, None, Site::Loss, &losses).or_else(|| found(2, None, Site::Loss, &[mean]))
    {
        origin.layer = None;
        return Ok(Some(origin));
    }
    if let Some(origin) = found(2, None, Site::LogitsGradient, &grad) {
        return Ok(Some(origin));
    }
    if let Some(values) = time_grads.values() {
        let steps = states.len().max(1);
        let per_step = values.len() / steps;
        for (t, g) in values.chunks_exact(per_step.max(1)).enumerate().rev() {
            if let Some(origin) = found(1, Some(t + 1), Site::HiddenStateGradient, g) {
                return Ok(Some(origin));
            }
        }
    }
    Ok(None)
}

struct HostNetwork<'a> {
    model: &'a Mlp,
    kernels: &'a [Vec<f32>],
    biases: &'a [Vec<f32>],
}

/// `Some` with the first non-finite value of `values` and their largest
/// finite magnitude, if any is not finite.
fn non_finite(values: &[f32]) -> Option<(f32, Option<f32>)> {
    let first = *values.iter().find(|v| !v.is_finite())?;
    let largest = values
        .iter()
        .filter(|v| v.is_finite())
        .map(|v| v.abs())
        .fold(None, |m: Option<f32>, v| Some(m.map_or(v, |m| m.max(v))));
    Some((first, largest))
}

/// Called with each value of the iteration in the order it is computed:
/// its layer (from 1; `None` for the loss), what it is and its values.
/// Returns whether to stop there.
type Visit<'v> = dyn FnMut(Option<usize>, Site, &[f32]) -> bool + 'v;

impl HostNetwork<'_> {
    /// Runs the iteration on the batch `x` with `labels`, handing `visit`
    /// each value until it says stop.
    fn walk(&self, x: &[f32], labels: &[u32], visit: &mut Visit) -> Result<(), LocateError> {
        let arch = &self.model.arch;
        let sizes = arch.shape.layer_sizes();
        let layers = sizes.len();
        let batch = labels.len();
        if x.len() != batch * arch.shape.inputs
            || self.kernels.len() != layers
            || self.biases.len() != layers
        {
            return Err(LocateError(format!(
                "{} inputs for a batch of {batch} through {layers} layers",
                x.len()
            )));
        }
        for (l, (kernel, bias)) in self.kernels.iter().zip(self.biases).enumerate() {
            if visit(Some(l + 1), Site::Kernel, kernel) || visit(Some(l + 1), Site::Bias, bias) {
                return Ok(());
            }
        }

        // Forward: each layer's input (`inputs[l]`) and pre-activation.
        let mut inputs: Vec<Vec<f32>> = vec![x.to_vec()];
        let mut pre: Vec<Vec<f32>> = Vec::with_capacity(layers);
        for (l, &(fan_in, fan_out)) in sizes.iter().enumerate() {
            let input = &inputs[l];
            let mut z = product(
                Matrix::new(input, batch, fan_in),
                Matrix::new(&self.kernels[l], fan_in, fan_out),
            );
            for row in z.chunks_exact_mut(fan_out) {
                for (v, b) in row.iter_mut().zip(&self.biases[l]) {
                    *v += b;
                }
            }
            let last = l + 1 == layers;
            let site = if last {
                Site::Logits
            } else {
                Site::PreActivation
            };
            if visit(Some(l + 1), site, &z) {
                return Ok(());
            }
            if !last {
                let mut out = arch.activation.values(&z);
                if arch.residual && l > 0 {
                    for (o, h) in out.iter_mut().zip(input) {
                        *o += h;
                    }
                }
                if visit(Some(l + 1), Site::Activation, &out) {
                    return Ok(());
                }
                inputs.push(out);
            }
            pre.push(z);
        }

        let classes = sizes[layers - 1].1;
        let (losses, mut grad) = cross_entropy(&pre[layers - 1], labels, classes)?;
        let mean = losses.iter().sum::<f32>() / batch.max(1) as f32;
        if visit(None, Site::Loss, &losses)
            || visit(None, Site::Loss, &[mean])
            || visit(Some(layers), Site::LogitsGradient, &grad)
        {
            return Ok(());
        }

        // Backward, from the output layer down; `grad` is dLoss/d(layer
        // l's pre-activation), `skip` what a skip connection passes down.
        let mut skip: Option<Vec<f32>> = None;
        for l in (0..layers).rev() {
            let (fan_in, fan_out) = sizes[l];
            let kernel_grad = product(
                Matrix::new(&inputs[l], batch, fan_in).t(),
                Matrix::new(&grad, batch, fan_out),
            );
            if visit(Some(l + 1), Site::KernelGradient, &kernel_grad) {
                return Ok(());
            }
            let mut bias_grad = vec![0f32; fan_out];
            for row in grad.chunks_exact(fan_out) {
                for (b, g) in bias_grad.iter_mut().zip(row) {
                    *b += g;
                }
            }
            if visit(Some(l + 1), Site::BiasGradient, &bias_grad) || l == 0 {
                return Ok(());
            }
            // dLoss/d(layer l's input), the output of layer l - 1 (counted
            // from 0): through the kernel, plus what skips past layer l.
            let mut below = product(
                Matrix::new(&grad, batch, fan_out),
                Matrix::new(&self.kernels[l], fan_in, fan_out).t(),
            );
            if let Some(skip) = skip.take() {
                for (b, s) in below.iter_mut().zip(&skip) {
                    *b += s;
                }
            }
            if visit(Some(l), Site::ActivationGradient, &below) {
                return Ok(());
            }
            grad = arch.activation.gradients(&pre[l - 1], &below);
            if visit(Some(l), Site::PreActivationGradient, &grad) {
                return Ok(());
            }
            // Layer l - 1 (from 0) added its input back: the gradient of
            // its output reaches that input too.
            if arch.residual && l > 1 {
                skip = Some(below);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Activation, ActivationFn, Architecture, Init, Shape};
    use candle_core::Var;

    fn model(activation: Activation, residual: bool) -> Mlp {
        let arch = Architecture {
            shape: Shape {
                inputs: 6,
                hidden: 4,
                outputs: 3,
                layers: 4,
            },
            activation: ActivationFn::new(activation, 0.2),
            residual,
        };
        Mlp::new(arch, Init::GlorotUniform, 5, &Device::Cpu).unwrap()
    }

    fn batch() -> (Tensor, Vec<u32>) {
        let x: Vec<f32> = (0..5 * 6).map(|i| (i as f32 * 0.41).sin().abs()).collect();
        let x = Tensor::from_vec(x, (5, 6), &Device::Cpu).unwrap();
        (x, vec![0, 2, 1, 1, 0])
    }

    fn set(var: &Var, f: impl Fn(usize, usize) -> f32) {
        let (rows, cols) = match var.dims() {
            [r, c] => (*r, *c),
            [c] => (1, *c),
            _ => panic!("a matrix or a vector"),
        };
        let values: Vec<f32> = (0..rows * cols).map(|i| f(i / cols, i % cols)).collect();
        let t = Tensor::from_vec(values, var.shape(), &Device::Cpu).unwrap();
        var.set(&t).unwrap();
    }

    /// A healthy network has no origin, and the host pass is the model's:
    /// its kernel and bias gradients are autograd's through the fused
    /// layers and loss, skip connections included.
    #[test]
    fn a_finite_iteration_has_no_origin_and_the_models_gradients() {
        for residual in [false, true] {
            let m = model(Activation::Tanh, residual);
            let (x, labels) = batch();
            assert_eq!(locate(&m, &x, &labels, 3).unwrap(), None);

            let y = Tensor::new(labels.as_slice(), &Device::Cpu).unwrap();
            let logits = m.forward(&x).unwrap();
            let grads = crate::train::loss::cross_entropy(&logits, &y)
                .unwrap()
                .backward()
                .unwrap();
            let host = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let kernels: Vec<_> = m.layers.iter().map(|l| host(&l.kernel)).collect();
            let biases: Vec<_> = m.layers.iter().map(|l| host(&l.bias)).collect();
            let network = HostNetwork {
                model: &m,
                kernels: &kernels,
                biases: &biases,
            };
            let mut seen = 0;
            network
                .walk(&host(&x), &labels, &mut |layer, site, values| {
                    let var = match site {
                        Site::KernelGradient => &m.layers[layer.unwrap() - 1].kernel,
                        Site::BiasGradient => &m.layers[layer.unwrap() - 1].bias,
                        _ => return false,
                    };
                    let want = host(grads.get(var.as_tensor()).unwrap());
                    for (a, b) in values.iter().zip(&want) {
                        assert!(
                            (a - b).abs() <= 1e-5,
                            "{site:?} {layer:?}: {values:?} vs {want:?}"
                        );
                    }
                    assert_eq!(values.len(), want.len());
                    seen += 1;
                    false
                })
                .unwrap();
            assert_eq!(seen, 8, "every layer's kernel and bias gradients");
        }
    }

    #[test]
    fn a_parameter_already_non_finite_is_named() {
        let m = model(Activation::Relu, false);
        set(
            &m.layers[2].bias,
            |_, c| if c == 1 { f32::NAN } else { 0.0 },
        );
        let (x, labels) = batch();
        let origin = locate(&m, &x, &labels, 7).unwrap().unwrap();
        assert_eq!((origin.layer, origin.site), (Some(3), Site::Bias));
        assert!(origin.value.is_nan());
        assert_eq!(origin.largest_finite, Some(0.0));
        let text = origin.to_string();
        assert!(
            text.contains("layer 3's bias already held NaN when iteration 7"),
            "{text}"
        );
    }

    /// A huge column in layer 2's kernel: its pre-activation overflows for
    /// that unit (sigmoid's outputs are all positive), the other units'
    /// stay finite.
    #[test]
    fn a_forward_overflow_is_located_at_its_layer() {
        let m = model(Activation::Sigmoid, false);
        set(&m.layers[1].kernel, |_, c| if c == 0 { 3e38 } else { 0.5 });
        let (x, labels) = batch();
        let origin = locate(&m, &x, &labels, 1).unwrap().unwrap();
        assert_eq!(origin.layer, Some(2));
        assert_eq!(origin.site, Site::PreActivation);
        assert_eq!(origin.site.pass(), Pass::Forward);
        assert_eq!(origin.value, f32::INFINITY);
        let largest = origin.largest_finite.unwrap();
        assert!(largest > 0.0 && largest < 10.0, "{largest}");
        let text = origin.to_string();
        assert!(
            text.starts_with("layer 2's pre-activation overflowed to inf in the forward pass at iteration 1 (largest finite |value| "),
            "{text}"
        );
    }

    /// Layer 2's outputs all zero (zero kernel and bias, tanh(0) = 0) hide
    /// a huge layer 3 from the forward pass, but the gradient through it
    /// overflows: located as the gradient reaching layer 2's activation.
    #[test]
    fn a_backward_overflow_is_located_at_its_layer() {
        let m = model(Activation::Tanh, false);
        set(&m.layers[1].kernel, |_, _| 0.0);
        set(&m.layers[2].kernel, |_, _| 1e30);
        set(&m.layers[3].kernel, |_, c| if c == 0 { 1e30 } else { 0.0 });
        let (x, labels) = batch();
        let origin = locate(&m, &x, &labels, 0).unwrap().unwrap();
        assert_eq!(origin.layer, Some(2), "{origin}");
        assert_eq!(origin.site, Site::ActivationGradient, "{origin}");
        assert_eq!(origin.site.pass(), Pass::Backward);
        assert!(origin.value.is_infinite());
        let text = origin.to_string();
        assert!(
            text.contains("layer 2's activation's gradient overflowed to")
                && text.contains("in the backward pass at iteration 0"),
            "{text}"
        );
    }

    /// A recurrent network of 16 units over 8 steps of 6 inputs.
    fn recurrent(cell: crate::model::Cell) -> Recurrent {
        let shape = crate::model::RecurrentShape {
            cell,
            inputs: 6,
            hidden: 16,
            outputs: 3,
        };
        Recurrent::new(shape, Init::TorchUniform, 2, &Device::Cpu).unwrap()
    }

    /// The recurrent run's own forward and backward, then the locator.
    fn locate_in(model: &Recurrent, x: Vec<f32>) -> Option<Origin> {
        let x = Tensor::from_vec(x, (5, 8, 6), &Device::Cpu).unwrap();
        let labels = vec![0u32, 2, 1, 1, 0];
        let y = Tensor::new(labels.as_slice(), &Device::Cpu).unwrap();
        let time_grads = TimeGrads::default();
        crate::train::recurrent::forward_backward(model, &x, &y, &time_grads).unwrap();
        locate_recurrent(model, &x, &labels, &time_grads, 4).unwrap()
    }

    fn inputs() -> Vec<f32> {
        (0..5 * 8 * 6).map(|i| (i as f32 * 0.3).cos()).collect()
    }

    /// A NaN in every sequence's step 5: the hidden state at step 5 is the
    /// first non-finite value, for each cell.
    #[test]
    fn a_recurrent_forward_nan_is_located_at_its_time_step() {
        for cell in [
            crate::model::Cell::Rnn,
            crate::model::Cell::Lstm,
            crate::model::Cell::Gru,
        ] {
            let model = recurrent(cell);
            assert_eq!(locate_in(&model, inputs()), None, "{cell:?}");
            let mut x = inputs();
            for b in 0..5 {
                x[(b * 8 + 4) * 6 + 2] = f32::NAN;
            }
            let origin = locate_in(&model, x).unwrap();
            assert_eq!(
                (origin.time_step, origin.site, origin.layer),
                (Some(5), Site::HiddenState, Some(1)),
                "{cell:?}: {origin}"
            );
            let text = origin.to_string();
            assert!(
                text.starts_with(
                    "time step 5's hidden state became NaN in the forward pass at iteration 4"
                ),
                "{text}"
            );
        }
    }

    /// Zero input weights keep every hidden state at 0 (tanh(0)), so the
    /// forward pass is finite whatever the recurrent kernel; the head's
    /// huge column sends back dL/dh_8 of about 1e28, and each step back
    /// through a recurrent kernel of 1e5 (16 units) multiplies it by about
    /// 1.6e6: finite at step 7 (below 1e36), overflowed at step 6.
    #[test]
    fn a_recurrent_backward_overflow_is_located_at_its_time_step() {
        let model = recurrent(crate::model::Cell::Rnn);
        let zero = |v: &candle_core::Var| set(v, |_, _| 0.0);
        zero(&model.weight_ih);
        zero(&model.bias_ih);
        zero(&model.bias_hh);
        set(&model.weight_hh, |_, _| 1e5);
        set(&model.head_weight, |r, _| if r == 0 { 1e30 } else { 0.0 });
        let origin = locate_in(&model, inputs()).unwrap();
        assert_eq!(
            (origin.time_step, origin.site, origin.site.pass()),
            (Some(6), Site::HiddenStateGradient, Pass::Backward),
            "{origin}"
        );
        assert!(!origin.value.is_finite());
        let text = origin.to_string();
        assert!(
            text.starts_with("time step 6's hidden state's gradient "),
            "{text}"
        );
    }

    #[test]
    fn a_recurrent_parameter_already_non_finite_is_named() {
        let model = recurrent(crate::model::Cell::Gru);
        set(
            &model.bias_hh,
            |_, c| if c == 3 { f32::INFINITY } else { 0.0 },
        );
        let origin = locate_in(&model, inputs()).unwrap();
        assert_eq!(
            (origin.layer, origin.site),
            (Some(1), Site::Parameter("bias_hh_l0"))
        );
        assert!(origin
            .to_string()
            .starts_with("layer 1's bias_hh_l0 already held inf"));
    }
}
