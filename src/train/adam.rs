//! Adam, fused: one pass over each parameter per step.
//!
//! candle-nn's `AdamW` expresses the update as about a dozen tensor ops per
//! parameter, each allocating its result; for these small networks that
//! per-op overhead, not arithmetic, is most of a training step. Here the
//! moments live in plain host vectors and one in-place op updates moments
//! and weights together. The arithmetic is PyTorch's `torch.optim.Adam`
//! (and candle's AdamW with weight decay 0):
//!
//! ```text
//! m <- b1·m + (1-b1)·g        v <- b2·v + (1-b2)·g²
//! w <- w - lr · (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
//! ```

use std::cell::RefCell;

use candle_core::backprop::GradStore;
use candle_core::{bail, CpuStorage, InplaceOp2, Layout, Result, Var};

use multiversion::multiversion;

use crate::cpu::{contiguous, contiguous_mut};

/// Adam's hyper-parameters. Defaults: PyTorch's and TensorFlow's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
}

impl AdamConfig {
    pub fn with_lr(lr: f64) -> AdamConfig {
        AdamConfig {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

struct Param {
    var: Var,
    m: Vec<f32>,
    v: Vec<f32>,
}

/// The optimizer: parameters and their moment estimates.
pub struct Adam {
    params: Vec<Param>,
    config: AdamConfig,
    /// Steps taken, for the bias corrections.
    t: i32,
}

impl Adam {
    pub fn new(vars: Vec<Var>, config: AdamConfig) -> Adam {
        let params = vars
            .into_iter()
            .map(|var| {
                let n = var.elem_count();
                Param {
                    var,
                    m: vec![0.0; n],
                    v: vec![0.0; n],
                }
            })
            .collect();
        Adam {
            params,
            config,
            t: 0,
        }
    }

    /// The hyper-parameters it steps with.
    pub fn config(&self) -> AdamConfig {
        self.config
    }

    /// Updates every parameter that has a gradient in `grads`.
    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        self.t += 1;
        let coefficients = Coefficients::of(self.config, self.t);
        for p in &mut self.params {
            let Some(grad) = grads.get(p.var.as_tensor()) else {
                continue;
            };
            let grad = grad.contiguous()?;
            let update = Update {
                coefficients,
                moments: RefCell::new((&mut p.m, &mut p.v)),
            };
            p.var.as_tensor().inplace_op2(&grad, &update)?;
        }
        Ok(())
    }
}

/// Adam replayed on copies of some parameters (the kernels), from their
/// gradients: the summary thread keeps the weights it logs up to date this
/// way at `--log-every 1`, instead of the training thread copying them out
/// every step (see [`crate::train::summarizer`]). It runs the same update
/// on the same numbers in the same order as [`Adam`], so its weights are
/// the optimizer's bit for bit, as long as it starts from the weights and
/// fresh moments of the optimizer's first step and sees every step's
/// gradients.
pub struct Replica {
    config: AdamConfig,
    t: i32,
    weights: Vec<Vec<f32>>,
    moments: Vec<(Vec<f32>, Vec<f32>)>,
}

impl Replica {
    /// A replica of an optimizer that has not stepped yet, over `weights`.
    pub fn new(config: AdamConfig, weights: Vec<Vec<f32>>) -> Replica {
        let moments = weights
            .iter()
            .map(|w| (vec![0.0; w.len()], vec![0.0; w.len()]))
            .collect();
        Replica {
            config,
            t: 0,
            weights,
            moments,
        }
    }

    /// The weights after the steps so far, one slice per parameter.
    pub fn weights(&self) -> &[Vec<f32>] {
        &self.weights
    }

    /// Replaces the weights (not the moments) with `weights`, which must
    /// have the same shapes.
    pub fn set_weights(&mut self, weights: &[Vec<f32>]) -> Result<()> {
        if weights.len() != self.weights.len()
            || weights
                .iter()
                .zip(&self.weights)
                .any(|(a, b)| a.len() != b.len())
        {
            bail!("adam replica: weights of other shapes");
        }
        for (ours, theirs) in self.weights.iter_mut().zip(weights) {
            ours.copy_from_slice(theirs);
        }
        Ok(())
    }

    /// One optimizer step with each parameter's gradient, in order.
    pub fn step(&mut self, grads: &[Vec<f32>]) -> Result<()> {
        if grads.len() != self.weights.len() {
            bail!(
                "adam replica: {} gradients for {} parameters",
                grads.len(),
                self.weights.len()
            );
        }
        self.t += 1;
        let coefficients = Coefficients::of(self.config, self.t);
        for ((w, (m, v)), g) in self.weights.iter_mut().zip(&mut self.moments).zip(grads) {
            if g.len() != w.len() {
                bail!(
                    "adam replica: {} gradients for {} weights",
                    g.len(),
                    w.len()
                );
            }
            update(w, g, m, v, coefficients);
        }
        Ok(())
    }
}

/// One parameter's update, applied in place to the weights.
struct Update<'a> {
    coefficients: Coefficients,
    moments: RefCell<(&'a mut Vec<f32>, &'a mut Vec<f32>)>,
}

impl InplaceOp2 for Update<'_> {
    fn name(&self) -> &'static str {
        "adam"
    }

    fn cpu_fwd(&self, w: &mut CpuStorage, wl: &Layout, g: &CpuStorage, gl: &Layout) -> Result<()> {
        let w = contiguous_mut(self.name(), w, wl)?;
        let g = contiguous::<f32>(self.name(), g, gl)?;
        let mut moments = self.moments.borrow_mut();
        let (m, v) = &mut *moments;
        if w.len() != g.len() || w.len() != m.len() {
            bail!(
                "adam: {} weights, {} gradients, {} moments",
                w.len(),
                g.len(),
                m.len()
            );
        }
        update(w, g, m, v, self.coefficients);
        Ok(())
    }
}

/// One step's constants: the betas, `lr / (1-b1^t)`, `sqrt(1-b2^t)`, eps.
#[derive(Clone, Copy)]
struct Coefficients {
    b1: f32,
    b2: f32,
    step: f32,
    sqrt_c2: f32,
    eps: f32,
}

impl Coefficients {
    /// The constants of step `t` (counted from 1), from the f64
    /// hyper-parameters.
    fn of(c: AdamConfig, t: i32) -> Coefficients {
        let correction1 = 1.0 - c.beta1.powi(t);
        let correction2 = 1.0 - c.beta2.powi(t);
        Coefficients {
            b1: c.beta1 as f32,
            b2: c.beta2 as f32,
            step: (c.lr / correction1) as f32,
            sqrt_c2: correction2.sqrt() as f32,
            eps: c.eps as f32,
        }
    }
}

/// The update of weights `w` with gradients `g` and moments `m`, `v`, in
/// PyTorch's order of operations. Compiled also for AVX-512 and AVX2 and
/// picked at run time: a square root and two divisions per weight make this
/// loop a tenth of a small network's step at SSE2's four lanes. (Wider
/// lanes do the same operations, so the results are identical.)
#[multiversion(targets = "simd")]
fn update(w: &mut [f32], g: &[f32], m: &mut [f32], v: &mut [f32], k: Coefficients) {
    let Coefficients {
        b1,
        b2,
        step,
        sqrt_c2,
        eps,
    } = k;
    // Zipped iterators: no bounds checks, so the loop vectorises.
    for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        *m = b1 * *m + (1.0 - b1) * g;
        *v = b2 * *v + (1.0 - b2) * g * g;
        *w -= step * *m / (v.sqrt() / sqrt_c2 + eps);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};
    use candle_nn::optim::{AdamW, Optimizer, ParamsAdamW};

    /// The replica's weights are the optimizer's, bit for bit, step after
    /// step, for each parameter.
    #[test]
    fn a_replica_fed_the_gradients_keeps_the_optimizers_weights() {
        let d = Device::Cpu;
        let kernels = [
            Tensor::new(&[[0.5f32, -0.25, 3.0], [1e-3, 2.0, -7.5]], &d).unwrap(),
            Tensor::new(&[1e-5f32, -0.1], &d).unwrap(),
        ];
        let vars: Vec<Var> = kernels
            .iter()
            .map(|k| Var::from_tensor(k).unwrap())
            .collect();
        let config = AdamConfig::with_lr(0.01);
        let mut adam = Adam::new(vars.clone(), config);
        let values = |v: &Var| v.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let mut replica = Replica::new(config, vars.iter().map(values).collect());
        for step in 0..20 {
            // sum(w^3) over both: gradients that change with the weights.
            let loss = vars
                .iter()
                .map(|v| v.as_tensor().powf(3.0).unwrap().sum_all().unwrap())
                .reduce(|a, b| (a + b).unwrap())
                .unwrap();
            let grads = loss.backward().unwrap();
            let grad_values: Vec<Vec<f32>> = vars
                .iter()
                .map(|v| {
                    let g = grads.get(v.as_tensor()).unwrap();
                    g.flatten_all().unwrap().to_vec1::<f32>().unwrap()
                })
                .collect();
            adam.step(&grads).unwrap();
            replica.step(&grad_values).unwrap();
            for (var, mirrored) in vars.iter().zip(replica.weights()) {
                let actual: Vec<u32> = values(var).iter().map(|x| x.to_bits()).collect();
                let mirrored: Vec<u32> = mirrored.iter().map(|x| x.to_bits()).collect();
                assert_eq!(actual, mirrored, "step {step}");
            }
        }
        assert!(replica.step(&[vec![0.0; 6]]).is_err());
    }

    #[test]
    fn matches_candles_adamw_without_weight_decay() {
        let d = Device::Cpu;
        let init = Tensor::new(&[[0.5f32, -0.25], [1e-3, 2.0]], &d).unwrap();
        let ours = Var::from_tensor(&init).unwrap();
        let theirs = Var::from_tensor(&init).unwrap();
        let mut adam = Adam::new(vec![ours.clone()], AdamConfig::with_lr(0.01));
        let mut reference = AdamW::new(
            vec![theirs.clone()],
            ParamsAdamW {
                lr: 0.01,
                weight_decay: 0.0,
                ..Default::default()
            },
        )
        .unwrap();
        for step in 0..5 {
            // A loss whose gradient changes with the weights: sum(w^3).
            let grads = |w: &Var| {
                let loss = w.as_tensor().powf(3.0).unwrap().sum_all().unwrap();
                loss.backward().unwrap()
            };
            adam.step(&grads(&ours)).unwrap();
            reference.step(&grads(&theirs)).unwrap();
            let a = ours.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            let b = theirs.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            for (x, y) in a.iter().zip(&b) {
                assert!(
                    (x - y).abs() <= 1e-6 * y.abs().max(1.0),
                    "step {step}: {a:?} vs {b:?}"
                );
            }
        }
    }
}
