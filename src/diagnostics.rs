//! Per-layer diagnostics of a logged step, defined once: what the
//! summary thread logs as `dead_fraction_i`, `saturated_fraction_i`,
//! `update_ratio_i` and `activations_i` ([`crate::tags`]), and what the
//! diagnosis in words ([`crate::diagnosis`]) judges.
//!
//! The hidden layers' activations come from a forward pass on host copies
//! of the step's batch, kernels and biases ([`forward_hidden`]), so the
//! training step itself keeps nothing for them.
//!
//! ```
//! use gradscope::diagnostics::{dead_fraction, update_ratio};
//! // Two examples, two units: the second unit is never positive.
//! assert_eq!(dead_fraction(&[0.5, -1.0, -0.2, 0.0], 2), 0.5);
//! // A step a hundredth of the weights' size.
//! assert!((update_ratio(&[3.0, 4.0], &[3.03, 4.04]) - -2.0).abs() < 1e-4);
//! ```

use std::fmt;

use crate::model::dense::host_product;
use crate::model::{Activation, ActivationFn, Architecture};

/// A unit is saturated on an example when the activation's derivative there
/// is below this fraction of the derivative's maximum (0.25 for sigmoid, 1
/// for tanh, both at 0).
pub const SATURATION_THRESHOLD: f64 = 0.01;

/// Which of the unit measures an activation gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitMeasure {
    /// The ReLU family (ReLU, leaky ReLU, ELU, SELU, GELU, softplus): a unit
    /// is dead on a batch when its pre-activation is at most 0 for every
    /// example ([`dead_fraction`]).
    Dead,
    /// Sigmoid and tanh: a unit is saturated on a batch when its derivative
    /// is below [`SATURATION_THRESHOLD`] of its maximum for every example
    /// ([`saturated_fraction`]).
    Saturated,
}

impl UnitMeasure {
    /// The measure that means something for `kind`; none for the identity.
    ///
    /// ```
    /// use gradscope::diagnostics::UnitMeasure;
    /// use gradscope::model::Activation;
    /// assert_eq!(UnitMeasure::of(Activation::Tanh), Some(UnitMeasure::Saturated));
    /// assert_eq!(UnitMeasure::of(Activation::Linear), None);
    /// ```
    pub fn of(kind: Activation) -> Option<UnitMeasure> {
        match kind {
            Activation::Sigmoid | Activation::Tanh => Some(UnitMeasure::Saturated),
            Activation::Relu
            | Activation::LeakyRelu
            | Activation::Elu
            | Activation::Selu
            | Activation::Gelu
            | Activation::Softplus => Some(UnitMeasure::Dead),
            Activation::Linear => None,
        }
    }

    /// The fraction of the layer's units this measure finds on the batch
    /// whose pre-activations are `z` (`batch × units`, row-major).
    pub fn fraction(self, z: &[f32], units: usize, f: ActivationFn) -> f64 {
        match self {
            UnitMeasure::Dead => dead_fraction(z, units),
            UnitMeasure::Saturated => saturated_fraction(z, units, f),
        }
    }

    /// What a unit found by this measure is called: "dead", "saturated".
    pub fn word(self) -> &'static str {
        match self {
            UnitMeasure::Dead => "dead",
            UnitMeasure::Saturated => "saturated",
        }
    }
}

/// The fraction of columns (units) of `z` (`batch × units`, row-major)
/// where every row satisfies `inactive`. 0 for no units.
fn fraction_of_units(z: &[f32], units: usize, inactive: impl Fn(f32) -> bool) -> f64 {
    if units == 0 || z.is_empty() {
        return 0.0;
    }
    let mut all = vec![true; units];
    for row in z.chunks_exact(units) {
        for (all, &v) in all.iter_mut().zip(row) {
            *all &= inactive(v);
        }
    }
    all.iter().filter(|&&a| a).count() as f64 / units as f64
}

/// The fraction of units dead on the batch: pre-activation at most 0 (or
/// NaN) for every example, so the unit passes no signal forward and (for
/// ReLU) no gradient back.
pub fn dead_fraction(z: &[f32], units: usize) -> f64 {
    fraction_of_units(z, units, |v| v.is_nan() || v <= 0.0)
}

/// The fraction of units saturated on the batch: `f'(z)` below
/// [`SATURATION_THRESHOLD`] of `f'`'s maximum (`f'(0)` for sigmoid and
/// tanh) for every example.
///
/// ```
/// use gradscope::diagnostics::saturated_fraction;
/// use gradscope::model::{Activation, ActivationFn};
/// let sigmoid = ActivationFn::new(Activation::Sigmoid, 0.0);
/// // sigmoid'(6) = 0.0025 < 1% of 0.25; sigmoid'(4) = 0.018 is not.
/// assert_eq!(saturated_fraction(&[6.0, 4.0, -7.0, 9.0], 2, sigmoid), 0.5);
/// ```
pub fn saturated_fraction(z: &[f32], units: usize, f: ActivationFn) -> f64 {
    let bound = saturation_bound(f);
    fraction_of_units(z, units, |v| f64::from(v).abs() > bound)
}

/// The |z| beyond which `f'(z)` is below [`SATURATION_THRESHOLD`] of
/// `f'(0)`, for a derivative that is even and falls with |z| (sigmoid,
/// tanh): found once by bisection, so that a batch's units are compared
/// with it instead of each computing an exponential.
fn saturation_bound(f: ActivationFn) -> f64 {
    let threshold = SATURATION_THRESHOLD * f.derivative(0.0);
    let (mut low, mut high) = (0.0f64, 64.0f64);
    for _ in 0..60 {
        let mid = 0.5 * (low + high);
        if f.derivative(mid) < threshold {
            high = mid;
        } else {
            low = mid;
        }
    }
    low
}

/// log10(‖after − before‖ / ‖before‖) (Frobenius norms): the size of an
/// optimizer step relative to the weights it changed. About -3 is the usual
/// healthy figure; much lower, the layer barely learns; near 0, each step
/// rewrites the layer. -inf for a step that changed nothing.
pub fn update_ratio(before: &[f32], after: &[f32]) -> f64 {
    // Eight f32 lanes, which the compiler vectorises (f64 in one sum took
    // 8 µs for the default network's kernels at every logged step); the
    // rounding is far below what a log10 shows.
    const LANES: usize = 8;
    let (mut step, mut size) = ([0f32; LANES], [0f32; LANES]);
    let pairs = before.chunks_exact(LANES).zip(after.chunks_exact(LANES));
    for (b, a) in pairs {
        for i in 0..LANES {
            let d = a[i] - b[i];
            step[i] += d * d;
            size[i] += b[i] * b[i];
        }
    }
    let n = before.len().min(after.len());
    let tail = n - n % LANES;
    let (mut step, mut size) = (
        step.iter().map(|&v| f64::from(v)).sum::<f64>(),
        size.iter().map(|&v| f64::from(v)).sum::<f64>(),
    );
    for (&b, &a) in before[tail..n].iter().zip(&after[tail..n]) {
        let (b, a) = (f64::from(b), f64::from(a));
        step += (a - b) * (a - b);
        size += b * b;
    }
    (step.sqrt() / size.sqrt()).log10()
}

/// One hidden layer on a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct HiddenLayer {
    /// Units (columns of the two matrices).
    pub units: usize,
    /// `x · W + b`, `batch × units`, row-major.
    pub pre_activations: Vec<f32>,
    /// `f(x · W + b)`: what the activation passes on (before a skip
    /// connection adds the layer's input back).
    pub outputs: Vec<f32>,
}

/// Host copies of a batch and of a network's parameters that do not fit
/// together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeMismatch(String);

impl fmt::Display for ShapeMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "forward pass on host copies: {}", self.0)
    }
}

impl std::error::Error for ShapeMismatch {}

/// The hidden layers of the network `arch` on the batch `x` (`batch ×
/// inputs`, row-major), from host copies of its kernels (`(in, out)`,
/// row-major) and biases, input first; the output layer is left out. The
/// same function as [`crate::model::Mlp::forward`], skip connections
/// included.
pub fn forward_hidden(
    arch: &Architecture,
    x: &[f32],
    batch: usize,
    kernels: &[Vec<f32>],
    biases: &[Vec<f32>],
) -> Result<Vec<HiddenLayer>, ShapeMismatch> {
    let sizes = arch.shape.layer_sizes();
    if kernels.len() != sizes.len() || biases.len() != sizes.len() {
        return Err(ShapeMismatch(format!(
            "{} kernels and {} biases for {} layers",
            kernels.len(),
            biases.len(),
            sizes.len()
        )));
    }
    let hidden = sizes.len().saturating_sub(1);
    let mut layers: Vec<HiddenLayer> = Vec::with_capacity(hidden);
    let mut input: Vec<f32> = x.to_vec();
    for (i, &(fan_in, fan_out)) in sizes.iter().enumerate().take(hidden) {
        let mut z = host_product(&input, &kernels[i], batch, fan_in, fan_out).ok_or_else(|| {
            ShapeMismatch(format!(
                "layer {}: {} inputs and {} weights for a batch of {batch} through {fan_in} x \
                 {fan_out}",
                i + 1,
                input.len(),
                kernels[i].len()
            ))
        })?;
        if biases[i].len() != fan_out {
            return Err(ShapeMismatch(format!(
                "layer {}: {} biases for {fan_out} units",
                i + 1,
                biases[i].len()
            )));
        }
        for row in z.chunks_exact_mut(fan_out) {
            for (v, b) in row.iter_mut().zip(&biases[i]) {
                *v += b;
            }
        }
        let outputs = arch.activation.values(&z);
        // The first layer changes the width: no skip there (as the model).
        input = if arch.residual && i > 0 {
            input.iter().zip(&outputs).map(|(h, a)| h + a).collect()
        } else {
            outputs.clone()
        };
        layers.push(HiddenLayer {
            units: fan_out,
            pre_activations: z,
            outputs,
        });
    }
    Ok(layers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Init, Mlp, Shape, DEFAULT_LEAKY_SLOPE};
    use candle_core::{Device, Tensor};

    #[test]
    fn units_count_only_when_inactive_on_every_example() {
        // 3 examples x 3 units: unit 0 positive once, unit 1 never (0 and NaN
        // count as not positive), unit 2 always.
        let z = [-1.0, 0.0, 2.0, 0.5, -3.0, 1.0, -0.1, f32::NAN, 4.0];
        assert_eq!(dead_fraction(&z, 3), 1.0 / 3.0);
        assert_eq!(dead_fraction(&[], 3), 0.0);
        let tanh = ActivationFn::new(Activation::Tanh, 0.0);
        // tanh'(3) = 0.0099 < 0.01; tanh'(2.6) = 0.022.
        assert_eq!(saturated_fraction(&[3.0, -3.0, 2.6, 3.0], 2, tanh), 0.5);
    }

    #[test]
    fn update_ratio_is_log10_of_the_relative_step() {
        assert!((update_ratio(&[1.0, 0.0], &[1.1, 0.0]) + 1.0).abs() < 1e-6);
        assert_eq!(update_ratio(&[1.0], &[1.0]), f64::NEG_INFINITY);
        // Lanes and the remainder: every value counts.
        for n in [7, 8, 9, 17, 7_840] {
            let before: Vec<f32> = (0..n).map(|i| (i as f32 * 0.61).sin()).collect();
            let after: Vec<f32> = before
                .iter()
                .enumerate()
                .map(|(i, b)| b + (i as f32 * 0.13).cos() * 1e-3)
                .collect();
            let norm = |v: &mut dyn Iterator<Item = f64>| v.map(|x| x * x).sum::<f64>().sqrt();
            let step = norm(
                &mut before
                    .iter()
                    .zip(&after)
                    .map(|(b, a)| f64::from(*a) - f64::from(*b)),
            );
            let size = norm(&mut before.iter().map(|&b| f64::from(b)));
            let want = (step / size).log10();
            assert!((update_ratio(&before, &after) - want).abs() < 1e-4, "n {n}");
        }
    }

    /// The bound is where the derivative crosses 1% of its maximum, so
    /// comparing |z| with it is the derivative's definition.
    #[test]
    fn saturation_is_the_derivatives_threshold() {
        for kind in [Activation::Sigmoid, Activation::Tanh] {
            let f = ActivationFn::new(kind, 0.0);
            let threshold = SATURATION_THRESHOLD * f.derivative(0.0);
            let z: Vec<f32> = (-4000..4000).map(|i| i as f32 * 0.003).collect();
            for &v in &z {
                let by_derivative = f.derivative(f64::from(v)) < threshold;
                assert_eq!(
                    saturated_fraction(&[v], 1, f) == 1.0,
                    by_derivative,
                    "{kind:?} {v}"
                );
            }
        }
    }

    /// The host pass gives the model's own activations, skip connections
    /// included: its last hidden outputs through the output layer are the
    /// model's logits.
    #[test]
    fn forward_hidden_matches_the_model() {
        for residual in [false, true] {
            let arch = Architecture {
                shape: Shape {
                    inputs: 12,
                    hidden: 5,
                    outputs: 3,
                    layers: 4,
                },
                activation: ActivationFn::new(Activation::LeakyRelu, DEFAULT_LEAKY_SLOPE),
                residual,
            };
            let model = Mlp::new(arch, Init::GlorotUniform, 3, &Device::Cpu).unwrap();
            let x: Vec<f32> = (0..2 * 12).map(|i| (i as f32 * 0.37).sin()).collect();
            let host = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let kernels: Vec<_> = model
                .layers
                .iter()
                .map(|l| host(l.kernel.as_tensor()))
                .collect();
            let biases: Vec<_> = model
                .layers
                .iter()
                .map(|l| host(l.bias.as_tensor()))
                .collect();
            let layers = forward_hidden(&arch, &x, 2, &kernels, &biases).unwrap();
            assert_eq!(layers.len(), 3);
            let mut h = layers[0].outputs.clone();
            for layer in &layers[1..] {
                h = if residual {
                    h.iter().zip(&layer.outputs).map(|(a, b)| a + b).collect()
                } else {
                    layer.outputs.clone()
                };
            }
            let logits = host_product(&h, &kernels[3], 2, 5, 3).unwrap();
            let logits: Vec<f32> = logits
                .chunks(3)
                .flat_map(|r| r.iter().zip(&biases[3]).map(|(v, b)| v + b))
                .collect();
            let want = host(
                &model
                    .forward(&Tensor::from_vec(x.clone(), (2, 12), &Device::Cpu).unwrap())
                    .unwrap(),
            );
            for (a, b) in logits.iter().zip(&want) {
                assert!(
                    (a - b).abs() < 1e-5,
                    "residual {residual}: {logits:?} vs {want:?}"
                );
            }
        }
        let arch = Architecture {
            shape: Shape {
                inputs: 2,
                hidden: 2,
                outputs: 2,
                layers: 2,
            },
            activation: ActivationFn::new(Activation::Relu, 0.0),
            residual: false,
        };
        let err = forward_hidden(
            &arch,
            &[1.0; 3],
            2,
            &[vec![0.0; 4], vec![0.0; 4]],
            &[vec![0.0; 2], vec![0.0; 2]],
        );
        assert!(err.unwrap_err().to_string().contains("layer 1"));
    }
}
