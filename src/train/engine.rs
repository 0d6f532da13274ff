//! How a run computes: gradscope's fused CPU ops, or candle's standard ops
//! and candle-nn's optimizer on any candle device. Both train the same
//! network from the same weights to the same numbers (a test holds them to
//! 1e-5); the fused ops are the faster on the CPU.

use std::fmt;

use anyhow::Result;
use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer as _, ParamsAdamW};

use crate::model::Mlp;
use crate::train::adam::{Adam, AdamConfig, StepMeasure};
use crate::train::loss;

/// Which ops compute the network, its loss and its optimizer step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    /// gradscope's fused CPU ops: each dense layer one op, the fused
    /// cross-entropy and Adam.
    #[default]
    Fused,
    /// candle's standard ops (matmul, broadcast add, the activations),
    /// `candle_nn::loss::cross_entropy` and `candle_nn::AdamW` without
    /// weight decay: runs on any candle device.
    CandleNn,
}

impl Engine {
    /// The name the command line and the run's configuration use.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Fused => "fused",
            Engine::CandleNn => "candle-nn",
        }
    }

    /// Logits, mean softmax cross-entropy, and the gradients of every
    /// variable: the one backward pass of an iteration.
    pub fn forward_backward(
        self,
        model: &Mlp,
        x: &Tensor,
        y: &Tensor,
    ) -> Result<(Tensor, Tensor, GradStore)> {
        let (logits, loss) = match self {
            Engine::Fused => {
                let logits = model.forward(x)?;
                let loss = loss::cross_entropy(&logits, y)?;
                (logits, loss)
            }
            Engine::CandleNn => {
                let logits = model.forward_standard(x)?;
                let loss = candle_nn::loss::cross_entropy(&logits, y)?;
                (logits, loss)
            }
        };
        let grads = loss.backward()?;
        Ok((logits, loss, grads))
    }

    /// The logits alone.
    pub fn forward(self, model: &Mlp, x: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Engine::Fused => model.forward(x)?,
            Engine::CandleNn => model.forward_standard(x)?,
        })
    }

    /// Adam at `lr` with PyTorch's and TensorFlow's defaults (betas
    /// 0.9/0.999, eps 1e-8, no weight decay) over `model`'s variables.
    pub fn optimizer(self, model: &Mlp, lr: f64) -> Result<Optimizer> {
        let config = AdamConfig::with_lr(lr);
        Ok(match self {
            Engine::Fused => Optimizer::Fused(Adam::new(model.vars(), config)),
            Engine::CandleNn => {
                let params = ParamsAdamW {
                    lr,
                    beta1: config.beta1,
                    beta2: config.beta2,
                    eps: config.eps,
                    weight_decay: 0.0,
                };
                Optimizer::CandleNn(AdamW::new(model.vars(), params)?)
            }
        })
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An engine's Adam.
pub enum Optimizer {
    Fused(Adam),
    CandleNn(AdamW),
}

impl Optimizer {
    /// One step with `grads`.
    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        match self {
            Optimizer::Fused(adam) => adam.step(grads)?,
            Optimizer::CandleNn(adamw) => adamw.step(grads)?,
        }
        Ok(())
    }

    /// [`step`](Self::step), measuring the step of each of `measured`
    /// ([`Adam::step_measured`]); `None` from an optimizer that cannot
    /// (candle-nn's AdamW keeps its moments to itself).
    pub fn step_measured(
        &mut self,
        grads: &GradStore,
        measured: &[Var],
    ) -> Result<Option<Vec<Option<StepMeasure>>>> {
        match self {
            Optimizer::Fused(adam) => Ok(Some(adam.step_measured(grads, measured)?)),
            Optimizer::CandleNn(adamw) => {
                adamw.step(grads)?;
                Ok(None)
            }
        }
    }
}

/// Where a run's tensors live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    #[default]
    Cpu,
    /// The CUDA GPU of this ordinal; needs a build with the `cuda` feature.
    Cuda(usize),
}

impl DeviceChoice {
    /// The candle device; an error when this build has no CUDA support or
    /// the GPU cannot be opened.
    pub fn open(self) -> candle_core::Result<Device> {
        match self {
            DeviceChoice::Cpu => Ok(Device::Cpu),
            DeviceChoice::Cuda(ordinal) => Device::new_cuda(ordinal),
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceChoice::Cpu => f.write_str("cpu"),
            DeviceChoice::Cuda(ordinal) => write!(f, "cuda:{ordinal}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Activation, ActivationFn, Architecture, Init, Shape};

    fn model(activation: Activation, residual: bool) -> Mlp {
        let arch = Architecture {
            shape: Shape {
                inputs: 20,
                hidden: 8,
                outputs: 10,
                layers: 4,
            },
            activation: ActivationFn::new(activation, 0.2),
            residual,
        };
        Mlp::new(arch, Init::GlorotUniform, 7, &Device::Cpu).unwrap()
    }

    /// The largest difference relative to the largest magnitude.
    fn relative_error(a: &Tensor, b: &Tensor) -> f64 {
        let a = a.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let b = b.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let scale = b.iter().fold(0f64, |m, &v| m.max(f64::from(v.abs())));
        let diff = (a.iter().zip(&b)).fold(0f64, |m, (&x, &y)| m.max(f64::from((x - y).abs())));
        diff / scale.max(f64::MIN_POSITIVE)
    }

    /// Both engines, from the same weights on the same batch: the same loss,
    /// gradients, and weights after an Adam step at the default learning
    /// rate, to 1e-5. (Further steps drift apart by float rounding, which
    /// Adam amplifies where a gradient is as small as its epsilon.)
    #[test]
    fn both_engines_give_the_same_gradients_and_steps() {
        // A seeded batch: candle's own randn is not seeded, and one draw in
        // about ten made a gradient differ by 1.4e-5.
        let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(3);
        let values: Vec<f32> = (0..120)
            .map(|_| rand::Rng::sample(&mut rng, rand_distr::StandardNormal))
            .collect();
        let x = Tensor::from_vec(values, (6, 20), &Device::Cpu).unwrap();
        let y = Tensor::new(&[0u32, 3, 9, 1, 1, 5], &Device::Cpu).unwrap();
        for activation in Activation::ALL {
            for residual in [false, true] {
                let (fused, standard) = (model(activation, residual), model(activation, residual));
                let mut opt_fused = Engine::Fused.optimizer(&fused, 1e-3).unwrap();
                let mut opt_standard = Engine::CandleNn.optimizer(&standard, 1e-3).unwrap();
                for step in 0..1 {
                    let (_, loss_a, grads_a) =
                        Engine::Fused.forward_backward(&fused, &x, &y).unwrap();
                    let (_, loss_b, grads_b) = Engine::CandleNn
                        .forward_backward(&standard, &x, &y)
                        .unwrap();
                    let what = format!("{activation}, residual {residual}, step {step}");
                    assert!(relative_error(&loss_a, &loss_b) <= 1e-5, "loss: {what}");
                    for (a, b) in fused.vars().iter().zip(standard.vars()) {
                        let (ga, gb) = (grads_a.get(a).unwrap(), grads_b.get(&b).unwrap());
                        let e = relative_error(ga, gb);
                        assert!(e <= 1e-5, "gradient {e:e}: {what}");
                    }
                    opt_fused.step(&grads_a).unwrap();
                    opt_standard.step(&grads_b).unwrap();
                    for (a, b) in fused.vars().iter().zip(standard.vars()) {
                        let e = relative_error(a.as_tensor(), b.as_tensor());
                        assert!(e <= 1e-5, "weights {e:e}: {what}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_gpu_in_a_build_without_cuda_is_an_error_not_a_panic() {
        if !candle_core::utils::cuda_is_available() {
            assert!(DeviceChoice::Cuda(0).open().is_err());
        }
        assert_eq!(DeviceChoice::Cuda(1).to_string(), "cuda:1");
    }
}
