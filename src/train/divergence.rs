//! Spotting a run that has diverged: a loss or a gradient that is NaN or
//! infinite.
//!
//! Checked every iteration, before the optimizer step, so a non-finite
//! gradient is reported with its iteration and never reaches the weights.

use std::fmt;

use candle_core::backprop::GradStore;
use candle_core::Tensor;
use multiversion::multiversion;

use crate::train::network::Parameter;

/// What went non-finite first.
#[derive(Debug, Clone, PartialEq)]
pub enum Divergence {
    Loss(f32),
    /// `layer` counts from 1 at the input, as the logged tags do.
    Gradient {
        layer: usize,
        parameter: &'static str,
    },
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Divergence::Loss(value) => write!(f, "the loss became {value}"),
            Divergence::Gradient { layer, parameter } => write!(
                f,
                "the gradient of layer {layer}'s {parameter} holds NaN or infinite values"
            ),
        }
    }
}

/// The first non-finite value among the loss and the gradients of
/// `parameters`, in the order given (input first).
pub fn check(
    loss: f32,
    parameters: &[Parameter],
    grads: &GradStore,
) -> candle_core::Result<Option<Divergence>> {
    if !loss.is_finite() {
        return Ok(Some(Divergence::Loss(loss)));
    }
    for &(layer, parameter, ref var) in parameters {
        let Some(grad) = grads.get(var.as_tensor()) else {
            continue;
        };
        if !all_finite(grad)? {
            return Ok(Some(Divergence::Gradient { layer, parameter }));
        }
    }
    Ok(None)
}

/// Whether every element of `t` is finite, read in place (this runs for
/// every gradient of every iteration: no tensor op, no copy).
fn all_finite(t: &Tensor) -> candle_core::Result<bool> {
    crate::cpu::with_f32(t, all_finite_values)
}

/// Checked 256 values at a time without an early exit inside a block, so
/// the check vectorises (an `all` that stops at the first infinity is a
/// branch per value).
#[multiversion(targets = "simd")]
fn all_finite_values(values: &[f32]) -> bool {
    values
        .chunks(256)
        .all(|block| block.iter().fold(true, |ok, v| ok & v.is_finite()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Activation, ActivationFn, Architecture, Init, Mlp, Shape};
    use crate::train::mlp::parameters;
    use candle_core::Device;

    fn model_and_grads() -> (Mlp, GradStore) {
        let arch = Architecture {
            shape: Shape {
                inputs: 4,
                hidden: 3,
                outputs: 2,
                layers: 3,
            },
            activation: ActivationFn::new(Activation::Relu, 0.2),
            residual: false,
        };
        let model = Mlp::new(arch, Init::GlorotUniform, 1, &Device::Cpu).unwrap();
        let x = Tensor::ones((2, 4), candle_core::DType::F32, &Device::Cpu).unwrap();
        let grads = model
            .forward(&x)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        (model, grads)
    }

    #[test]
    fn finite_loss_and_gradients_pass() {
        let (model, grads) = model_and_grads();
        assert_eq!(check(0.5, &parameters(&model), &grads).unwrap(), None);
    }

    #[test]
    fn a_non_finite_loss_is_reported() {
        let (model, grads) = model_and_grads();
        let d = check(f32::NAN, &parameters(&model), &grads)
            .unwrap()
            .unwrap();
        assert!(d.to_string().contains("the loss became NaN"), "{d}");
        let d = check(f32::INFINITY, &parameters(&model), &grads)
            .unwrap()
            .unwrap();
        assert_eq!(d, Divergence::Loss(f32::INFINITY));
    }

    #[test]
    fn a_non_finite_gradient_is_reported_with_its_layer_while_the_loss_is_finite() {
        for (bad, parameter) in [(f32::NAN, "kernel"), (f32::NEG_INFINITY, "bias")] {
            let (model, mut grads) = model_and_grads();
            let var = if parameter == "kernel" {
                &model.layers[1].kernel
            } else {
                &model.layers[1].bias
            };
            let grad = grads.get(var.as_tensor()).unwrap();
            let mut values = grad.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            values[0] = bad;
            let poisoned = Tensor::from_vec(values, grad.shape(), &Device::Cpu).unwrap();
            grads.insert(var.as_tensor(), poisoned);
            let d = check(0.5, &parameters(&model), &grads).unwrap();
            assert_eq!(
                d,
                Some(Divergence::Gradient {
                    layer: 2,
                    parameter
                })
            );
        }
    }

    #[test]
    fn one_non_finite_value_anywhere_is_found() {
        for n in [1, 255, 256, 257, 7_840] {
            let mut values = vec![0.5f32; n];
            assert!(all_finite_values(&values), "n {n}");
            for at in [0, n / 2, n - 1] {
                for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                    values[at] = bad;
                    assert!(!all_finite_values(&values), "n {n}, {bad} at {at}");
                    values[at] = 0.5;
                }
            }
        }
        assert!(all_finite_values(&[]));
    }

    #[test]
    fn finite_values_whose_sum_overflows_are_not_divergence() {
        let t = Tensor::new(&[f32::MAX, f32::MAX], &Device::Cpu).unwrap();
        assert!(all_finite(&t).unwrap());
        let t = Tensor::new(&[1.0f32, f32::NAN], &Device::Cpu).unwrap();
        assert!(!all_finite(&t).unwrap());
    }
}
