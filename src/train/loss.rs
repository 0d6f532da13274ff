//! Mean softmax cross-entropy on logits, as one candle op.
//!
//! candle-nn's `cross_entropy` is `log_softmax` then `nll`: about ten tensor
//! ops forward and as many backward. Fused, the forward pass is one op and
//! the gradient, `(softmax(z) - onehot(y)) / batch`, another. Computed in
//! f64 per row (max-subtracted, so no overflow), like PyTorch's
//! `F.cross_entropy` with mean reduction.

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
    logits.apply_op2(labels, CrossEntropy)
}

struct CrossEntropy;

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
        let total: f64 = z
            .chunks_exact(classes)
            .zip(y)
            .map(|(row, &label)| log_sum_exp(row) - f64::from(row[label as usize]))
            .sum();
        let mean = (total / y.len().max(1) as f64) as f32;
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
        let grad = logits.apply_op2_no_bwd(labels, &CrossEntropyGrad { scale })?;
        Ok((Some(grad), None))
    }
}

/// `scale · (softmax(z) - onehot(y)) / batch`.
struct CrossEntropyGrad {
    scale: f32,
}

impl CustomOp2 for CrossEntropyGrad {
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
        let mut grad = Vec::with_capacity(z.len());
        for (row, &label) in z.chunks_exact(classes).zip(y) {
            let lse = log_sum_exp(row);
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
