//! A dense layer, `f(x · W + b)`, as one candle op forward and one backward.
//!
//! Composed from candle's ops, a layer is a product, a bias add and an
//! activation forward, and backward twice as many ops plus a reduction for
//! the bias gradient, each allocating and zero-filling its result. For this
//! project's small layers that per-op overhead, not arithmetic, is most of a
//! training step. This op calls the gemm that candle's matmul calls, on the
//! operands where they lie (a transpose is a choice of strides, not a copy),
//! adds the bias and applies the activation in one pass, and computes all
//! three gradients in one backward pass. For the input layer it skips
//! `dL/dx`, the gradient of the data, which nothing needs: a `batch × 784`
//! product as large as the kernel's gradient.
//!
//! The backward pass needs the pre-activation `z = x · W + b`, which a candle
//! op cannot return beside its output; the op keeps it, as autograd
//! frameworks save tensors for backward, and drops it with the graph.

use std::sync::OnceLock;

use candle_core::{bail, CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use gemm::Parallelism;

use crate::cpu::{contiguous, with_f32};
use crate::model::ActivationFn;

/// `f(x · kernel + bias)` for a `(batch, in)` input, an `(in, out)` kernel
/// and an `(out,)` bias. `x_is_data`: `x` is the input batch, and no
/// gradient flows back into it.
pub fn forward(
    x: &Tensor,
    kernel: &Tensor,
    bias: &Tensor,
    f: ActivationFn,
    x_is_data: bool,
) -> Result<Tensor> {
    x.apply_op3(
        kernel,
        bias,
        DenseOp {
            f,
            x_is_data,
            pre_activation: OnceLock::new(),
        },
    )
}

struct DenseOp {
    f: ActivationFn,
    x_is_data: bool,
    /// `x · W + b`, set by the forward pass for the backward pass.
    pre_activation: OnceLock<Vec<f32>>,
}

const NAME: &str = "dense";

/// `(batch, in, out)`, or an error if the operands are not a `(batch, in)`
/// input, an `(in, out)` kernel and an `(out,)` bias.
fn sizes(x: &[usize], w: &[usize], b: &[usize]) -> Result<(usize, usize, usize)> {
    match (x, w, b) {
        (&[batch, inputs], &[w_in, outputs], &[b_out]) if w_in == inputs && b_out == outputs => {
            Ok((batch, inputs, outputs))
        }
        _ => bail!("{NAME}: expected (batch, in), (in, out) and (out,) operands, got {x:?}, {w:?} and {b:?}"),
    }
}

/// A row-major or transposed view of a matrix's data: element `(r, c)` is
/// `data[r * row_stride + c * col_stride]`.
#[derive(Clone, Copy)]
pub(crate) struct Matrix<'a> {
    data: &'a [f32],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a> Matrix<'a> {
    /// `data` as a row-major `rows × cols` matrix.
    pub(crate) fn new(data: &'a [f32], rows: usize, cols: usize) -> Matrix<'a> {
        Matrix {
            data,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The elements as a new row-major vector.
    pub(crate) fn to_row_major(self) -> Vec<f32> {
        let mut out = Vec::with_capacity(self.rows * self.cols);
        for r in 0..self.rows {
            out.extend(
                (0..self.cols).map(|c| self.data[r * self.row_stride + c * self.col_stride]),
            );
        }
        out
    }

    pub(crate) fn t(self) -> Matrix<'a> {
        Matrix {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }
}

/// `lhs · rhs` of row-major matrices on the host, `rows × inner` times
/// `inner × cols`, by the same gemm as the layer's op (the views' forward
/// pass at diagnosed steps uses it). `None` if the slices' lengths do
/// not match the sizes.
pub fn host_product(
    lhs: &[f32],
    rhs: &[f32],
    rows: usize,
    inner: usize,
    cols: usize,
) -> Option<Vec<f32>> {
    if lhs.len() != rows.checked_mul(inner)? || rhs.len() != inner.checked_mul(cols)? {
        return None;
    }
    Some(product(
        Matrix::new(lhs, rows, inner),
        Matrix::new(rhs, inner, cols),
    ))
}

/// Products of at least this many multiply-adds are split across rayon's
/// threads. Measured on 2 cores: a training step's products at batch 30
/// (8-12 M multiply-adds through 512-wide layers) gained nothing from a
/// second thread, the wake-ups eating what the split saved; the accuracy
/// pass's 256-row products (25-100 M) ran about 1.5 times as fast.
const PARALLEL_MACS: usize = 1 << 24;

/// `lhs · rhs` as a new row-major vector, by candle's gemm, on rayon's
/// threads (`--threads`, see `main`) when the product is large enough.
pub(crate) fn product(lhs: Matrix, rhs: Matrix) -> Vec<f32> {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    // What makes the unsafe call below sound: every element the strides
    // reach lies in the slices (checked for real, not only in debug builds,
    // as an out-of-bounds read here would not panic).
    assert!(k == rhs.rows, "{NAME}: {m}x{k} times {}x{n}", rhs.rows);
    for a in [lhs, rhs] {
        if a.rows > 0 && a.cols > 0 {
            let last = (a.rows - 1) * a.row_stride + (a.cols - 1) * a.col_stride;
            assert!(last < a.data.len(), "{NAME}: operand out of bounds");
        }
    }
    let mut out = vec![0f32; m * n];
    if m == 0 || n == 0 || k == 0 {
        return out;
    }
    let threads = rayon::current_num_threads();
    let parallelism = if threads > 1 && m * n * k >= PARALLEL_MACS {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    };
    // SAFETY: `out` is m × n row-major, and the checks above keep every
    // element of lhs (m × k) and rhs (k × n) that the strides reach in
    // bounds. With read_dst false gemm writes `out` without reading it.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            1,
            n as isize,
            false,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            0.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
    out
}

impl CustomOp3 for DenseOp {
    fn name(&self) -> &'static str {
        NAME
    }

    fn cpu_fwd(
        &self,
        x: &CpuStorage,
        xl: &Layout,
        w: &CpuStorage,
        wl: &Layout,
        b: &CpuStorage,
        bl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (batch, inputs, outputs) = sizes(xl.dims(), wl.dims(), bl.dims())?;
        let (x, w, b) = (
            contiguous::<f32>(NAME, x, xl)?,
            contiguous::<f32>(NAME, w, wl)?,
            contiguous::<f32>(NAME, b, bl)?,
        );
        let mut z = product(
            Matrix::new(x, batch, inputs),
            Matrix::new(w, inputs, outputs),
        );
        for row in z.chunks_exact_mut(outputs) {
            for (z, &b) in row.iter_mut().zip(b) {
                *z += b;
            }
        }
        let y = self.f.values(&z);
        if self.pre_activation.set(z).is_err() {
            bail!("{NAME}: the op ran forward twice");
        }
        Ok((CpuStorage::F32(y), Shape::from((batch, outputs))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        b: &Tensor,
        _y: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (batch, inputs, outputs) = sizes(x.dims(), w.dims(), b.dims())?;
        let Some(z) = self.pre_activation.get() else {
            bail!("{NAME}: backward before forward");
        };
        if grad.dims() != [batch, outputs] {
            bail!(
                "{NAME}: gradient of shape {:?} for an output of ({batch}, {outputs})",
                grad.dims()
            );
        }
        // dL/dz = dL/dy · f'(z), then the bias gradient sums it over rows.
        let f = self.f;
        let dz = with_f32(grad, |g| f.gradients(z, g))?;
        let mut db = vec![0f32; outputs];
        for row in dz.chunks_exact(outputs) {
            for (db, &g) in db.iter_mut().zip(row) {
                *db += g;
            }
        }
        let dz_matrix = Matrix::new(&dz, batch, outputs);
        // dL/dW = xᵀ · dL/dz; dL/dx = dL/dz · Wᵀ.
        let dw = with_f32(x, |x| product(Matrix::new(x, batch, inputs).t(), dz_matrix))?;
        let dx = if self.x_is_data {
            None
        } else {
            let dx = with_f32(w, |w| {
                product(dz_matrix, Matrix::new(w, inputs, outputs).t())
            })?;
            Some(Tensor::from_vec(dx, (batch, inputs), x.device())?)
        };
        Ok((
            dx,
            Some(Tensor::from_vec(dw, (inputs, outputs), w.device())?),
            Some(Tensor::from_vec(db, outputs, b.device())?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Formerly a doctest: the module is private.
    #[test]
    fn host_product_of_two_vectors() {
        let product = crate::model::dense::host_product(&[1.0, 2.0], &[3.0, 4.0], 1, 2, 1);
        assert_eq!(product, Some(vec![11.0]));
    }
    use crate::model::{Activation, DEFAULT_LEAKY_SLOPE};
    use candle_core::{Device, Var};

    fn values(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    }

    /// The op against candle's matmul, broadcast add and the elementwise
    /// activation op, for every activation: the same outputs, and the same
    /// gradients for the input, kernel and bias.
    #[test]
    fn matches_the_composition_of_candle_ops() {
        let d = Device::Cpu;
        let x0 = Tensor::new(&[[0.5f32, -1.0, 2.0], [1.5, 0.25, -0.75]], &d).unwrap();
        let w0 = Tensor::new(&[[0.1f32, -0.2], [0.3, 0.4], [-0.5, 0.6]], &d).unwrap();
        let b0 = Tensor::new(&[0.25f32, -0.5], &d).unwrap();
        // Weight the outputs so every element's gradient differs.
        let weights = Tensor::new(&[[1f32, 2.0], [3.0, -4.0]], &d).unwrap();
        for kind in Activation::ALL {
            let f = ActivationFn::new(kind, DEFAULT_LEAKY_SLOPE);
            let vars = || [&x0, &w0, &b0].map(|t| Var::from_tensor(t).unwrap());
            let [x1, w1, b1] = vars();
            let [x2, w2, b2] = vars();
            let fused = forward(x1.as_tensor(), w1.as_tensor(), b1.as_tensor(), f, false).unwrap();
            let z = x2
                .as_tensor()
                .matmul(w2.as_tensor())
                .unwrap()
                .broadcast_add(b2.as_tensor())
                .unwrap();
            let composed = f.apply(&z).unwrap();
            assert_eq!(values(&fused), values(&composed), "{kind}");
            let backward = |y: Tensor| {
                (y * &weights)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .backward()
                    .unwrap()
            };
            let (g1, g2) = (backward(fused), backward(composed));
            for (a, b) in [(&x1, &x2), (&w1, &w2), (&b1, &b2)] {
                let (ga, gb) = (
                    values(g1.get(a.as_tensor()).unwrap()),
                    values(g2.get(b.as_tensor()).unwrap()),
                );
                for (p, q) in ga.iter().zip(&gb) {
                    assert!(
                        (p - q).abs() <= 1e-6 * q.abs().max(1.0),
                        "{kind}: {ga:?} vs {gb:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn no_gradient_for_the_data() {
        let d = Device::Cpu;
        let x = Tensor::new(&[[1f32, 2.0]], &d).unwrap();
        let w = Var::new(&[[0.5f32], [-1.0]], &d).unwrap();
        let b = Var::new(&[0.1f32], &d).unwrap();
        let f = ActivationFn::new(Activation::Linear, 0.0);
        let y = forward(&x, w.as_tensor(), b.as_tensor(), f, true).unwrap();
        let grads = y.sum_all().unwrap().backward().unwrap();
        assert!(grads.get(&x).is_none());
        assert_eq!(values(grads.get(w.as_tensor()).unwrap()), [1.0, 2.0]);
        assert_eq!(values(grads.get(b.as_tensor()).unwrap()), [1.0]);
    }

    #[test]
    fn mismatched_shapes_are_errors() {
        let d = Device::Cpu;
        let x = Tensor::zeros((2, 3), candle_core::DType::F32, &d).unwrap();
        let w = Tensor::zeros((4, 2), candle_core::DType::F32, &d).unwrap();
        let b = Tensor::zeros(2, candle_core::DType::F32, &d).unwrap();
        let f = ActivationFn::new(Activation::Relu, 0.0);
        let err = forward(&x, &w, &b, f, false).unwrap_err().to_string();
        assert!(err.contains("(batch, in), (in, out) and (out,)"), "{err}");
    }
}
