//! The network: a stack of dense layers with one activation between them.
//!
//! `layers` dense layers map `input -> hidden × (layers-1) -> 10` logits; the
//! activation follows every hidden layer, none follows the output. Kernels
//! are stored `(in, out)` as TensorFlow's dense layers store them, so
//! `x · W + b` needs no transpose.

use std::fmt;

use candle_core::{DType, Device, Result, Tensor, Var};
use rand::distr::{Distribution, Uniform};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The non-linearity after each hidden layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Sigmoid,
    Relu,
    /// Slope 0.2 for negative inputs, TensorFlow's `tf.nn.leaky_relu` default.
    LeakyRelu,
}

/// Negative-side slope of [`Activation::LeakyRelu`].
pub const LEAKY_SLOPE: f64 = 0.2;

impl Activation {
    pub fn apply(self, x: &Tensor) -> Result<Tensor> {
        match self {
            Activation::Sigmoid => candle_nn::ops::sigmoid(x),
            Activation::Relu => x.relu(),
            Activation::LeakyRelu => candle_nn::ops::leaky_relu(x, LEAKY_SLOPE),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Activation::Sigmoid => "sigmoid",
            Activation::Relu => "relu",
            Activation::LeakyRelu => "leaky_relu",
        }
    }
}

impl fmt::Display for Activation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One dense layer: `x · kernel + bias`.
pub struct Dense {
    /// `(in, out)`.
    pub kernel: Var,
    /// `(out,)`.
    pub bias: Var,
}

impl Dense {
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.matmul(self.kernel.as_tensor())?
            .broadcast_add(self.bias.as_tensor())
    }
}

/// The shape of the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub inputs: usize,
    pub hidden: usize,
    pub outputs: usize,
    /// Dense layers, counting the output layer; at least 1.
    pub layers: usize,
}

impl Shape {
    /// `(in, out)` of each dense layer, input first.
    pub fn layer_sizes(&self) -> Vec<(usize, usize)> {
        (0..self.layers)
            .map(|i| {
                let fan_in = if i == 0 { self.inputs } else { self.hidden };
                let fan_out = if i + 1 == self.layers {
                    self.outputs
                } else {
                    self.hidden
                };
                (fan_in, fan_out)
            })
            .collect()
    }

    /// Weights and biases in all, saturating rather than overflowing for
    /// absurd sizes.
    pub fn parameters(&self) -> u64 {
        self.layer_sizes()
            .iter()
            .map(|&(i, o)| (i as u64).saturating_mul(o as u64).saturating_add(o as u64))
            .fold(0, u64::saturating_add)
    }
}

/// The most parameters a network may have. Training holds several copies
/// of each (weights, gradients, Adam's two moments, host copies for
/// histograms), so this is about 6 GB; far beyond a "small MLP", and it
/// turns a typo in --hidden into an error instead of the machine running
/// out of memory.
pub const MAX_PARAMETERS: u64 = 1 << 28;

/// The multi-layer perceptron.
pub struct Mlp {
    pub layers: Vec<Dense>,
    pub activation: Activation,
}

impl Mlp {
    /// Glorot-uniform kernels and zero biases (TensorFlow's dense defaults),
    /// drawn from a ChaCha RNG seeded with `seed`: candle's CPU RNG cannot
    /// be seeded, and the same seed must give the same network.
    pub fn new(shape: Shape, activation: Activation, seed: u64, device: &Device) -> Result<Mlp> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let layers = shape
            .layer_sizes()
            .into_iter()
            .map(|(fan_in, fan_out)| {
                let limit = (6.0 / (fan_in + fan_out) as f64).sqrt() as f32;
                let uniform = Uniform::new_inclusive(-limit, limit).expect("finite limit");
                let kernel: Vec<f32> = (0..fan_in * fan_out)
                    .map(|_| uniform.sample(&mut rng))
                    .collect();
                Ok(Dense {
                    kernel: Var::from_tensor(&Tensor::from_vec(
                        kernel,
                        (fan_in, fan_out),
                        device,
                    )?)?,
                    bias: Var::zeros(fan_out, DType::F32, device)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Mlp { layers, activation })
    }

    /// Logits for a `(batch, inputs)` tensor.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (last, hidden) = self.layers.split_last().expect("at least one layer");
        let mut h = x.clone();
        for layer in hidden {
            h = self.activation.apply(&layer.forward(&h)?)?;
        }
        last.forward(&h)
    }

    /// Every trainable variable, kernel then bias, layer by layer.
    pub fn vars(&self) -> Vec<Var> {
        self.layers
            .iter()
            .flat_map(|l| [l.kernel.clone(), l.bias.clone()])
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape() -> Shape {
        Shape {
            inputs: 784,
            hidden: 10,
            outputs: 10,
            layers: 6,
        }
    }

    #[test]
    fn layer_sizes_follow_the_design() {
        assert_eq!(
            shape().layer_sizes(),
            vec![(784, 10), (10, 10), (10, 10), (10, 10), (10, 10), (10, 10)]
        );
        let one = Shape {
            layers: 1,
            ..shape()
        };
        assert_eq!(one.layer_sizes(), vec![(784, 10)]);
    }

    #[test]
    fn parameters_count_kernels_and_biases_and_saturate() {
        assert_eq!(shape().parameters(), 784 * 10 + 10 + 5 * (10 * 10 + 10));
        let absurd = Shape {
            hidden: usize::MAX,
            ..shape()
        };
        assert_eq!(absurd.parameters(), u64::MAX);
    }

    #[test]
    fn glorot_uniform_bounds_and_seeding() {
        let d = Device::Cpu;
        let a = Mlp::new(shape(), Activation::Relu, 3, &d).unwrap();
        let b = Mlp::new(shape(), Activation::Relu, 3, &d).unwrap();
        let c = Mlp::new(shape(), Activation::Relu, 4, &d).unwrap();
        let w = |m: &Mlp| {
            m.layers[0]
                .kernel
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        };
        assert_eq!(w(&a), w(&b));
        assert_ne!(w(&a), w(&c));
        let limit = (6.0f32 / 794.0).sqrt();
        let first = w(&a);
        assert!(first.iter().all(|v| v.abs() <= limit));
        // Uniform on [-l, l] has mean |x| = l/2; 7,840 draws land close.
        let mean_abs = first.iter().map(|v| v.abs()).sum::<f32>() / first.len() as f32;
        assert!((mean_abs / limit - 0.5).abs() < 0.02, "{mean_abs}");
        let bias = a.layers[0].bias.to_vec1::<f32>().unwrap();
        assert!(bias.iter().all(|&v| v == 0.0));
    }

    #[test]
    fn forward_gives_logits_per_example() {
        let d = Device::Cpu;
        let m = Mlp::new(shape(), Activation::LeakyRelu, 0, &d).unwrap();
        let x = Tensor::ones((3, 784), DType::F32, &d).unwrap();
        assert_eq!(m.forward(&x).unwrap().dims(), &[3, 10]);
    }

    #[test]
    fn activations_match_their_definitions() {
        let d = Device::Cpu;
        let x = Tensor::new(&[-2f32, 0.0, 3.0], &d).unwrap();
        let v = |a: Activation| a.apply(&x).unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(v(Activation::Relu), vec![0.0, 0.0, 3.0]);
        assert_eq!(v(Activation::LeakyRelu), vec![-0.4, 0.0, 3.0]);
        let s = v(Activation::Sigmoid);
        assert!((s[0] - 1.0 / (1.0 + 2f32.exp())).abs() < 1e-6 && s[1] == 0.5);
    }
}
