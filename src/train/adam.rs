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

use gradscope_candle::stats::cosine_from_sums;
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

    /// Steps taken so far.
    pub fn steps(&self) -> i32 {
        self.t
    }

    /// The first and second moments of `var`, if it is one of the
    /// parameters.
    pub fn moments(&self, var: &Var) -> Option<(&[f32], &[f32])> {
        let p = self.params.iter().find(|p| p.var.id() == var.id())?;
        Some((&p.m, &p.v))
    }

    /// Every parameter it steps.
    pub fn vars(&self) -> impl Iterator<Item = &Var> {
        self.params.iter().map(|p| &p.var)
    }

    /// Continues from a saved state: `steps` taken, and the moments of
    /// `var`, which must be one of the parameters with as many entries.
    pub fn restore_moments(&mut self, var: &Var, m: Vec<f32>, v: Vec<f32>) -> Result<()> {
        let Some(p) = self.params.iter_mut().find(|p| p.var.id() == var.id()) else {
            bail!("adam: not one of the parameters");
        };
        if m.len() != p.m.len() || v.len() != p.v.len() {
            bail!(
                "adam: moments of {} and {} entries for a parameter of {}",
                m.len(),
                v.len(),
                p.m.len()
            );
        }
        (p.m, p.v) = (m, v);
        Ok(())
    }

    /// Sets the steps taken (for the bias corrections) when continuing.
    pub fn restore_steps(&mut self, steps: i32) {
        self.t = steps;
    }

    /// Updates every parameter that has a gradient in `grads`.
    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        self.step_measuring(grads, &[])?;
        Ok(())
    }

    /// [`step`](Self::step), measuring the step of each of `measured` (by
    /// variable; `None` for one that is not a parameter or has no
    /// gradient) in the same pass: what a logged step's optimizer
    /// statistics come from, with no copy of the weights.
    pub fn step_measured(
        &mut self,
        grads: &GradStore,
        measured: &[Var],
    ) -> Result<Vec<Option<StepMeasure>>> {
        self.step_measuring(grads, measured)
    }

    fn step_measuring(
        &mut self,
        grads: &GradStore,
        measured: &[Var],
    ) -> Result<Vec<Option<StepMeasure>>> {
        self.t += 1;
        let coefficients = Coefficients::of(self.config, self.t);
        let mut measures = vec![None; measured.len()];
        for p in &mut self.params {
            let Some(grad) = grads.get(p.var.as_tensor()) else {
                continue;
            };
            let grad = grad.contiguous()?;
            let slot = measured.iter().position(|v| v.id() == p.var.id());
            let update = Update {
                coefficients,
                moments: RefCell::new((&mut p.m, &mut p.v)),
                measure: RefCell::new(slot.map(|_| StepMeasure::default())),
            };
            p.var.as_tensor().inplace_op2(&grad, &update)?;
            if let Some(slot) = slot {
                measures[slot] = update.measure.into_inner();
            }
        }
        Ok(measures)
    }
}

/// One parameter's optimizer step, measured as it is taken: sums over the
/// parameter's entries, `s` being the step subtracted from the weights
/// (`w_after = w_before - s`), `g` the gradient it was taken with, `m` and
/// `v` Adam's moments after it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepMeasure {
    /// Σ s·g.
    pub step_dot_grad: f64,
    /// Σ s², Σ g², Σ m², Σ v².
    pub step_squares: f64,
    pub grad_squares: f64,
    pub m_squares: f64,
    pub v_squares: f64,
}

impl StepMeasure {
    /// The cosine between the step taken (`w_after - w_before = -s`) and
    /// the negative gradient `-g`: 1 for plain gradient descent, lower as
    /// Adam's per-weight scaling and momentum turn the step away from it.
    /// `None` when either is zero.
    pub fn cosine(&self) -> Option<f64> {
        // gradscope_candle's definition, from the sums the update gathered.
        cosine_from_sums(self.step_dot_grad, self.step_squares, self.grad_squares)
    }

    /// ‖m‖, the L2 norm of the first moment.
    pub fn m_norm(&self) -> f64 {
        self.m_squares.sqrt()
    }

    /// ‖v‖, the L2 norm of the second moment.
    pub fn v_norm(&self) -> f64 {
        self.v_squares.sqrt()
    }
}

/// One parameter's update, applied in place to the weights.
struct Update<'a> {
    coefficients: Coefficients,
    moments: RefCell<(&'a mut Vec<f32>, &'a mut Vec<f32>)>,
    /// `Some` to measure the step (filled in by the update).
    measure: RefCell<Option<StepMeasure>>,
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
        let mut measure = self.measure.borrow_mut();
        match measure.as_mut() {
            Some(measure) => *measure = update_measured(w, g, m, v, self.coefficients),
            None => update(w, g, m, v, self.coefficients),
        }
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

/// Lanes of the measured update's sums: independent, so they vectorise.
const LANES: usize = 8;

/// [`update`], the same arithmetic in the same order (so the same weights
/// and moments, bit for bit), also summing what [`StepMeasure`] holds. The
/// sums run in f32 lanes over blocks of [`LANES`] and are added up in f64.
#[multiversion(targets = "simd")]
fn update_measured(
    w: &mut [f32],
    g: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    k: Coefficients,
) -> StepMeasure {
    let Coefficients {
        b1,
        b2,
        step,
        sqrt_c2,
        eps,
    } = k;
    let mut sums = [[0f32; LANES]; 5];
    let n = w.len().min(g.len()).min(m.len()).min(v.len());
    let whole = n - n % LANES;
    let mut total = StepMeasure::default();
    let mut add = |sums: &[[f32; LANES]; 5]| {
        let sum = |lanes: &[f32; LANES]| lanes.iter().map(|&x| f64::from(x)).sum::<f64>();
        total.step_dot_grad += sum(&sums[0]);
        total.step_squares += sum(&sums[1]);
        total.grad_squares += sum(&sums[2]);
        total.m_squares += sum(&sums[3]);
        total.v_squares += sum(&sums[4]);
    };
    let blocks = w[..whole]
        .chunks_exact_mut(LANES)
        .zip(g[..whole].chunks_exact(LANES))
        .zip(m[..whole].chunks_exact_mut(LANES))
        .zip(v[..whole].chunks_exact_mut(LANES));
    for (i, (((w, g), m), v)) in blocks.enumerate() {
        for lane in 0..LANES {
            m[lane] = b1 * m[lane] + (1.0 - b1) * g[lane];
            v[lane] = b2 * v[lane] + (1.0 - b2) * g[lane] * g[lane];
            let s = step * m[lane] / (v[lane].sqrt() / sqrt_c2 + eps);
            w[lane] -= s;
            sums[0][lane] += s * g[lane];
            sums[1][lane] += s * s;
            sums[2][lane] += g[lane] * g[lane];
            sums[3][lane] += m[lane] * m[lane];
            sums[4][lane] += v[lane] * v[lane];
        }
        // f32 sums of at most 1,024 terms a lane, then f64.
        if i % 1024 == 1023 {
            add(&sums);
            sums = [[0f32; LANES]; 5];
        }
    }
    for i in whole..n {
        m[i] = b1 * m[i] + (1.0 - b1) * g[i];
        v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
        let s = step * m[i] / (v[i].sqrt() / sqrt_c2 + eps);
        w[i] -= s;
        sums[0][0] += s * g[i];
        sums[1][0] += s * s;
        sums[2][0] += g[i] * g[i];
        sums[3][0] += m[i] * m[i];
        sums[4][0] += v[i] * v[i];
    }
    add(&sums);
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};
    use candle_nn::optim::{AdamW, Optimizer, ParamsAdamW};

    /// A measured step is the same step, bit for bit, as a plain one; its
    /// sums are those of the weights before and after,
    /// the gradient and the moments (cosine, norms), for a parameter longer
    /// than a block of lanes and with a remainder.
    #[test]
    fn a_measured_step_is_the_same_step_and_its_sums_are_right() {
        let d = Device::Cpu;
        let values: Vec<f32> = (0..37).map(|i| ((i * 7) % 11) as f32 * 0.1 - 0.5).collect();
        let var = Var::from_tensor(&Tensor::new(values.as_slice(), &d).unwrap()).unwrap();
        let other = Var::new(&[1f32, 2.0], &d).unwrap();
        let config = AdamConfig::with_lr(0.01);
        let mut adam = Adam::new(vec![other.clone(), var.clone()], config);
        let twin = Var::from_tensor(&Tensor::new(values.as_slice(), &d).unwrap()).unwrap();
        let mut plain = Adam::new(vec![twin.clone()], config);
        let (mut m, mut v) = (vec![0f64; 37], vec![0f64; 37]);
        for step in 1..=3 {
            let loss = (var.as_tensor().powf(3.0).unwrap().sum_all().unwrap()
                + other.as_tensor().sum_all().unwrap())
            .unwrap();
            let grads = loss.backward().unwrap();
            let g = grads
                .get(var.as_tensor())
                .unwrap()
                .to_vec1::<f32>()
                .unwrap();
            let before = var.as_tensor().to_vec1::<f32>().unwrap();
            let measured = adam
                .step_measured(&grads, std::slice::from_ref(&var))
                .unwrap();
            let twin_loss = twin.as_tensor().powf(3.0).unwrap().sum_all().unwrap();
            plain.step(&twin_loss.backward().unwrap()).unwrap();
            let after = var.as_tensor().to_vec1::<f32>().unwrap();
            let bits = |x: &[f32]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            let twin_after = twin.as_tensor().to_vec1::<f32>().unwrap();
            assert_eq!(bits(&after), bits(&twin_after), "step {step}");
            let measure = measured[0].expect("measured");
            // The reference: from the weights before and after.
            let (mut dot, mut ss, mut gg) = (0f64, 0f64, 0f64);
            for i in 0..37 {
                let (gi, s) = (f64::from(g[i]), f64::from(before[i] - after[i]));
                // The betas as the update has them, in f32.
                let (b1, b2) = (0.9f32, 0.999f32);
                m[i] = f64::from(b1) * m[i] + f64::from(1.0 - b1) * gi;
                v[i] = f64::from(b2) * v[i] + f64::from(1.0 - b2) * gi * gi;
                (dot, ss, gg) = (dot + s * gi, ss + s * s, gg + gi * gi);
            }
            let cosine = dot / (ss * gg).sqrt();
            let got = measure.cosine().unwrap();
            assert!(
                (got - cosine).abs() < 1e-4,
                "step {step}: {got} vs {cosine}"
            );
            assert!(got > 0.0 && got <= 1.0);
            let norm = |x: &[f64]| x.iter().map(|x| x * x).sum::<f64>().sqrt();
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-5 * b.abs().max(1e-12);
            assert!(close(measure.m_norm(), norm(&m)), "step {step}");
            assert!(close(measure.v_norm(), norm(&v)), "step {step}");
            assert!(close(measure.grad_squares.sqrt(), gg.sqrt()), "step {step}");
        }
        // Not a parameter: not measured; the first step is plain descent.
        let grads = (var.as_tensor() * 1.0)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward();
        let stray = Var::new(&[0f32], &d).unwrap();
        let measured = adam.step_measured(&grads.unwrap(), &[stray]).unwrap();
        assert_eq!(measured, vec![None]);
        // Adam's first step is lr·sign(g) (bias-corrected m/sqrt(v) is
        // g/|g|), so its cosine with g is ‖g‖₁ / (√(non-zeros) ‖g‖₂).
        let fresh = Var::new(&[0.5f32, -0.25, 3.0], &d).unwrap();
        let g = Tensor::new(&[0.1f32, -2.0, 0.0], &d).unwrap();
        let grads = (fresh.as_tensor() * &g)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward();
        let mut adam = Adam::new(vec![fresh.clone()], config);
        let first = adam.step_measured(&grads.unwrap(), &[fresh]).unwrap()[0].unwrap();
        let want = 2.1 / (2f64.sqrt() * 0.1f64.hypot(2.0));
        let got = first.cosine().unwrap();
        assert!((got - want).abs() < 1e-4, "{got} vs {want}");
    }

    #[test]
    fn the_cosine_is_none_for_a_zero_step_or_gradient() {
        assert_eq!(cosine_from_sums(0.0, 0.0, 4.0), None);
        assert_eq!(cosine_from_sums(0.0, 4.0, 0.0), None);
        assert_eq!(cosine_from_sums(2.0, 1.0, 4.0), Some(1.0));
        assert_eq!(cosine_from_sums(-2.0, 1.0, 16.0), Some(-0.5));
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
