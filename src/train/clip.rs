//! Global gradient-norm clipping, as `torch.nn.utils.clip_grad_norm_`.
//!
//! The total norm is the L2 norm of all the parameters' gradients taken as
//! one vector (the square root of the sum of their squared norms); when it
//! exceeds `max_norm`, every gradient is multiplied by
//! `max_norm / (total + 1e-6)`, PyTorch's coefficient, epsilon included.

use candle_core::backprop::GradStore;
use candle_core::{Result, Var};

/// PyTorch's guard against dividing by a zero norm.
const EPS: f64 = 1e-6;

/// Clips the gradients of `vars` in `grads` to a total norm of `max_norm`
/// (a variable without a gradient counts as zero). Returns the total norm
/// before clipping.
pub fn clip_grad_norm(grads: &mut GradStore, vars: &[Var], max_norm: f64) -> Result<f64> {
    let mut squares = 0.0;
    for var in vars {
        if let Some(grad) = grads.get(var.as_tensor()) {
            squares += crate::cpu::with_f32(grad, |g| {
                g.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>()
            })?;
        }
    }
    let total = squares.sqrt();
    let coef = scale(total, max_norm);
    if coef < 1.0 {
        for var in vars {
            if let Some(grad) = grads.get(var.as_tensor()) {
                let clipped = grad.affine(coef, 0.0)?;
                grads.insert(var.as_tensor(), clipped);
            }
        }
    }
    Ok(total)
}

/// What clipping multiplies the gradients by when their total norm is
/// `total`: `max_norm / (total + 1e-6)` where that is below 1 (the step is
/// clipped), else 1.
pub fn scale(total: f64, max_norm: f64) -> f64 {
    let coef = max_norm / (total + EPS);
    if coef < 1.0 {
        coef
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    /// Formerly a doctest: the module is private.
    #[test]
    fn clip_grad_norm_scales() -> Result<(), candle_core::Error> {
        use candle_core::{Device, Var};
        let w = Var::new(&[3f32, 4.0], &Device::Cpu)?;
        let mut grads = (w.as_tensor() * 1.0)?.sum_all()?.backward()?; // gradient [1, 1]
        let total = crate::train::clip::clip_grad_norm(&mut grads, std::slice::from_ref(&w), 1.0)?;
        assert!((total - 2f64.sqrt()).abs() < 1e-6);
        let clipped = grads.get(w.as_tensor()).unwrap().to_vec1::<f32>()?;
        assert!((clipped[0] - 1.0 / (2f32.sqrt() + 1e-6)).abs() < 1e-6);
        Ok(())
    }

    /// Formerly a doctest: the module is private.
    #[test]
    fn scale_of_norms() {
        use crate::train::clip::scale;
        assert_eq!(scale(0.5, 1.0), 1.0);
        assert!((scale(4.0, 1.0) - 0.25).abs() < 1e-6);
    }
}
