//! The network: a stack of dense layers with one activation between them.
//!
//! `layers` dense layers map `input -> hidden × (layers-1) -> 10` logits; the
//! activation follows every hidden layer, none follows the output. With
//! `residual`, each hidden layer after the first adds its input back
//! (`h <- h + f(h·W + b)`), the identity "skip connection" of ResNets.
//! Kernels are stored `(in, out)` as TensorFlow's dense layers store them,
//! so `x · W + b` needs no transpose; checkpoints use candle's `(out, in)`.
//!
//! - [`activation`]: the activations, as fused candle ops.
//! - [`init`]: the initial-weight schemes.
//! - [`checkpoint`]: saving and loading weights as safetensors.
//! - [`dense`]: a layer's product, bias add and activation as one op.
//! - [`recurrent`]: the tanh RNN, LSTM and GRU with a linear head.
//! - [`sequence_op`]: the recurrent layer over a whole sequence as one op.

pub mod activation;
pub mod checkpoint;
pub mod dense;
pub mod graph;
pub mod host_forward;
pub mod init;
pub mod recurrent;
pub mod sequence_op;

use candle_core::{DType, Device, Result, Tensor, Var};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub use activation::{Activation, ActivationFn, DEFAULT_LEAKY_SLOPE};
pub use init::Init;
pub use recurrent::{Cell, Recurrent, RecurrentShape};

/// One dense layer: `x · kernel + bias`.
pub struct Dense {
    /// `(in, out)`.
    pub kernel: Var,
    /// `(out,)`.
    pub bias: Var,
}

impl Dense {
    /// `f(x · kernel + bias)`, as one op ([`dense`]). `x_is_data`: `x` is
    /// the input batch, whose gradient nothing needs.
    pub fn forward(&self, x: &Tensor, f: ActivationFn, x_is_data: bool) -> Result<Tensor> {
        dense::forward(
            x,
            self.kernel.as_tensor(),
            self.bias.as_tensor(),
            f,
            x_is_data,
        )
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

/// Everything about the network but its weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Architecture {
    pub shape: Shape,
    pub activation: ActivationFn,
    pub residual: bool,
}

/// The multi-layer perceptron.
pub struct Mlp {
    pub layers: Vec<Dense>,
    pub arch: Architecture,
}

impl Mlp {
    /// Kernels drawn by `init` from a ChaCha RNG seeded with `seed` (the
    /// same seed gives the same network), biases zero.
    pub fn new(arch: Architecture, init: Init, seed: u64, device: &Device) -> Result<Mlp> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let layers = arch
            .shape
            .layer_sizes()
            .into_iter()
            .map(|(fan_in, fan_out)| {
                let kernel = init.kernel(fan_in, fan_out, &mut rng);
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
        Ok(Mlp { layers, arch })
    }

    /// Logits for a `(batch, inputs)` tensor.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (last, hidden) = self.layers.split_last().expect("at least one layer");
        let mut h = x.clone();
        for (i, layer) in hidden.iter().enumerate() {
            let a = layer.forward(&h, self.arch.activation, i == 0)?;
            // The first layer changes the width (784 -> hidden): no skip there.
            h = if self.arch.residual && i > 0 {
                (h + a)?
            } else {
                a
            };
        }
        // The output layer has no activation: the identity.
        last.forward(
            &h,
            ActivationFn::new(Activation::Linear, 0.0),
            hidden.is_empty(),
        )
    }

    /// The same logits from candle's standard ops (matmul, broadcast add,
    /// `ActivationFn::apply_standard`), which run on any candle device
    /// and differentiate through candle's own backward: the trainer's
    /// `candle-nn` engine.
    pub fn forward_standard(&self, x: &Tensor) -> Result<Tensor> {
        let (last, hidden) = self.layers.split_last().expect("at least one layer");
        let dense = |layer: &Dense, h: &Tensor| {
            h.matmul(layer.kernel.as_tensor())?
                .broadcast_add(layer.bias.as_tensor())
        };
        let mut h = x.clone();
        for (i, layer) in hidden.iter().enumerate() {
            let a = self.arch.activation.apply_standard(&dense(layer, &h)?)?;
            h = if self.arch.residual && i > 0 {
                (h + a)?
            } else {
                a
            };
        }
        dense(last, &h)
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

    fn arch(kind: Activation) -> Architecture {
        Architecture {
            shape: Shape {
                inputs: 784,
                hidden: 10,
                outputs: 10,
                layers: 6,
            },
            activation: ActivationFn::new(kind, DEFAULT_LEAKY_SLOPE),
            residual: false,
        }
    }

    #[test]
    fn layer_sizes_follow_the_design() {
        let shape = arch(Activation::Relu).shape;
        assert_eq!(
            shape.layer_sizes(),
            vec![(784, 10), (10, 10), (10, 10), (10, 10), (10, 10), (10, 10)]
        );
        let one = Shape { layers: 1, ..shape };
        assert_eq!(one.layer_sizes(), vec![(784, 10)]);
    }

    #[test]
    fn parameters_count_kernels_and_biases_and_saturate() {
        let shape = arch(Activation::Relu).shape;
        assert_eq!(shape.parameters(), 784 * 10 + 10 + 5 * (10 * 10 + 10));
        let absurd = Shape {
            hidden: usize::MAX,
            ..shape
        };
        assert_eq!(absurd.parameters(), u64::MAX);
    }

    #[test]
    fn glorot_uniform_bounds_and_seeding() {
        let d = Device::Cpu;
        let new = |seed| Mlp::new(arch(Activation::Relu), Init::GlorotUniform, seed, &d).unwrap();
        let (a, b, c) = (new(3), new(3), new(4));
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
        let m = Mlp::new(arch(Activation::LeakyRelu), Init::GlorotUniform, 0, &d).unwrap();
        let x = Tensor::ones((3, 784), DType::F32, &d).unwrap();
        assert_eq!(m.forward(&x).unwrap().dims(), &[3, 10]);
    }

    #[test]
    fn residual_adds_the_input_of_each_hidden_layer_after_the_first() {
        // With linear activation and zero kernels, a residual hidden layer is
        // the identity, a plain one maps everything to its (zero) bias.
        let d = Device::Cpu;
        let mut a = arch(Activation::Linear);
        a.shape = Shape {
            inputs: 2,
            hidden: 2,
            outputs: 2,
            layers: 3,
        };
        let eye = Tensor::new(&[[1f32, 0.0], [0.0, 1.0]], &d).unwrap();
        let zeros = Tensor::zeros((2, 2), DType::F32, &d).unwrap();
        for (residual, expected) in [(true, [3f32, 4.0]), (false, [0.0, 0.0])] {
            a.residual = residual;
            let m = Mlp::new(a, Init::GlorotUniform, 0, &d).unwrap();
            m.layers[0].kernel.set(&eye).unwrap();
            m.layers[1].kernel.set(&zeros).unwrap();
            m.layers[2].kernel.set(&eye).unwrap();
            let x = Tensor::new(&[[3f32, 4.0]], &d).unwrap();
            let y = m.forward(&x).unwrap().to_vec2::<f32>().unwrap();
            assert_eq!(y[0], expected, "residual {residual}");
        }
    }
}
