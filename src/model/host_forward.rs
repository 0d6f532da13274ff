//! The hidden layers of the MLP on a batch, from host copies of its
//! kernels and biases: what the per-layer diagnostics (dead and saturated
//! units, the activations' histograms) are computed from, so the training
//! step itself keeps nothing for them.

use std::fmt;

use crate::model::dense::host_product;
use crate::model::Architecture;

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
    use crate::model::{Activation, ActivationFn, Init, Mlp, Shape, DEFAULT_LEAKY_SLOPE};
    use candle_core::{Device, Tensor};

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
