//! Recurrent networks: one layer of a tanh RNN, an LSTM or a GRU over a
//! sequence, and a linear head on the last hidden state.
//!
//! The equations, gate order and parameter layout are PyTorch's (`nn.RNN`
//! with `nonlinearity='tanh'`, `nn.LSTM`, `nn.GRU`, one layer,
//! `batch_first`), so weights copy both ways under the same names. With
//! `G` gates (RNN 1, LSTM 4, GRU 3), hidden size `H` and input width `I`:
//! `weight_ih_l0` `(G·H, I)`, `weight_hh_l0` `(G·H, H)`, `bias_ih_l0` and
//! `bias_hh_l0` `(G·H)`; the head is `head.weight` `(10, H)`, `head.bias`.
//! Writing `gi = W_ih x_t + b_ih` and `gh = W_hh h_{t-1} + b_hh`, each cut
//! into `H`-wide slices in gate order:
//!
//! ```text
//! RNN:   h_t = tanh(gi + gh)
//! LSTM:  i, f, g, o = σ(gi_i + gh_i), σ(gi_f + gh_f), tanh(gi_g + gh_g), σ(gi_o + gh_o)
//!        c_t = f ⊙ c_{t-1} + i ⊙ g          h_t = o ⊙ tanh(c_t)
//! GRU:   r, z = σ(gi_r + gh_r), σ(gi_z + gh_z)
//!        n = tanh(gi_n + r ⊙ gh_n)          h_t = (1 − z) ⊙ n + z ⊙ h_{t-1}
//! ```
//!
//! `h_0` (and the LSTM's `c_0`) are zero; the logits are
//! `head.weight · h_T + head.bias`.
//!
//! **Initialisation** ([`Recurrent::new`], from a ChaCha RNG seeded with
//! the run's seed, drawn in the order `weight_ih`, `weight_hh`, `bias_ih`,
//! `bias_hh`, `head.weight`, `head.bias`):
//!
//! - [`Init::TorchUniform`] (the recurrent default): every parameter,
//!   biases and head included, from U(±1/√H), as PyTorch initialises
//!   `nn.RNN`/`nn.LSTM`/`nn.GRU` (and its `nn.Linear(H, 10)` head, whose
//!   bound is 1/√fan_in = 1/√H too).
//! - [`Init::Orthogonal`]: Keras' recurrent defaults: `weight_ih` Glorot
//!   uniform, `weight_hh` orthogonal (as one `(H, G·H)` matrix, so its rows
//!   are orthonormal), the head Glorot uniform, biases zero.
//! - any other [`Init`]: that scheme for `weight_ih`, `weight_hh` and the
//!   head (fan-in `I`, `H`, `H`; fan-out `G·H`, `G·H`, 10), biases zero.
//!
//! **Forget-gate bias** (LSTM, [`Recurrent::set_forget_bias`]): PyTorch
//! adds two biases, so "the forget-gate bias is X" is set as the forget
//! slice (rows `H..2H`) of `bias_ih_l0` = X and the same slice of
//! `bias_hh_l0` = 0, after the initialisation above; the other gates keep
//! their initial biases. The PyTorch peer does the same.
//!
//! **Two implementations, the same numbers.** [`Module::forward`] (and
//! [`Recurrent::forward_recorded`]) run the recurrence as one fused CPU op
//! ([`super::sequence_op`]): what training uses. [`Recurrent::forward_standard`]
//! (and [`Recurrent::forward_probed`]) write it with candle's standard ops,
//! step by step, as the reference the fused op is tested against (and
//! checked against PyTorch too).
//!
//! **dL/dh_t**: the gradient of the loss with respect to every hidden
//! state, through every later step and the head. The fused op's backward
//! pass computes it anyway and [`Recurrent::forward_recorded`] keeps it
//! ([`TimeGrads`]). With candle's standard ops, which keep gradients only
//! for variables, [`Recurrent::forward_probed`] adds a zero [`Var`] (a
//! probe) to every hidden state, `h_t + p_t`, and uses that sum as `h_t`
//! from then on: the numbers are unchanged (adding zero is exact), and the
//! probe's gradient is dL/dh_t.

use std::fmt;

use candle_core::{DType, Device, Module, Result, Tensor, Var, D};
use rand::distr::{Distribution, Uniform};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::model::sequence_op::{self, TimeGrads};
use crate::model::{Activation, ActivationFn, Init};

/// The recurrent cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cell {
    /// `h' = tanh(W x + U h + b)`: PyTorch's `nn.RNN(nonlinearity='tanh')`.
    Rnn,
    Lstm,
    Gru,
}

impl Cell {
    pub const ALL: [Cell; 3] = [Cell::Rnn, Cell::Lstm, Cell::Gru];

    /// The scenario name: `rnn`, `lstm`, `gru`.
    pub fn name(self) -> &'static str {
        match self {
            Cell::Rnn => "rnn",
            Cell::Lstm => "lstm",
            Cell::Gru => "gru",
        }
    }

    /// The cell named `name`, if any.
    pub fn from_name(name: &str) -> Option<Cell> {
        Cell::ALL.into_iter().find(|c| c.name() == name)
    }

    /// How many `H`-wide slices the weight matrices stack.
    pub fn gates(self) -> usize {
        match self {
            Cell::Rnn => 1,
            Cell::Lstm => 4,
            Cell::Gru => 3,
        }
    }
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The sizes of a recurrent network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecurrentShape {
    pub cell: Cell,
    /// Values per time step (28 for rows, 1 for pixels).
    pub inputs: usize,
    pub hidden: usize,
    pub outputs: usize,
}

impl RecurrentShape {
    /// Every weight and bias, saturating rather than overflowing.
    pub fn parameters(&self) -> u64 {
        let (i, h, o) = (self.inputs as u64, self.hidden as u64, self.outputs as u64);
        let g = self.cell.gates() as u64;
        let gh = g.saturating_mul(h);
        let recurrent = gh
            .saturating_mul(i.saturating_add(h).saturating_add(2))
            .saturating_add(0);
        recurrent.saturating_add(o.saturating_mul(h.saturating_add(1)))
    }
}

/// One recurrent layer and a linear head on its last hidden state.
pub struct Recurrent {
    pub shape: RecurrentShape,
    /// `(G·H, I)`.
    pub weight_ih: Var,
    /// `(G·H, H)`.
    pub weight_hh: Var,
    /// `(G·H)`.
    pub bias_ih: Var,
    /// `(G·H)`.
    pub bias_hh: Var,
    /// `(outputs, H)`.
    pub head_weight: Var,
    /// `(outputs)`.
    pub head_bias: Var,
}

impl Recurrent {
    /// A network initialised by `init` from a ChaCha RNG seeded with `seed`
    /// (see the module doc for which scheme applies to which matrix).
    pub fn new(shape: RecurrentShape, init: Init, seed: u64, device: &Device) -> Result<Recurrent> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let (i, h, o) = (shape.inputs, shape.hidden, shape.outputs);
        let gh = shape.cell.gates() * h;
        // `Init::kernel` draws `(fan_in, fan_out)`; PyTorch stores `(out, in)`.
        let mut kernel = |init: Init, fan_in: usize, fan_out: usize| {
            let k = init.kernel(fan_in, fan_out, &mut rng);
            Tensor::from_vec(k, (fan_in, fan_out), device)?
                .t()?
                .contiguous()
        };
        let bound = 1.0 / (h as f64).sqrt();
        let (weight_ih, weight_hh, head_weight, biases) = match init {
            Init::TorchUniform => {
                let mut uniform = |n: usize| uniform(n, bound, &mut rng);
                let w_ih = Tensor::from_vec(uniform(gh * i), (gh, i), device)?;
                let w_hh = Tensor::from_vec(uniform(gh * h), (gh, h), device)?;
                let b_ih = uniform(gh);
                let b_hh = uniform(gh);
                let head = Tensor::from_vec(uniform(o * h), (o, h), device)?;
                let head_bias = uniform(o);
                (w_ih, w_hh, head, [b_ih, b_hh, head_bias])
            }
            Init::Orthogonal => (
                kernel(Init::GlorotUniform, i, gh)?,
                kernel(Init::Orthogonal, h, gh)?,
                kernel(Init::GlorotUniform, h, o)?,
                [vec![0.0; gh], vec![0.0; gh], vec![0.0; o]],
            ),
            other => (
                kernel(other, i, gh)?,
                kernel(other, h, gh)?,
                kernel(other, h, o)?,
                [vec![0.0; gh], vec![0.0; gh], vec![0.0; o]],
            ),
        };
        let [b_ih, b_hh, head_bias] = biases;
        Ok(Recurrent {
            shape,
            weight_ih: Var::from_tensor(&weight_ih)?,
            weight_hh: Var::from_tensor(&weight_hh)?,
            bias_ih: Var::from_vec(b_ih, gh, device)?,
            bias_hh: Var::from_vec(b_hh, gh, device)?,
            head_weight: Var::from_tensor(&head_weight)?,
            head_bias: Var::from_vec(head_bias, o, device)?,
        })
    }

    /// Sets the LSTM's forget-gate bias to `value`: the forget slice of
    /// `bias_ih` to `value`, of `bias_hh` to 0 (see the module doc).
    /// Does nothing for the other cells.
    pub fn set_forget_bias(&self, value: f64) -> Result<()> {
        if self.shape.cell != Cell::Lstm {
            return Ok(());
        }
        let h = self.shape.hidden;
        let set = |bias: &Var, v: f32| -> Result<()> {
            let mut values = bias.to_vec1::<f32>()?;
            values[h..2 * h].fill(v);
            bias.set(&Tensor::from_vec(values, 4 * h, bias.device())?)
        };
        set(&self.bias_ih, value as f32)?;
        set(&self.bias_hh, 0.0)
    }

    /// Every trainable variable with its PyTorch name, recurrent layer
    /// first.
    pub fn named_vars(&self) -> Vec<(&'static str, Var)> {
        vec![
            ("weight_ih_l0", self.weight_ih.clone()),
            ("weight_hh_l0", self.weight_hh.clone()),
            ("bias_ih_l0", self.bias_ih.clone()),
            ("bias_hh_l0", self.bias_hh.clone()),
            ("head.weight", self.head_weight.clone()),
            ("head.bias", self.head_bias.clone()),
        ]
    }

    /// Every trainable variable, in [`Recurrent::named_vars`]' order.
    pub fn vars(&self) -> Vec<Var> {
        self.named_vars().into_iter().map(|(_, v)| v).collect()
    }

    /// One zero probe per time step for a batch of `batch` sequences of
    /// `steps` steps, for [`Recurrent::forward_probed`].
    pub fn probes(&self, batch: usize, steps: usize) -> Result<Vec<Var>> {
        let device = self.weight_ih.device();
        (0..steps)
            .map(|_| Var::zeros((batch, self.shape.hidden), DType::F32, device))
            .collect()
    }

    /// The logits for `x` of shape `(batch, steps, inputs)`, by the fused
    /// op; the backward pass through them leaves dL/dh_t in `time_grads`.
    pub fn forward_recorded(&self, x: &Tensor, time_grads: &TimeGrads) -> Result<Tensor> {
        let (batch, steps, inputs) = x.dims3()?;
        let gh = self.shape.cell.gates() * self.shape.hidden;
        // Time-major, and the input projections of every step in one product
        // by the MLP's fused dense op, which skips the data's gradient.
        let x = x
            .transpose(0, 1)?
            .contiguous()?
            .reshape((steps * batch, inputs))?;
        let (b_ih, b_hh) = (self.bias_ih.as_tensor(), self.bias_hh.as_tensor());
        let bias = match self.shape.cell {
            Cell::Gru => b_ih.clone(),
            Cell::Rnn | Cell::Lstm => (b_ih + b_hh)?,
        };
        let linear = ActivationFn::new(Activation::Linear, 0.0);
        let w_ih = self.weight_ih.t()?.contiguous()?;
        let xp =
            super::dense::forward(&x, &w_ih, &bias, linear, true)?.reshape((steps, batch, gh))?;
        let h = sequence_op::forward(
            self.shape.cell,
            &xp,
            self.weight_hh.as_tensor(),
            b_hh,
            time_grads.clone(),
        )?;
        self.head(&h.get(steps - 1)?)
    }

    /// The logits by candle's standard ops, step by step: the reference
    /// for the fused op.
    pub fn forward_standard(&self, x: &Tensor) -> Result<Tensor> {
        self.run(x, None, None)
    }

    /// [`Recurrent::forward_standard`], keeping every hidden state: `h_t`
    /// for t = 1..T, each `(batch, hidden)`, and the logits.
    pub fn hidden_states(&self, x: &Tensor) -> Result<(Vec<Tensor>, Tensor)> {
        let mut states = Vec::new();
        let logits = self.run(x, None, Some(&mut states))?;
        Ok((states, logits))
    }

    /// [`Recurrent::forward_standard`] with `probes[t]` added to `h_{t+1}`
    /// (the module doc says why). `probes` must hold one `(batch, hidden)`
    /// zero variable per step.
    pub fn forward_probed(&self, x: &Tensor, probes: &[Var]) -> Result<Tensor> {
        self.run(x, Some(probes), None)
    }

    fn head(&self, h: &Tensor) -> Result<Tensor> {
        h.matmul(&self.head_weight.t()?)?
            .broadcast_add(self.head_bias.as_tensor())
    }

    fn run(
        &self,
        x: &Tensor,
        probes: Option<&[Var]>,
        mut states: Option<&mut Vec<Tensor>>,
    ) -> Result<Tensor> {
        let (batch, steps, _) = x.dims3()?;
        let h_size = self.shape.hidden;
        if let Some(p) = probes {
            if p.len() != steps {
                candle_core::bail!("{} probes for {steps} time steps", p.len());
            }
        }
        // Time-major, so each step's input is a contiguous slice of the data
        // (which needs no gradient: slicing it costs no backward work).
        let x = x.transpose(0, 1)?.contiguous()?;
        let w_ih = self.weight_ih.t()?.contiguous()?;
        let w_hh = self.weight_hh.t()?.contiguous()?;
        let (b_ih, b_hh) = (self.bias_ih.as_tensor(), self.bias_hh.as_tensor());
        // RNN and LSTM add the two biases anyway: add them once.
        let bias = (b_ih + b_hh)?;
        let device = x.device();
        let mut h = Tensor::zeros((batch, h_size), DType::F32, device)?;
        let mut c = h.clone();
        for t in 0..steps {
            let x_t = x.get(t)?;
            let gi = x_t.matmul(&w_ih)?;
            let gh = h.matmul(&w_hh)?;
            h = match self.shape.cell {
                Cell::Rnn => (gi + gh)?.broadcast_add(&bias)?.tanh()?,
                Cell::Lstm => {
                    let gates = (gi + gh)?.broadcast_add(&bias)?;
                    let slice = |k: usize| gates.narrow(D::Minus1, k * h_size, h_size);
                    let i = candle_nn::ops::sigmoid(&slice(0)?)?;
                    let f = candle_nn::ops::sigmoid(&slice(1)?)?;
                    let g = slice(2)?.tanh()?;
                    let o = candle_nn::ops::sigmoid(&slice(3)?)?;
                    c = ((f * &c)? + (i * g)?)?;
                    (o * c.tanh()?)?
                }
                Cell::Gru => {
                    let gi = gi.broadcast_add(b_ih)?;
                    let gh = gh.broadcast_add(b_hh)?;
                    let slice = |g: &Tensor, k: usize| g.narrow(D::Minus1, k * h_size, h_size);
                    let rz = candle_nn::ops::sigmoid(
                        &(gi.narrow(D::Minus1, 0, 2 * h_size)?
                            + gh.narrow(D::Minus1, 0, 2 * h_size)?)?,
                    )?;
                    let r = rz.narrow(D::Minus1, 0, h_size)?;
                    let z = rz.narrow(D::Minus1, h_size, h_size)?;
                    let n = (slice(&gi, 2)? + (r * slice(&gh, 2)?)?)?.tanh()?;
                    // (1 - z) n + z h = n + z (h - n)
                    (&n + (z * (&h - &n)?)?)?
                }
            };
            if let Some(p) = probes {
                h = (h + p[t].as_tensor())?;
            }
            if let Some(states) = states.as_deref_mut() {
                states.push(h.clone());
            }
        }
        self.head(&h)
    }
}

impl Module for Recurrent {
    /// The logits for `x` of shape `(batch, steps, inputs)`, by the fused op.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.forward_recorded(x, &TimeGrads::default())
    }
}

fn uniform(n: usize, bound: f64, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let bound = bound as f32;
    let dist = Uniform::new_inclusive(-bound, bound).expect("a finite, positive bound");
    (0..n).map(|_| dist.sample(rng)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(cell: Cell) -> RecurrentShape {
        RecurrentShape {
            cell,
            inputs: 3,
            hidden: 5,
            outputs: 10,
        }
    }

    #[test]
    fn shapes_parameters_and_seeding() {
        let d = Device::Cpu;
        for cell in Cell::ALL {
            let m = Recurrent::new(shape(cell), Init::TorchUniform, 1, &d).unwrap();
            let g = cell.gates();
            assert_eq!(m.weight_ih.dims(), &[g * 5, 3]);
            assert_eq!(m.weight_hh.dims(), &[g * 5, 5]);
            assert_eq!(m.head_weight.dims(), &[10, 5]);
            let count: usize = m.vars().iter().map(|v| v.elem_count()).sum();
            assert_eq!(count as u64, shape(cell).parameters());
            let bound = 1.0 / 5f32.sqrt();
            for v in m.vars() {
                let values = v.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                assert!(values.iter().all(|x| x.abs() <= bound), "{cell}");
            }
            let again = Recurrent::new(shape(cell), Init::TorchUniform, 1, &d).unwrap();
            let flat = |m: &Recurrent| m.weight_hh.flatten_all().unwrap().to_vec1::<f32>();
            assert_eq!(flat(&m).unwrap(), flat(&again).unwrap());
            let x = Tensor::ones((2, 7, 3), DType::F32, &d).unwrap();
            assert_eq!(m.forward(&x).unwrap().dims(), &[2, 10]);
        }
    }

    #[test]
    fn probes_change_nothing_and_get_every_steps_gradient() {
        let d = Device::Cpu;
        for cell in Cell::ALL {
            let m = Recurrent::new(shape(cell), Init::TorchUniform, 2, &d).unwrap();
            let x = Tensor::rand(0f32, 1.0, (4, 6, 3), &d).unwrap();
            let plain = m.forward_standard(&x).unwrap().to_vec2::<f32>().unwrap();
            let probes = m.probes(4, 6).unwrap();
            let logits = m.forward_probed(&x, &probes).unwrap();
            assert_eq!(logits.to_vec2::<f32>().unwrap(), plain, "{cell}");
            let grads = logits.sum_all().unwrap().backward().unwrap();
            for p in &probes {
                let g = grads.get(p.as_tensor()).expect("a probe gradient");
                assert_eq!(g.dims(), &[4, 5]);
            }
        }
    }

    #[test]
    fn the_fused_op_matches_candles_standard_ops() {
        let d = Device::Cpu;
        for cell in Cell::ALL {
            let m = Recurrent::new(shape(cell), Init::TorchUniform, 6, &d).unwrap();
            m.set_forget_bias(1.0).unwrap();
            let x = Tensor::rand(0f32, 1.0, (4, 9, 3), &d).unwrap();
            let probes = m.probes(4, 9).unwrap();
            let standard = m.forward_probed(&x, &probes).unwrap();
            let recorded = TimeGrads::default();
            let fused = m.forward_recorded(&x, &recorded).unwrap();
            let close = |a: &[f32], b: &[f32], what: &str| {
                let diff: f32 = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum();
                let norm: f32 = b.iter().map(|y| y * y).sum();
                assert!(
                    diff.sqrt() <= 1e-5 * norm.sqrt().max(1e-6),
                    "{cell}: {what}"
                );
            };
            let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            close(&flat(&fused), &flat(&standard), "logits");
            // A loss that weighs every logit differently.
            let weights = Tensor::rand(0f32, 1.0, (4, 10), &d).unwrap();
            let loss = |l: &Tensor| (l * &weights).unwrap().sum_all().unwrap();
            let g_std = loss(&standard).backward().unwrap();
            let g_fused = loss(&fused).backward().unwrap();
            for v in m.vars() {
                let (a, b) = (g_fused.get(&v).unwrap(), g_std.get(&v).unwrap());
                close(&flat(a), &flat(b), "a parameter's gradient");
            }
            let dh: Vec<f32> = probes
                .iter()
                .flat_map(|p| flat(g_std.get(p.as_tensor()).unwrap()))
                .collect();
            close(&recorded.values().unwrap(), &dh, "dL/dh_t");
        }
    }

    #[test]
    fn forget_bias_sets_the_forget_slice_of_bias_ih_and_zeroes_bias_hh() {
        let m = Recurrent::new(shape(Cell::Lstm), Init::TorchUniform, 3, &Device::Cpu).unwrap();
        let before = m.bias_ih.to_vec1::<f32>().unwrap();
        m.set_forget_bias(1.0).unwrap();
        let (ih, hh) = (
            m.bias_ih.to_vec1::<f32>().unwrap(),
            m.bias_hh.to_vec1::<f32>().unwrap(),
        );
        assert!(ih[5..10].iter().all(|&v| v == 1.0));
        assert!(hh[5..10].iter().all(|&v| v == 0.0));
        assert_eq!(ih[..5], before[..5]);
        assert_eq!(ih[10..], before[10..]);
    }

    #[test]
    fn orthogonal_recurrent_kernel_has_orthonormal_rows() {
        let m = Recurrent::new(shape(Cell::Gru), Init::Orthogonal, 4, &Device::Cpu).unwrap();
        // (G·H, H) stored; as Keras' (H, G·H) kernel its rows are orthonormal.
        let k = m.weight_hh.t().unwrap();
        let gram = k.matmul(&k.t().unwrap()).unwrap().to_vec2::<f32>().unwrap();
        for (i, row) in gram.iter().enumerate() {
            for (j, &v) in row.iter().enumerate() {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((v - want).abs() < 1e-5, "{i},{j}: {v}");
            }
        }
        let bias = m.bias_ih.to_vec1::<f32>().unwrap();
        assert!(bias.iter().all(|&v| v == 0.0));
    }
}
