//! The recurrent layer over a whole sequence as one candle op, on the CPU.
//!
//! Written with candle's standard ops ([`Recurrent::forward_standard`]), a
//! step of an LSTM is about twenty tensor ops forward and twice as many
//! backward, each allocating its result: over 28 steps that per-op
//! overhead, not arithmetic, was most of a training step (10 ms against
//! PyTorch's 3 ms for an LSTM of 64 on rows of MNIST). This op runs the
//! recurrence in one pass: per step one product `h W_hhᵀ` (candle's gemm,
//! as [`super::dense`] calls it) and one loop over the gates; backward, per
//! step one product for `dL/dh_{t-1}`, then one product over all steps for
//! `dL/dW_hh`.
//!
//! Its inputs are the input projections of every step, `x_t W_ihᵀ + b_ih`
//! (plus `b_hh` for the RNN and LSTM, which only ever add the two biases;
//! computed by the caller as one product over the sequence, so candle's
//! autograd takes `W_ih` and the biases), `W_hh` and `b_hh` (the GRU's,
//! which it needs inside the reset gate; zeros otherwise); its output is
//! every hidden state `h_1..h_T`. The equations are
//! [`crate::model::recurrent`]'s. The op keeps what its backward pass
//! needs (the states and gate activations), as autograd frameworks save
//! tensors, and records dL/dh_t for every t in the [`TimeGrads`] it was
//! given: the same numbers the probes of the standard forward read.
//!
//! [`Recurrent::forward_standard`]: crate::model::Recurrent::forward_standard

use std::sync::{Arc, Mutex};

use candle_core::{bail, CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use multiversion::multiversion;

use crate::cpu::{contiguous, with_f32};
use crate::model::dense::{product, Matrix};
use crate::model::Cell;

const NAME: &str = "recurrent-sequence";

/// Where the op's backward pass leaves dL/dh_t: `(steps, batch, hidden)`,
/// row-major, once a backward pass has run through the op.
#[derive(Debug, Clone, Default)]
pub struct TimeGrads(Arc<Mutex<Option<Vec<f32>>>>);

impl TimeGrads {
    /// ||dL/dh_t|| for t = 1..T (the L2 norm over the batch and the hidden
    /// units), if a backward pass has run.
    pub fn norms(&self, steps: usize) -> Option<Vec<f64>> {
        let grads = self.0.lock().ok()?;
        let grads = grads.as_ref()?;
        let per_step = grads.len() / steps.max(1);
        Some(
            grads
                .chunks_exact(per_step.max(1))
                .map(|g| g.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt())
                .collect(),
        )
    }

    /// dL/dh_t for t = 1..T, `(steps, batch, hidden)` row-major, if a
    /// backward pass has run.
    pub fn values(&self) -> Option<Vec<f32>> {
        self.0.lock().ok()?.clone()
    }
}

/// Every hidden state `(steps, batch, hidden)` of `cell` over the input
/// projections `xp` `(steps, batch, gates·hidden)`, with the recurrent
/// kernel `w_hh` `(gates·hidden, hidden)` and bias `b_hh` `(gates·hidden)`
/// (added inside for the GRU only: see the module doc). The backward pass
/// leaves dL/dh_t in `time_grads`.
pub fn forward(
    cell: Cell,
    xp: &Tensor,
    w_hh: &Tensor,
    b_hh: &Tensor,
    time_grads: TimeGrads,
) -> Result<Tensor> {
    xp.apply_op3(
        w_hh,
        b_hh,
        SequenceOp {
            cell,
            saved: Mutex::new(None),
            time_grads,
        },
    )
}

struct SequenceOp {
    cell: Cell,
    saved: Mutex<Option<Saved>>,
    time_grads: TimeGrads,
}

/// What the forward pass keeps for the backward pass.
struct Saved {
    /// `h_0..h_T`, `(steps + 1, batch, hidden)`.
    h: Vec<f32>,
    /// The LSTM's `c_0..c_T`; empty for the others.
    c: Vec<f32>,
    /// The LSTM's `tanh(c_1)..tanh(c_T)`.
    tanh_c: Vec<f32>,
    /// Gate activations per step, `(steps, batch, gates·hidden)`: the
    /// LSTM's i, f, g, o; the GRU's r, z, n (the RNN needs only `h`).
    acts: Vec<f32>,
    /// The GRU's `W_hn h + b_hn` per step, `(steps, batch, hidden)`.
    gh_n: Vec<f32>,
}

/// `out = a + b`, elementwise.
fn add(out: &mut [f32], a: &[f32], b: &[f32]) {
    for ((o, &a), &b) in out.iter_mut().zip(a).zip(b) {
        *o = a + b;
    }
}

/// e^x to about 2 ulp (Cephes' `expf`: e^x = 2^n e^r, a degree-6
/// polynomial for e^r), written without calls or branches so that the loops
/// below compile to vector instructions: libm's `expf` and `tanhf`, one
/// value at a time, were half of an LSTM step.
#[inline(always)]
fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2E + 0.5).floor();
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let mut p = 1.987_569_1e-4;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5;
    let e_r = p * r * r + r + 1.0;
    e_r * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// tanh: `(1 - e)/(1 + e)` with `e = e^{-2|x|}`, and near 0, where that
/// loses digits, its series `x - x³/3 + 2x⁵/15`.
#[inline(always)]
fn tanh(x: f32) -> f32 {
    let e = exp(-2.0 * x.abs());
    let far = ((1.0 - e) / (1.0 + e)).copysign(x);
    let x2 = x * x;
    let near = x * (1.0 + x2 * (-1.0 / 3.0 + x2 * (2.0 / 15.0)));
    if x.abs() < 0.01 {
        near
    } else {
        far
    }
}

#[multiversion(targets = "simd")]
fn sigmoid_in_place(values: &mut [f32]) {
    for v in values {
        *v = 1.0 / (1.0 + exp(-*v));
    }
}

#[multiversion(targets = "simd")]
fn tanh_in_place(values: &mut [f32]) {
    for v in values {
        *v = tanh(*v);
    }
}

/// `(steps, batch, hidden)` from the operands' shapes.
fn sizes(cell: Cell, xp: &[usize], w: &[usize], b: &[usize]) -> Result<(usize, usize, usize)> {
    let g = cell.gates();
    match (xp, w, b) {
        (&[steps, batch, gh], &[w_rows, hidden], &[b_len])
            if gh == g * hidden && w_rows == gh && b_len == gh =>
        {
            Ok((steps, batch, hidden))
        }
        _ => bail!(
            "{NAME}: expected (steps, batch, {g}·hidden), ({g}·hidden, hidden) and ({g}·hidden,) \
             operands, got {xp:?}, {w:?} and {b:?}"
        ),
    }
}

impl CustomOp3 for SequenceOp {
    fn name(&self) -> &'static str {
        NAME
    }

    fn cpu_fwd(
        &self,
        xp: &CpuStorage,
        xpl: &Layout,
        w: &CpuStorage,
        wl: &Layout,
        b: &CpuStorage,
        bl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (steps, batch, hidden) = sizes(self.cell, xpl.dims(), wl.dims(), bl.dims())?;
        let (xp, w, b) = (
            contiguous::<f32>(NAME, xp, xpl)?,
            contiguous::<f32>(NAME, w, wl)?,
            contiguous::<f32>(NAME, b, bl)?,
        );
        let gh_width = self.cell.gates() * hidden;
        let state = batch * hidden;
        let mut h = vec![0f32; (steps + 1) * state];
        let lstm = self.cell == Cell::Lstm;
        let gru = self.cell == Cell::Gru;
        let mut c = if lstm {
            vec![0f32; (steps + 1) * state]
        } else {
            Vec::new()
        };
        let mut acts = vec![0f32; steps * batch * gh_width];
        let mut gh_n = if gru {
            vec![0f32; steps * state]
        } else {
            Vec::new()
        };
        // W_hhᵀ row-major: gemm reads it faster than a transposed view.
        let w_t_data = Matrix::new(w, gh_width, hidden).t().to_row_major();
        let w_t = Matrix::new(&w_t_data, hidden, gh_width);
        let mut tanh_c = if lstm {
            vec![0f32; steps * state]
        } else {
            Vec::new()
        };
        for t in 0..steps {
            let (before, after) = h.split_at_mut((t + 1) * state);
            let h_prev = &before[t * state..];
            let h_next = &mut after[..state];
            let gh = product(Matrix::new(h_prev, batch, hidden), w_t);
            let xp_t = &xp[t * batch * gh_width..(t + 1) * batch * gh_width];
            let acts_t = &mut acts[t * batch * gh_width..(t + 1) * batch * gh_width];
            for n in 0..batch {
                let row = n * gh_width;
                let (x, g, a) = (
                    &xp_t[row..row + gh_width],
                    &gh[row..row + gh_width],
                    &mut acts_t[row..row + gh_width],
                );
                let hp = &h_prev[n * hidden..(n + 1) * hidden];
                let hn = &mut h_next[n * hidden..(n + 1) * hidden];
                match self.cell {
                    Cell::Rnn => {
                        add(hn, x, g);
                        tanh_in_place(hn);
                    }
                    Cell::Lstm => {
                        add(a, x, g);
                        let (ifg, o) = a.split_at_mut(3 * hidden);
                        let (i_f, gg) = ifg.split_at_mut(2 * hidden);
                        sigmoid_in_place(i_f);
                        tanh_in_place(gg);
                        sigmoid_in_place(o);
                        let (i, f) = i_f.split_at(hidden);
                        let cp = &c[t * state + n * hidden..t * state + (n + 1) * hidden];
                        let mut cn = vec![0f32; hidden];
                        for j in 0..hidden {
                            cn[j] = f[j] * cp[j] + i[j] * gg[j];
                        }
                        let tc = &mut tanh_c[t * state + n * hidden..t * state + (n + 1) * hidden];
                        tc.copy_from_slice(&cn);
                        tanh_in_place(tc);
                        for j in 0..hidden {
                            hn[j] = o[j] * tc[j];
                        }
                        c[(t + 1) * state + n * hidden..(t + 1) * state + (n + 1) * hidden]
                            .copy_from_slice(&cn);
                    }
                    Cell::Gru => {
                        let ghn = &mut gh_n[t * state + n * hidden..t * state + (n + 1) * hidden];
                        let (rz, nn) = a.split_at_mut(2 * hidden);
                        for j in 0..2 * hidden {
                            rz[j] = x[j] + g[j] + b[j];
                        }
                        sigmoid_in_place(rz);
                        for j in 0..hidden {
                            ghn[j] = g[2 * hidden + j] + b[2 * hidden + j];
                            nn[j] = x[2 * hidden + j] + rz[j] * ghn[j];
                        }
                        tanh_in_place(nn);
                        for j in 0..hidden {
                            let z = rz[hidden + j];
                            hn[j] = (1.0 - z) * nn[j] + z * hp[j];
                        }
                    }
                }
            }
        }
        let out = h[state..].to_vec();
        let saved = Saved {
            h,
            c,
            tanh_c,
            acts,
            gh_n,
        };
        match self.saved.lock() {
            Ok(mut slot) if slot.is_none() => *slot = Some(saved),
            _ => bail!("{NAME}: the op ran forward twice"),
        }
        Ok((CpuStorage::F32(out), Shape::from((steps, batch, hidden))))
    }

    fn bwd(
        &self,
        xp: &Tensor,
        w: &Tensor,
        b: &Tensor,
        _out: &Tensor,
        grad_out: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (steps, batch, hidden) = sizes(self.cell, xp.dims(), w.dims(), b.dims())?;
        let saved = self.saved.lock().ok();
        let Some(Saved {
            h,
            c,
            tanh_c,
            acts,
            gh_n,
        }) = saved.as_ref().and_then(|s| s.as_ref())
        else {
            bail!("{NAME}: backward before forward");
        };
        let gh_width = self.cell.gates() * hidden;
        let state = batch * hidden;
        let w_data = w.flatten_all()?.to_vec1::<f32>()?;
        let w_m = Matrix::new(&w_data, gh_width, hidden);
        let grad_out = with_f32(grad_out, |g| g.to_vec())?;
        // dL/d(pre-activation) of the x and of the h projections: equal but
        // for the GRU's n gate, where r multiplies the h side.
        let mut d_xp = vec![0f32; steps * batch * gh_width];
        let mut d_gh = vec![0f32; steps * batch * gh_width];
        let mut dh_all = vec![0f32; steps * state];
        let mut dh_next = vec![0f32; state];
        let mut dc_next = vec![0f32; state];
        for t in (0..steps).rev() {
            let dh = &mut dh_all[t * state..(t + 1) * state];
            for ((d, &g), &n) in dh.iter_mut().zip(&grad_out[t * state..]).zip(&dh_next) {
                *d = g + n;
            }
            let range = t * batch * gh_width..(t + 1) * batch * gh_width;
            let a_t = &acts[range.clone()];
            let h_prev = &h[t * state..(t + 1) * state];
            let h_t = &h[(t + 1) * state..(t + 2) * state];
            let (dx_t, dg_t) = (&mut d_xp[range.clone()], &mut d_gh[range]);
            // What reaches h_{t-1} directly, not through W_hh (the GRU's z path).
            let mut dh_direct = vec![0f32; state];
            for n in 0..batch {
                let row = n * gh_width;
                let (a, dx, dg) = (
                    &a_t[row..row + gh_width],
                    &mut dx_t[row..row + gh_width],
                    &mut dg_t[row..row + gh_width],
                );
                let k = n * hidden;
                let d = &dh[k..k + hidden];
                match self.cell {
                    Cell::Rnn => {
                        let y = &h_t[k..k + hidden];
                        for j in 0..hidden {
                            dx[j] = d[j] * (1.0 - y[j] * y[j]);
                            dg[j] = dx[j];
                        }
                    }
                    Cell::Lstm => {
                        let (i, f, g, o) = (
                            &a[..hidden],
                            &a[hidden..2 * hidden],
                            &a[2 * hidden..3 * hidden],
                            &a[3 * hidden..],
                        );
                        let c_prev = &c[t * state + k..t * state + k + hidden];
                        let tc = &tanh_c[t * state + k..t * state + k + hidden];
                        let dc_carry = &mut dc_next[k..k + hidden];
                        let (dx_i, rest) = dx.split_at_mut(hidden);
                        let (dx_f, rest) = rest.split_at_mut(hidden);
                        let (dx_g, dx_o) = rest.split_at_mut(hidden);
                        for j in 0..hidden {
                            let dc = dc_carry[j] + d[j] * o[j] * (1.0 - tc[j] * tc[j]);
                            dc_carry[j] = dc * f[j];
                            dx_i[j] = dc * g[j] * i[j] * (1.0 - i[j]);
                            dx_f[j] = dc * c_prev[j] * f[j] * (1.0 - f[j]);
                            dx_g[j] = dc * i[j] * (1.0 - g[j] * g[j]);
                            dx_o[j] = d[j] * tc[j] * o[j] * (1.0 - o[j]);
                        }
                        dg.copy_from_slice(dx);
                    }
                    Cell::Gru => {
                        let (r, z, nn) = (&a[..hidden], &a[hidden..2 * hidden], &a[2 * hidden..]);
                        let ghn = &gh_n[t * state + k..t * state + k + hidden];
                        let hp = &h_prev[k..k + hidden];
                        let direct = &mut dh_direct[k..k + hidden];
                        for j in 0..hidden {
                            let dn_pre = d[j] * (1.0 - z[j]) * (1.0 - nn[j] * nn[j]);
                            let dz_pre = d[j] * (hp[j] - nn[j]) * z[j] * (1.0 - z[j]);
                            let dr_pre = dn_pre * ghn[j] * r[j] * (1.0 - r[j]);
                            direct[j] = d[j] * z[j];
                            dx[j] = dr_pre;
                            dx[hidden + j] = dz_pre;
                            dx[2 * hidden + j] = dn_pre;
                            dg[j] = dr_pre;
                            dg[hidden + j] = dz_pre;
                            dg[2 * hidden + j] = dn_pre * r[j];
                        }
                    }
                }
            }
            let through_w = product(Matrix::new(dg_t, batch, gh_width), w_m);
            for ((n, &p), &direct) in dh_next.iter_mut().zip(&through_w).zip(&dh_direct) {
                *n = p + direct;
            }
        }
        // dW_hh = Σ_t dghᵀ h_{t-1}: one product over every step.
        let d_w = product(
            Matrix::new(&d_gh, steps * batch, gh_width).t(),
            Matrix::new(&h[..steps * state], steps * batch, hidden),
        );
        let mut d_b = vec![0f32; gh_width];
        if self.cell == Cell::Gru {
            for row in d_gh.chunks_exact(gh_width) {
                d_b.iter_mut().zip(row).for_each(|(s, &v)| *s += v);
            }
        }
        if let Ok(mut slot) = self.time_grads.0.lock() {
            *slot = Some(dh_all);
        }
        let device = xp.device();
        Ok((
            Some(Tensor::from_vec(d_xp, xp.shape(), device)?),
            Some(Tensor::from_vec(d_w, w.shape(), device)?),
            Some(Tensor::from_vec(d_b, b.shape(), device)?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_and_tanh_are_within_a_few_ulp() {
        let mut worst = (0f64, 0f64);
        for i in -20_000..=20_000 {
            let x = i as f32 * 0.004;
            let e = f64::from(x).exp();
            worst.0 = worst.0.max((f64::from(exp(x)) - e).abs() / e);
            let t = f64::from(x).tanh();
            if t != 0.0 {
                worst.1 = worst.1.max((f64::from(tanh(x)) - t).abs() / t.abs());
            }
        }
        assert!(worst.0 < 3e-7 && worst.1 < 1e-6, "{worst:?}");
        assert_eq!(exp(-200.0), exp(-87.0));
        assert!(tanh(50.0) == 1.0 && tanh(-50.0) == -1.0);
    }
}
