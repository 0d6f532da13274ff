//! Which parameters a backward pass reached: the check that catches a cut
//! graph before a day of training is lost to it.
//!
//! candle's autograd gives a gradient only to the variables the loss
//! depends on through differentiable ops. Several candle-nn ops are fused
//! kernels with no backward pass (`apply_op*_no_bwd`): every parameter
//! upstream of one silently gets no gradient, and an optimizer steps over
//! them without a word. In candle-nn 0.11.1 these are:
//!
//! - `candle_nn::ops::layer_norm`, which [`candle_nn::LayerNorm`]'s
//!   `forward` calls on contiguous input;
//! - `candle_nn::ops::rms_norm`, which [`candle_nn::RmsNorm`]'s `forward`
//!   calls on contiguous input;
//! - `candle_nn::ops::softmax_last_dim`;
//! - the rotary embeddings `candle_nn::rotary_emb::rope`, `rope_i` and
//!   `rope_thd`;
//! - `candle_nn::ops::sdpa` (Metal's attention).
//!
//! The reports: huggingface/candle#2168, #3011 ("only 33% of parameters
//! receive gradients"), #3569 and #3752. The differentiable alternatives:
//! `candle_nn::ops::softmax(xs, D::Minus1)`, and layer or RMS normalisation
//! written from candle's own ops (`LayerNorm`'s `forward` takes that path
//! for non-contiguous input).
//!
//! ```
//! use candle_core::{DType, Device, Module, Tensor};
//! use candle_nn::{linear, VarBuilder, VarMap};
//! use gradscope_candle::connectivity;
//!
//! let varmap = VarMap::new();
//! let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
//! let (fc1, fc2) = (linear(4, 8, vb.pp("fc1"))?, linear(8, 2, vb.pp("fc2"))?);
//! let x = Tensor::randn(0f32, 1.0, (16, 4), &Device::Cpu)?;
//! // softmax_last_dim has no backward pass: fc1 is cut off from the loss.
//! let h = candle_nn::ops::softmax_last_dim(&fc1.forward(&x)?)?;
//! let grads = fc2.forward(&h)?.sqr()?.mean_all()?.backward()?;
//!
//! let report = connectivity(&varmap, &grads)?;
//! assert!(!report.is_connected());
//! assert_eq!(report.without_gradient(), ["fc1.bias", "fc1.weight"]);
//! println!("{report}"); // what it found and the usual causes
//! # Ok::<(), candle_core::Error>(())
//! ```

use std::fmt;

use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor, Var};
use candle_nn::VarMap;

/// What a backward pass gave each parameter; see the [module](self) doc.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connectivity {
    params: usize,
    without_gradient: Vec<String>,
    zero_gradient: Vec<String>,
    nonfinite: Vec<String>,
}

/// Checks every variable of `varmap` against `grads` (the `GradStore` of
/// that model's `loss.backward()`): which have no gradient, a gradient of
/// exactly zero, or NaN or infinite values. Reads every gradient once, on
/// the host.
///
/// ```
/// use candle_core::{Device, Tensor, Var};
/// use candle_nn::VarMap;
/// use gradscope_candle::connectivity;
///
/// let varmap = VarMap::new();
/// let w = Var::new(&[1f32, 2.0], &Device::Cpu)?;
/// varmap.data().lock().unwrap().insert("w".into(), w.clone());
/// let grads = w.as_tensor().sqr()?.sum_all()?.backward()?;
/// let report = connectivity(&varmap, &grads)?;
/// assert!(report.is_connected() && report.nonfinite().is_empty());
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn connectivity(varmap: &VarMap, grads: &GradStore) -> candle_core::Result<Connectivity> {
    let vars: Vec<(String, Var)> = {
        let data = varmap.data().lock().unwrap_or_else(|e| e.into_inner());
        data.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    connectivity_of_vars(vars.iter().map(|(name, var)| (name.as_str(), var)), grads)
}

/// [`connectivity`] of named variables that are not in a `VarMap`.
///
/// ```
/// use candle_core::{Device, Var};
/// use gradscope_candle::connectivity::connectivity_of_vars;
///
/// let (a, b) = (Var::new(&[1f32], &Device::Cpu)?, Var::new(&[2f32], &Device::Cpu)?);
/// // A product with zeros: a is reached, but gets exactly zero.
/// let grads = (a.as_tensor() * a.zeros_like()?)?.sum_all()?.backward()?;
/// let report = connectivity_of_vars([("a", &a), ("b", &b)], &grads)?;
/// assert_eq!(report.without_gradient(), ["b"]);
/// assert_eq!(report.zero_gradient(), ["a"]);
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn connectivity_of_vars<'a>(
    vars: impl IntoIterator<Item = (&'a str, &'a Var)>,
    grads: &GradStore,
) -> candle_core::Result<Connectivity> {
    let mut report = Connectivity {
        params: 0,
        without_gradient: Vec::new(),
        zero_gradient: Vec::new(),
        nonfinite: Vec::new(),
    };
    for (name, var) in vars {
        report.params += 1;
        let Some(grad) = grads.get(var.as_tensor()) else {
            report.without_gradient.push(name.to_string());
            continue;
        };
        let scan = GradScan::of(grad)?;
        if scan.nonfinite > 0 {
            report.nonfinite.push(name.to_string());
        } else if scan.nonzero == 0 {
            report.zero_gradient.push(name.to_string());
        }
    }
    report.without_gradient.sort();
    report.zero_gradient.sort();
    report.nonfinite.sort();
    Ok(report)
}

impl Connectivity {
    /// How many parameters were checked.
    pub fn params(&self) -> usize {
        self.params
    }

    /// The parameters the `GradStore` holds no gradient for, sorted: the
    /// loss does not reach them through differentiable ops (a no-backward
    /// op, a `detach`, or a frozen or unused parameter).
    pub fn without_gradient(&self) -> &[String] {
        &self.without_gradient
    }

    /// The parameters whose gradient is exactly zero everywhere, sorted:
    /// reached, but nothing flows (dead ReLUs upstream, a multiplication by
    /// zero, a saturated activation in f32).
    pub fn zero_gradient(&self) -> &[String] {
        &self.zero_gradient
    }

    /// The parameters whose gradient holds NaN or infinite values, sorted.
    pub fn nonfinite(&self) -> &[String] {
        &self.nonfinite
    }

    /// Every parameter has a gradient (zero and non-finite ones count as
    /// present: they are reported, but the graph is not cut).
    pub fn is_connected(&self) -> bool {
        self.without_gradient.is_empty()
    }

    /// Connected, and no gradient is all zero or non-finite.
    pub fn is_healthy(&self) -> bool {
        self.is_connected() && self.zero_gradient.is_empty() && self.nonfinite.is_empty()
    }
}

/// Markdown (it goes to TensorBoard's Text dashboard as is): what was found,
/// parameter by parameter, and for each finding its usual causes.
impl fmt::Display for Connectivity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_healthy() {
            return write!(
                f,
                "Every parameter ({}) receives a finite, non-zero gradient.",
                self.params
            );
        }
        let list = |names: &[String]| {
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut paragraphs = Vec::new();
        if !self.without_gradient.is_empty() {
            paragraphs.push(format!(
                "{} of {} parameters receive no gradient: {}. The loss does not reach them \
                 through differentiable ops. The usual cause is a candle-nn op with no backward \
                 pass upstream of them: `ops::layer_norm` (which `LayerNorm::forward` uses on \
                 contiguous input), `ops::rms_norm`, `ops::softmax_last_dim` or the rotary \
                 embeddings (huggingface/candle#2168, #3011, #3569, #3752); use \
                 `ops::softmax(xs, D::Minus1)` or a norm written from candle's own ops. Else a \
                 `detach()`, or a parameter the forward pass does not use (frozen ones are \
                 expected here).",
                self.without_gradient.len(),
                self.params,
                list(&self.without_gradient)
            ));
        }
        if !self.zero_gradient.is_empty() {
            paragraphs.push(format!(
                "{} parameters receive a gradient of exactly zero: {}. Usual causes: every unit \
                 downstream is a dead ReLU, an activation saturated beyond f32's resolution, or \
                 a multiplication by zero (a zero-initialised layer after them).",
                self.zero_gradient.len(),
                list(&self.zero_gradient)
            ));
        }
        if !self.nonfinite.is_empty() {
            paragraphs.push(format!(
                "{} parameters receive NaN or infinite gradients: {}. Usual causes: an overflow \
                 in the forward pass (exp, a large learning rate), log or division of zero, a \
                 NaN in the data.",
                self.nonfinite.len(),
                list(&self.nonfinite)
            ));
        }
        write!(f, "{}", paragraphs.join("\n\n"))
    }
}

/// A gradient's values counted on the host.
pub(crate) struct GradScan {
    /// Finite values other than zero.
    pub nonzero: usize,
    /// NaN and infinite values.
    pub nonfinite: usize,
}

impl GradScan {
    /// Counts `grad`'s values, in f64 for f64 tensors (so a gradient of
    /// 1e-300 is not read as zero) and in f32 for the rest.
    pub fn of(grad: &Tensor) -> candle_core::Result<GradScan> {
        let flat = grad.flatten_all()?;
        let mut scan = GradScan {
            nonzero: 0,
            nonfinite: 0,
        };
        let mut count = |finite: bool, zero: bool| {
            scan.nonfinite += usize::from(!finite);
            scan.nonzero += usize::from(finite && !zero);
        };
        if flat.dtype() == DType::F64 {
            for v in flat.to_vec1::<f64>()? {
                count(v.is_finite(), v == 0.0);
            }
        } else {
            for v in flat.to_dtype(DType::F32)?.to_vec1::<f32>()? {
                count(v.is_finite(), v == 0.0);
            }
        }
        Ok(scan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn var(values: &[f64]) -> Var {
        Var::new(values, &Device::Cpu).unwrap()
    }

    #[test]
    fn zero_and_nonfinite_gradients_are_named_and_sorted() {
        let (zero, inf, nan, fine, unused) = (
            var(&[1.0, 2.0]),
            var(&[1e308]),
            var(&[-1.0]),
            var(&[3.0]),
            var(&[4.0]),
        );
        // zero·0 (a tensor of zeros: candle prunes a scalar 0 factor from
        // the graph), 1e308² overflows to inf, sqrt(-1) is NaN, fine² is fine.
        let zeros = zero.zeros_like().unwrap();
        let loss = ((zero.as_tensor() * zeros).unwrap().sum_all().unwrap()
            + inf.as_tensor().sqr().unwrap().sum_all().unwrap()
            + nan.as_tensor().sqrt().unwrap().sum_all().unwrap()
            + fine.as_tensor().sqr().unwrap().sum_all().unwrap())
        .unwrap();
        let grads = loss.backward().unwrap();
        let report = connectivity_of_vars(
            [
                ("z.zero", &zero),
                ("b.inf", &inf),
                ("a.nan", &nan),
                ("fine", &fine),
                ("unused", &unused),
            ],
            &grads,
        )
        .unwrap();
        assert_eq!(report.params(), 5, "{report:?}");
        assert_eq!(report.zero_gradient(), ["z.zero"], "{report:?}");
        assert_eq!(report.nonfinite(), ["a.nan", "b.inf"]);
        assert_eq!(report.without_gradient(), ["unused"]);
        assert!(!report.is_connected() && !report.is_healthy());
        let text = report.to_string();
        for needle in [
            "`z.zero`",
            "`a.nan`, `b.inf`",
            "`unused`",
            "1 of 5",
            "layer_norm",
        ] {
            assert!(text.contains(needle), "{needle} missing from {text}");
        }
    }

    #[test]
    fn a_tiny_f64_gradient_is_not_zero_and_a_healthy_report_says_so() {
        let w = var(&[1e-300]);
        let grads = (w.as_tensor() * 1e-10)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let report = connectivity_of_vars([("w", &w)], &grads).unwrap();
        assert!(report.is_healthy(), "{report}");
        assert_eq!(
            report.to_string(),
            "Every parameter (1) receives a finite, non-zero gradient."
        );
        // The same gradient in f32 underflows to zero, and is reported so.
        let w32 = Var::new(&[1f32], &Device::Cpu).unwrap();
        let grads = (w32.as_tensor() * 1e-50)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let report = connectivity_of_vars([("w32", &w32)], &grads).unwrap();
        assert_eq!(report.zero_gradient(), ["w32"]);
        assert!(report.is_connected() && !report.is_healthy());
    }
}
