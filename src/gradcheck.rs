//! `gradscope gradcheck`: the trainer's own backward passes checked
//! against finite differences ([`gradscope_candle::gradcheck`]), with no
//! other framework needed.
//!
//! Every fused op the trainer differentiates through gets a case: the MLP
//! of each activation (the dense op, [`crate::model::dense`], with the
//! activation inside), a residual MLP, and the RNN, LSTM and GRU (the
//! dense op for the input projections and the sequence op,
//! [`crate::model::sequence_op`]). The ops compute in f32 only, so the
//! cases run in f32 with gradcheck's f32 settings (eps 1e-2, tolerance
//! 1e-2; its module doc derives them).
//!
//! Each case is a small network from the trainer's own constructors, a
//! seeded random batch, and the loss `mean(logits ⊙ R)` for a fixed random
//! `R`: linear in the logits, so every logit's gradient is a different
//! number and no kink of the loss hides an error.
//!
//! **Kinks.** ReLU, leaky ReLU and SELU have a kink at 0. A perturbation
//! that moves a pre-activation across it makes the difference quotient
//! wrong, not the op, and with eps 1e-2 that would happen in about one
//! case in two. So each hidden layer's biases are shifted, layer by layer,
//! to put 0 in the middle of the widest gap between the batch's
//! pre-activations of each unit, so that the unit sees both sides of the
//! kink; where that gap is narrower than twice [`KINK_MARGIN`], below all
//! of them by that margin. Every pre-activation then stays at least
//! `KINK_MARGIN` (ten times eps; the smallest is reported as `margin`) from
//! the kink.

use std::fmt::Write as _;

use anyhow::{bail, Context};
use candle_core::{Device, Module, Tensor, Var};
use candle_nn::VarMap;
use gradscope_candle::gradcheck::{gradcheck, GradcheckOptions, GradcheckReport};
use rand::distr::{Distribution, Uniform};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::model::host_forward::forward_hidden;
use crate::model::{
    Activation, ActivationFn, Architecture, Cell, Init, Mlp, Recurrent, RecurrentShape, Shape,
    DEFAULT_LEAKY_SLOPE,
};

/// The sizes of the cases: small enough to check every entry of every
/// parameter (under gradcheck's default of 64) in well under a second.
const BATCH: usize = 4;
const INPUTS: usize = 5;
const HIDDEN: usize = 6;
const OUTPUTS: usize = 3;
const STEPS: usize = 4;

/// The least distance of a hidden pre-activation from 0 in the MLP cases:
/// ten times gradcheck's f32 eps, by which perturbing a bias moves it.
pub const KINK_MARGIN: f32 = 0.1;

/// One checked op.
pub struct Case {
    /// `mlp-<activation>`, `mlp-relu-residual`, `rnn`, `lstm` or `gru`.
    pub name: String,
    /// The smallest distance of a hidden pre-activation from 0 (MLP cases),
    /// after the biases were shifted away from the kinks.
    pub margin: Option<f32>,
    /// What gradcheck found.
    pub report: GradcheckReport,
}

impl Case {
    /// One line: the case, its worst relative error, PASS or FAIL.
    pub fn line(&self) -> String {
        let tolerance = self
            .report
            .params
            .iter()
            .map(|p| p.settings.tolerance)
            .fold(f64::INFINITY, f64::min);
        let mut line = format!(
            "{:<20} {:>2} parameters  worst relative error {:.2e} (tolerance {:.0e})",
            self.name,
            self.report.params.len(),
            self.report.worst_error(),
            tolerance
        );
        if let Some(margin) = self.margin {
            let _ = write!(line, "  margin {margin:.3}");
        }
        line.push_str(if self.report.passed() {
            "  PASS"
        } else {
            "  FAIL"
        });
        line
    }
}

/// Every case, in order: the MLPs of [`Activation::ALL`], the residual
/// MLP, then [`Cell::ALL`]. `seed` draws the weights, the batch and `R`;
/// `options` go to gradcheck.
pub fn check_all(seed: u64, options: &GradcheckOptions) -> anyhow::Result<Vec<Case>> {
    let mut cases = Vec::new();
    let mlps = Activation::ALL
        .iter()
        .map(|&a| (a, false))
        .chain([(Activation::Relu, true)]);
    for (activation, residual) in mlps {
        let name = if residual {
            format!("mlp-{activation}-residual")
        } else {
            format!("mlp-{activation}")
        };
        let case = check_mlp(activation, residual, seed, options)
            .with_context(|| format!("gradcheck case {name}"))?;
        cases.push(Case {
            name,
            margin: Some(case.0),
            report: case.1,
        });
    }
    for cell in Cell::ALL {
        let report = check_recurrent(cell, seed, options)
            .with_context(|| format!("gradcheck case {cell}"))?;
        cases.push(Case {
            name: cell.to_string(),
            margin: None,
            report,
        });
    }
    Ok(cases)
}

/// Runs every case, printing one line each (and with `verbose`, or for a
/// failed case, its table of parameters); an error naming the failed cases.
pub fn run(seed: u64, max_entries: usize, verbose: bool) -> anyhow::Result<()> {
    let options = GradcheckOptions::default()
        .max_entries(max_entries)
        .seed(seed);
    let cases = check_all(seed, &options)?;
    for case in &cases {
        println!("{}", case.line());
        if verbose || !case.report.passed() {
            println!("{}\n", case.report);
        }
    }
    let failed: Vec<&str> = (cases.iter())
        .filter(|c| !c.report.passed())
        .map(|c| c.name.as_str())
        .collect();
    if !failed.is_empty() {
        bail!(
            "gradcheck: {} of {} cases failed: {}",
            failed.len(),
            cases.len(),
            failed.join(", ")
        );
    }
    println!("gradcheck: all {} cases passed", cases.len());
    Ok(())
}

/// `n` values from U(-1, 1).
fn uniform(n: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let dist = Uniform::new_inclusive(-1f32, 1.0).expect("a finite range");
    (0..n).map(|_| dist.sample(rng)).collect()
}

/// `mean(logits ⊙ R)`.
fn loss_of(logits: &Tensor, r: &Tensor) -> candle_core::Result<Tensor> {
    (logits * r)?.mean_all()
}

/// The MLP case: the smallest margin of a pre-activation from 0, and the
/// report.
fn check_mlp(
    activation: Activation,
    residual: bool,
    seed: u64,
    options: &GradcheckOptions,
) -> anyhow::Result<(f32, GradcheckReport)> {
    let device = Device::Cpu;
    let arch = Architecture {
        shape: Shape {
            inputs: INPUTS,
            hidden: HIDDEN,
            outputs: OUTPUTS,
            layers: if residual { 4 } else { 3 },
        },
        activation: ActivationFn::new(activation, DEFAULT_LEAKY_SLOPE),
        residual,
    };
    let mlp = Mlp::new(arch, Init::GlorotUniform, seed, &device)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x6772_6164);
    let x_values = uniform(BATCH * INPUTS, &mut rng);
    let margin = centre_biases_on_gaps(&mlp, &x_values)?;
    let x = Tensor::from_vec(x_values, (BATCH, INPUTS), &device)?;
    let r = Tensor::from_vec(
        uniform(BATCH * OUTPUTS, &mut rng),
        (BATCH, OUTPUTS),
        &device,
    )?;
    let varmap = VarMap::new();
    {
        let mut vars = varmap.data().lock().expect("a fresh map");
        for (i, layer) in mlp.layers.iter().enumerate() {
            vars.insert(format!("layer{}.kernel", i + 1), layer.kernel.clone());
            vars.insert(format!("layer{}.bias", i + 1), layer.bias.clone());
        }
    }
    let report = gradcheck(&varmap, || loss_of(&mlp.forward(&x)?, &r), options.clone())?;
    Ok((margin, report))
}

/// Shifts each hidden layer's biases, input first, so that 0 lies in the
/// middle of the widest gap between each unit's pre-activations on the
/// batch `x`, or [`KINK_MARGIN`] below them all where that gap is too
/// narrow; returns the smallest |pre-activation| afterwards.
fn centre_biases_on_gaps(mlp: &Mlp, x: &[f32]) -> anyhow::Result<f32> {
    let host = |v: &Var| -> candle_core::Result<Vec<f32>> { v.flatten_all()?.to_vec1::<f32>() };
    let hidden = mlp.layers.len() - 1;
    let mut margin = f32::INFINITY;
    for layer in 0..hidden {
        let kernels = (mlp.layers.iter())
            .map(|l| host(&l.kernel))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let mut biases = (mlp.layers.iter())
            .map(|l| host(&l.bias))
            .collect::<candle_core::Result<Vec<_>>>()?;
        // Later layers' pre-activations depend on this layer's biases: one
        // layer at a time, each from the shifted ones before it.
        let layers = forward_hidden(&mlp.arch, x, BATCH, &kernels, &biases)?;
        let z = &layers[layer].pre_activations;
        let units = layers[layer].units;
        for unit in 0..units {
            let mut column: Vec<f32> = (0..BATCH).map(|b| z[b * units + unit]).collect();
            column.sort_by(f32::total_cmp);
            let (low, high) = (column.windows(2))
                .map(|w| (w[0], w[1]))
                .max_by(|a, b| (a.1 - a.0).total_cmp(&(b.1 - b.0)))
                .expect("a batch of at least two");
            let zero_at = if (high - low) / 2.0 >= KINK_MARGIN {
                (low + high) / 2.0
            } else {
                column[0] - KINK_MARGIN
            };
            biases[layer][unit] -= zero_at;
            for z in &column {
                margin = margin.min((z - zero_at).abs());
            }
        }
        let bias = &mlp.layers[layer].bias;
        bias.set(&Tensor::from_vec(
            biases[layer].clone(),
            units,
            bias.device(),
        )?)?;
    }
    Ok(margin)
}

/// The recurrent case: the trainer's fused forward pass over a seeded
/// `(batch, steps, inputs)` sequence.
fn check_recurrent(
    cell: Cell,
    seed: u64,
    options: &GradcheckOptions,
) -> anyhow::Result<GradcheckReport> {
    let device = Device::Cpu;
    let shape = RecurrentShape {
        cell,
        inputs: INPUTS,
        hidden: HIDDEN,
        outputs: OUTPUTS,
    };
    let network = Recurrent::new(shape, Init::TorchUniform, seed, &device)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7265_6375);
    let x = Tensor::from_vec(
        uniform(BATCH * STEPS * INPUTS, &mut rng),
        (BATCH, STEPS, INPUTS),
        &device,
    )?;
    let r = Tensor::from_vec(
        uniform(BATCH * OUTPUTS, &mut rng),
        (BATCH, OUTPUTS),
        &device,
    )?;
    let varmap = VarMap::new();
    {
        let mut vars = varmap.data().lock().expect("a fresh map");
        for (name, var) in network.named_vars() {
            vars.insert(name.to_string(), var);
        }
    }
    Ok(gradcheck(
        &varmap,
        || loss_of(&network.forward(&x)?, &r),
        options.clone(),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centring_keeps_every_pre_activation_clear_of_the_kink() {
        let arch = Architecture {
            shape: Shape {
                inputs: INPUTS,
                hidden: HIDDEN,
                outputs: OUTPUTS,
                layers: 4,
            },
            activation: ActivationFn::new(Activation::Relu, DEFAULT_LEAKY_SLOPE),
            residual: true,
        };
        let mlp = Mlp::new(arch, Init::GlorotUniform, 3, &Device::Cpu).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let x = uniform(BATCH * INPUTS, &mut rng);
        let margin = centre_biases_on_gaps(&mlp, &x).unwrap();
        assert!(margin >= KINK_MARGIN * 0.999, "{margin}");
        let host = |v: &Var| v.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let kernels: Vec<_> = mlp.layers.iter().map(|l| host(&l.kernel)).collect();
        let biases: Vec<_> = mlp.layers.iter().map(|l| host(&l.bias)).collect();
        let layers = forward_hidden(&mlp.arch, &x, BATCH, &kernels, &biases).unwrap();
        let mut sides = Vec::new();
        for (i, layer) in layers.iter().enumerate() {
            for unit in 0..layer.units {
                let column: Vec<f32> = (0..BATCH)
                    .map(|b| layer.pre_activations[b * layer.units + unit])
                    .collect();
                assert!(
                    column.iter().all(|z| z.abs() >= margin * 0.999),
                    "{i}: {column:?}"
                );
                sides.push(column.iter().any(|z| *z > 0.0) && column.iter().any(|z| *z < 0.0));
            }
        }
        // Most units see both sides of the kink.
        assert!(
            sides.iter().filter(|s| **s).count() * 2 > sides.len(),
            "{sides:?}"
        );
    }
}
