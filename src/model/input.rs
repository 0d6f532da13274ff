//! The input layer's product `x · W`, as an op that does not backpropagate
//! into `x`.
//!
//! `x` is a batch of images: nothing needs its gradient. candle's matmul
//! computes both operands' gradients all the same, and for the input layer
//! the discarded one, `dL/dx`, is a `batch × 784` product: as much arithmetic
//! as the kernel's gradient, plus a zeroed buffer to sum it into. This op
//! runs candle's matmul forward and returns only `dL/dW = xᵀ · dL/dy`.

use candle_core::{CpuStorage, CustomOp2, Device, Layout, Result, Shape, Tensor};

use crate::cpu::contiguous;

/// `x · kernel` for `(batch, in)` data and an `(in, out)` kernel.
pub fn product(x: &Tensor, kernel: &Tensor) -> Result<Tensor> {
    x.apply_op2(kernel, InputProduct)
}

struct InputProduct;

/// A contiguous f32 operand as a tensor of its own (a copy: custom ops get
/// storages, and candle builds tensors only from owned data).
fn operand(op: &str, storage: &CpuStorage, layout: &Layout) -> Result<Tensor> {
    let data = contiguous::<f32>(op, storage, layout)?;
    Tensor::from_slice(data, layout.dims(), &Device::Cpu)
}

impl CustomOp2 for InputProduct {
    fn name(&self) -> &'static str {
        "input-product"
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        xl: &Layout,
        w: &CpuStorage,
        wl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let y = operand(self.name(), x, xl)?.matmul(&operand(self.name(), w, wl)?)?;
        let shape = y.shape().clone();
        Ok((CpuStorage::F32(y.flatten_all()?.to_vec1::<f32>()?), shape))
    }

    fn bwd(
        &self,
        x: &Tensor,
        _kernel: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((None, Some(x.t()?.matmul(grad)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Var;

    #[test]
    fn same_product_and_kernel_gradient_as_matmul() {
        let d = Device::Cpu;
        let x = Tensor::new(&[[1f32, 2.0, 3.0], [-1.0, 0.5, 4.0]], &d).unwrap();
        let w0 = Tensor::new(&[[0.1f32, -0.2], [0.3, 0.4], [-0.5, 0.6]], &d).unwrap();
        let (w1, w2) = (
            Var::from_tensor(&w0).unwrap(),
            Var::from_tensor(&w0).unwrap(),
        );
        let ours = product(&x, w1.as_tensor()).unwrap();
        let theirs = x.matmul(w2.as_tensor()).unwrap();
        let v = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(v(&ours), v(&theirs));
        let weights = Tensor::new(&[[1f32, 2.0], [3.0, 4.0]], &d).unwrap();
        let g1 = (ours * &weights)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let g2 = (theirs * &weights)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        assert_eq!(
            v(g1.get(w1.as_tensor()).unwrap()),
            v(g2.get(w2.as_tensor()).unwrap())
        );
        assert!(g1.get(&x).is_none(), "no gradient for the data");
    }
}
