//! Mean softmax cross-entropy on logits, as one candle op.
//!
//! candle-nn's `cross_entropy` is `log_softmax` then `nll`: about ten tensor
//! ops forward and as many backward. Fused, the forward pass is one op and
//! the gradient, `(softmax(z) - onehot(y)) / batch`, another. Computed in
//! f64 per row (max-subtracted, so no overflow), like PyTorch's
//! `F.cross_entropy` with mean reduction.

use std::sync::OnceLock;

use candle_core::{bail, CpuStorage, CustomOp2, DType, Layout, Result, Shape, Tensor};

use crate::cpu::contiguous;

/// Mean cross-entropy of `(batch, classes)` f32 logits against `(batch,)`
/// u32 labels; a scalar tensor that backpropagates to the logits.
pub fn cross_entropy(logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
    if logits.rank() != 2 || labels.dims() != [logits.dim(0)?] || labels.dtype() != DType::U32 {
        bail!(
            "cross_entropy: expected (batch, classes) logits and (batch,) u32 labels, got {:?} and {:?} {:?}",
            logits.dims(),
            labels.dims(),
            labels.dtype()
        );
    }
    logits.apply_op2(
        labels,
        CrossEntropy {
            log_sum_exp: OnceLock::new(),
        },
    )
}

struct CrossEntropy {
    /// Each row's `ln Σ exp(z_j)`, from the forward pass: the backward pass
    /// needs the same values, and recomputing them was a third of the exps
    /// in a training step.
    log_sum_exp: OnceLock<Vec<f64>>,
}

/// Rows of logits and their labels, checked.
fn rows<'a>(
    op: &str,
    logits: &'a CpuStorage,
    ll: &Layout,
    labels: &'a CpuStorage,
    yl: &Layout,
) -> Result<(&'a [f32], &'a [u32], usize)> {
    let z = contiguous::<f32>(op, logits, ll)?;
    let y = contiguous::<u32>(op, labels, yl)?;
    let classes = ll.dims()[1];
    if let Some(&bad) = y.iter().find(|&&label| label as usize >= classes) {
        bail!("{op}: label {bad} out of range for {classes} classes");
    }
    Ok((z, y, classes))
}

/// `ln Σ exp(z_j)` of one row, stably.
fn log_sum_exp(row: &[f32]) -> f64 {
    let max = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b)) as f64;
    max + row
        .iter()
        .map(|&v| (f64::from(v) - max).exp())
        .sum::<f64>()
        .ln()
}

impl CustomOp2 for CrossEntropy {
    fn name(&self) -> &'static str {
        "cross-entropy"
    }

    fn cpu_fwd(
        &self,
        logits: &CpuStorage,
        ll: &Layout,
        labels: &CpuStorage,
        yl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (z, y, classes) = rows(self.name(), logits, ll, labels, yl)?;
        let lse: Vec<f64> = z.chunks_exact(classes).map(log_sum_exp).collect();
        let total: f64 = z
            .chunks_exact(classes)
            .zip(y)
            .zip(&lse)
            .map(|((row, &label), &lse)| lse - f64::from(row[label as usize]))
            .sum();
        let mean = (total / y.len().max(1) as f64) as f32;
        if self.log_sum_exp.set(lse).is_err() {
            bail!("{}: the op ran forward twice", self.name());
        }
        Ok((CpuStorage::F32(vec![mean]), Shape::from(())))
    }

    fn bwd(
        &self,
        logits: &Tensor,
        labels: &Tensor,
        _loss: &Tensor,
        grad_loss: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let scale = grad_loss.to_dtype(DType::F32)?.to_scalar::<f32>()?;
        let Some(log_sum_exp) = self.log_sum_exp.get() else {
            bail!("{}: backward before forward", self.name());
        };
        let grad = logits.apply_op2_no_bwd(labels, &CrossEntropyGrad { scale, log_sum_exp })?;
        Ok((Some(grad), None))
    }
}

/// `scale · (softmax(z) - onehot(y)) / batch`, from the forward pass's
/// `ln Σ exp(z_j)` per row.
struct CrossEntropyGrad<'a> {
    scale: f32,
    log_sum_exp: &'a [f64],
}

impl CustomOp2 for CrossEntropyGrad<'_> {
    fn name(&self) -> &'static str {
        "cross-entropy-grad"
    }

    fn cpu_fwd(
        &self,
        logits: &CpuStorage,
        ll: &Layout,
        labels: &CpuStorage,
        yl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (z, y, classes) = rows(self.name(), logits, ll, labels, yl)?;
        let factor = f64::from(self.scale) / y.len().max(1) as f64;
        if self.log_sum_exp.len() != y.len() {
            bail!(
                "{}: {} rows but {} from the forward pass",
                self.name(),
                y.len(),
                self.log_sum_exp.len()
            );
        }
        let mut grad = Vec::with_capacity(z.len());
        for ((row, &label), &lse) in z.chunks_exact(classes).zip(y).zip(self.log_sum_exp) {
            grad.extend(row.iter().enumerate().map(|(j, &v)| {
                let p = (f64::from(v) - lse).exp();
                let target = f64::from(u8::from(j == label as usize));
                ((p - target) * factor) as f32
            }));
        }
        Ok((CpuStorage::F32(grad), ll.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    #[test]
    fn matches_candle_nn_loss_and_gradient() {
        let d = Device::Cpu;
        let z = Tensor::new(
            &[[1.0f32, -2.0, 0.5], [30.0, 0.0, -30.0], [0.1, 0.2, 0.3]],
            &d,
        )
        .unwrap();
        let y = Tensor::new(&[2u32, 1, 0], &d).unwrap();
        let ours = Var::from_tensor(&z).unwrap();
        let theirs = Var::from_tensor(&z).unwrap();
        let l1 = cross_entropy(ours.as_tensor(), &y).unwrap();
        let l2 = candle_nn::loss::cross_entropy(theirs.as_tensor(), &y).unwrap();
        let (a, b) = (
            l1.to_scalar::<f32>().unwrap(),
            l2.to_scalar::<f32>().unwrap(),
        );
        assert!((a - b).abs() < 1e-5 * b.abs(), "{a} vs {b}");
        // Scale the loss so the incoming gradient is not 1.
        let g1 = (l1 * 3.0).unwrap().backward().unwrap();
        let g2 = (l2 * 3.0).unwrap().backward().unwrap();
        let a = g1
            .get(ours.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let b = g2
            .get(theirs.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-6, "{a:?} vs {b:?}");
        }
    }

    #[test]
    fn bad_shapes_and_labels_are_errors() {
        let d = Device::Cpu;
        let z = Tensor::zeros((2, 3), DType::F32, &d).unwrap();
        assert!(cross_entropy(&z, &Tensor::new(&[0u32], &d).unwrap()).is_err());
        let err = cross_entropy(&z, &Tensor::new(&[0u32, 3], &d).unwrap()).unwrap_err();
        assert!(err.to_string().contains("label 3"), "{err}");
    }
}
