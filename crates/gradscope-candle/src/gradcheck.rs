//! Gradient checking: autograd's gradients against central finite
//! differences, for any loss over a `VarMap`'s variables — what PyTorch's
//! `torch.autograd.gradcheck` is, for candle. Use it on every `CustomOp`
//! whose backward pass you wrote.
//!
//! For each checked entry `x` of a variable, the numerical derivative is
//! `(L(x + eps) − L(x − eps)) / (x⁺ − x⁻)`, where `x⁺` and `x⁻` are
//! `x ± eps` as the variable's dtype stores them (in f32, `x + eps` is
//! rounded, and dividing by the rounded difference removes that error).
//! Autograd's `a` and the numerical `n` are compared by the **relative
//! error** `|a − n| / max(|a|, |n|, floor)`: relative where the derivative
//! is large, absolute (scaled by `1 / floor`) where both are below `floor`,
//! so derivatives that are zero or nearly so are not judged by the rounding
//! noise of their ratio.
//!
//! **The defaults, per dtype** ([`GradcheckOptions::for_dtype`]): the
//! numerical derivative has two errors, truncation `eps² |L'''| / 6` and
//! rounding `δ |L| / eps`, where `δ` is the loss's relative rounding error
//! (a few units of the dtype's precision: 1.1e-16 in f64, 6e-8 in f32,
//! times the handful of roundings a loss accumulates, say 10).
//!
//! - f64: eps 1e-6, tolerance 1e-5, floor 1e-3. Truncation ~1e-13,
//!   rounding ~1e-9 · |L|: both far below 1e-5 · 1e-3 for losses of order
//!   1 to 100.
//! - f32: eps 1e-2, tolerance 1e-2, floor 1e-2. Rounding 6e-7 · |L| / 1e-2
//!   ≈ 6e-5 · |L| (a smaller eps makes it worse: 1e-3 gives 6e-4 · |L|);
//!   truncation 1.7e-5 · |L'''|. Both stay below 1e-2 · 1e-2 = 1e-4 for
//!   losses up to about 1, and a wrong backward pass is off by far more (a
//!   missing factor or term is an error of order 1). Scale the loss to
//!   about 1, or raise `floor`, for larger losses.
//!
//! A perturbation that crosses a kink (ReLU at 0, a max) makes the
//! difference quotient wrong, not the backward pass: check at inputs away
//! from kinks, and expect rare failures at them, more in f32 (wider eps).
//!
//! ```
//! use candle_core::{DType, Device, Module, Tensor};
//! use candle_nn::{linear, VarBuilder, VarMap};
//! use gradscope_candle::gradcheck::{gradcheck, GradcheckOptions};
//!
//! let varmap = VarMap::new();
//! let vb = VarBuilder::from_varmap(&varmap, DType::F64, &Device::Cpu);
//! let fc = linear(3, 2, vb.pp("fc"))?;
//! let x = Tensor::randn(0f64, 1.0, (4, 3), &Device::Cpu)?;
//! let report = gradcheck(&varmap, || fc.forward(&x)?.tanh()?.sqr()?.mean_all(), GradcheckOptions::default())?;
//! assert!(report.passed(), "{report}");
//! println!("{report}"); // one row per parameter: its worst relative error
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashSet;
use std::fmt;

use candle_core::{DType, Tensor, Var};
use candle_nn::VarMap;

/// How [`gradcheck`] perturbs and judges. `None` fields take the
/// per-dtype defaults of [`GradcheckOptions::for_dtype`] (the module doc
/// derives them), so one `GradcheckOptions::default()` suits f32 and f64.
///
/// ```
/// use candle_core::DType;
/// use gradscope_candle::gradcheck::GradcheckOptions;
///
/// let options = GradcheckOptions::default().tolerance(1e-4).max_entries(16).seed(7);
/// assert_eq!(options.resolve(DType::F64).unwrap().tolerance, 1e-4);
/// assert_eq!(options.resolve(DType::F64).unwrap().eps, 1e-6); // the f64 default
/// assert!(GradcheckOptions::default().eps(-1.0).resolve(DType::F32).is_err());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct GradcheckOptions {
    eps: Option<f64>,
    tolerance: Option<f64>,
    floor: Option<f64>,
    max_entries: usize,
    seed: u64,
}

impl Default for GradcheckOptions {
    /// Per-dtype eps, tolerance and floor; at most
    /// [`GradcheckOptions::DEFAULT_MAX_ENTRIES`] entries per variable;
    /// seed 0.
    fn default() -> GradcheckOptions {
        GradcheckOptions {
            eps: None,
            tolerance: None,
            floor: None,
            max_entries: GradcheckOptions::DEFAULT_MAX_ENTRIES,
            seed: 0,
        }
    }
}

/// The settings one variable is checked with: the options resolved for its
/// dtype.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Settings {
    /// The perturbation, in the variable's units.
    pub eps: f64,
    /// The largest relative error that passes.
    pub tolerance: f64,
    /// Below this magnitude, errors count as absolute (see the module doc).
    pub floor: f64,
}

impl GradcheckOptions {
    /// Entries checked per variable by default; smaller variables are
    /// checked whole. Each entry costs two evaluations of the loss.
    pub const DEFAULT_MAX_ENTRIES: usize = 64;

    /// The defaults for a dtype: f64 eps 1e-6, tolerance 1e-5, floor 1e-3;
    /// f32 eps 1e-2, tolerance 1e-2, floor 1e-2 (the module doc says why).
    /// `None` for other dtypes, whose precision is too coarse for finite
    /// differences to check anything.
    ///
    /// ```
    /// use candle_core::DType;
    /// use gradscope_candle::gradcheck::GradcheckOptions;
    /// assert_eq!(GradcheckOptions::for_dtype(DType::F32).unwrap().eps, 1e-2);
    /// assert!(GradcheckOptions::for_dtype(DType::BF16).is_none());
    /// ```
    pub fn for_dtype(dtype: DType) -> Option<Settings> {
        match dtype {
            DType::F64 => Some(Settings {
                eps: 1e-6,
                tolerance: 1e-5,
                floor: 1e-3,
            }),
            DType::F32 => Some(Settings {
                eps: 1e-2,
                tolerance: 1e-2,
                floor: 1e-2,
            }),
            _ => None,
        }
    }

    /// The perturbation, for every dtype.
    pub fn eps(mut self, eps: f64) -> GradcheckOptions {
        self.eps = Some(eps);
        self
    }

    /// The largest relative error that passes, for every dtype.
    pub fn tolerance(mut self, tolerance: f64) -> GradcheckOptions {
        self.tolerance = Some(tolerance);
        self
    }

    /// The magnitude below which errors count as absolute, for every dtype.
    pub fn floor(mut self, floor: f64) -> GradcheckOptions {
        self.floor = Some(floor);
        self
    }

    /// At most `n` entries per variable, drawn by the seed without
    /// repetition; variables of `n` entries or fewer are checked whole.
    pub fn max_entries(mut self, n: usize) -> GradcheckOptions {
        self.max_entries = n;
        self
    }

    /// The seed of the entries drawn from larger variables: the same seed
    /// checks the same entries.
    pub fn seed(mut self, seed: u64) -> GradcheckOptions {
        self.seed = seed;
        self
    }

    /// The settings for a variable of `dtype`, checked: an error naming the
    /// option that is not a positive finite number, or the dtype.
    pub fn resolve(&self, dtype: DType) -> Result<Settings, GradcheckError> {
        let Some(defaults) = GradcheckOptions::for_dtype(dtype) else {
            return Err(GradcheckError::UnsupportedDType {
                param: String::new(),
                dtype,
            });
        };
        let positive = |option: &'static str, value: Option<f64>, default: f64| match value {
            Some(v) if !(v.is_finite() && v > 0.0) => Err(GradcheckError::InvalidOption {
                option,
                value: v.to_string(),
                expected: "a positive finite number",
            }),
            Some(v) => Ok(v),
            None => Ok(default),
        };
        if self.max_entries == 0 {
            return Err(GradcheckError::InvalidOption {
                option: "max_entries",
                value: "0".into(),
                expected: "at least 1",
            });
        }
        Ok(Settings {
            eps: positive("eps", self.eps, defaults.eps)?,
            tolerance: positive("tolerance", self.tolerance, defaults.tolerance)?,
            floor: positive("floor", self.floor, defaults.floor)?,
        })
    }
}

/// Why [`gradcheck`] could not check (a failed check is a report, not an
/// error).
#[derive(Debug)]
#[non_exhaustive]
pub enum GradcheckError {
    /// The `VarMap` holds no variables.
    NoParameters,
    /// The loss is not a single value.
    NotScalar {
        /// The loss's shape.
        shape: Vec<usize>,
    },
    /// The loss is NaN or infinite: at the variables' values (`param`
    /// empty), or with one entry of `param` perturbed.
    NonFiniteLoss {
        /// The perturbed variable, empty for the unperturbed loss.
        param: String,
        /// The perturbed entry (row-major), 0 for the unperturbed loss.
        index: usize,
        /// The loss.
        value: f64,
    },
    /// A variable's dtype is too coarse for finite differences (f32 and f64
    /// are checked).
    UnsupportedDType {
        /// The variable (empty from [`GradcheckOptions::resolve`]).
        param: String,
        /// Its dtype.
        dtype: DType,
    },
    /// An option out of range.
    InvalidOption {
        /// The option's name.
        option: &'static str,
        /// Its value.
        value: String,
        /// What it must be.
        expected: &'static str,
    },
    /// The loss closure or a tensor operation failed.
    Tensor(candle_core::Error),
}

impl fmt::Display for GradcheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GradcheckError::NoParameters => {
                write!(f, "gradcheck: the VarMap holds no variables to check")
            }
            GradcheckError::NotScalar { shape } => write!(
                f,
                "gradcheck: the loss has shape {shape:?}; return a single value (mean_all or \
                 sum_all)"
            ),
            GradcheckError::NonFiniteLoss {
                param,
                index,
                value,
            } => {
                if param.is_empty() {
                    write!(f, "gradcheck: the loss is {value}; check at finite values")
                } else {
                    write!(
                        f,
                        "gradcheck: the loss is {value} with entry {index} of {param} \
                         perturbed; use a smaller eps"
                    )
                }
            }
            GradcheckError::UnsupportedDType { param, dtype } => write!(
                f,
                "gradcheck: {param} is {dtype:?}; finite differences need f32 or f64 \
                 (convert the model with to_dtype)"
            ),
            GradcheckError::InvalidOption {
                option,
                value,
                expected,
            } => write!(f, "gradcheck: {option} is {value}; expected {expected}"),
            GradcheckError::Tensor(e) => write!(f, "gradcheck: {e}"),
        }
    }
}

impl std::error::Error for GradcheckError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GradcheckError::Tensor(e) => Some(e),
            _ => None,
        }
    }
}

impl From<candle_core::Error> for GradcheckError {
    fn from(e: candle_core::Error) -> GradcheckError {
        GradcheckError::Tensor(e)
    }
}

/// One variable's check.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ParamCheck {
    /// The variable's name in the `VarMap`.
    pub name: String,
    /// Its dtype.
    pub dtype: DType,
    /// What it was checked with.
    pub settings: Settings,
    /// Its number of entries.
    pub entries: usize,
    /// How many were checked.
    pub checked: usize,
    /// Whether autograd gave it a gradient (taken as zero when not).
    pub has_gradient: bool,
    /// The entry (row-major) with the worst relative error.
    pub worst_index: usize,
    /// Autograd's derivative there.
    pub analytic: f64,
    /// The finite-difference derivative there.
    pub numeric: f64,
    /// The worst relative error (infinite where a derivative was not
    /// finite).
    pub worst_error: f64,
}

impl ParamCheck {
    /// The worst error is within the tolerance.
    pub fn passed(&self) -> bool {
        self.worst_error <= self.settings.tolerance
    }
}

/// What [`gradcheck`] found, one [`ParamCheck`] per variable in name order.
#[derive(Debug, Clone, PartialEq)]
pub struct GradcheckReport {
    /// The loss at the variables' values.
    pub loss: f64,
    /// Each variable's check.
    pub params: Vec<ParamCheck>,
}

impl GradcheckReport {
    /// Every variable passed.
    pub fn passed(&self) -> bool {
        self.params.iter().all(ParamCheck::passed)
    }

    /// The worst relative error over every variable (0 for none).
    pub fn worst_error(&self) -> f64 {
        self.params
            .iter()
            .map(|p| p.worst_error)
            .fold(0.0, f64::max)
    }

    /// The variables that failed.
    pub fn failures(&self) -> impl Iterator<Item = &ParamCheck> {
        self.params.iter().filter(|p| !p.passed())
    }
}

/// A table: each variable's worst relative error, where, the two
/// derivatives there, and PASS or FAIL.
impl fmt::Display for GradcheckReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = self
            .params
            .iter()
            .map(|p| p.name.len())
            .chain([9])
            .max()
            .unwrap_or(9);
        writeln!(
            f,
            "{:<width$}  {:>5}  {:>9}  {:>7}  {:>7}  {:>9}  {:>7}  {:>12}  {:>12}  result",
            "parameter", "dtype", "checked", "eps", "tol", "worst err", "at", "autograd", "numeric"
        )?;
        for p in &self.params {
            let result = if p.passed() { "PASS" } else { "FAIL" };
            let note = if p.has_gradient { "" } else { " (no gradient)" };
            writeln!(
                f,
                "{:<width$}  {:>5}  {:>9}  {:>7.0e}  {:>7.0e}  {:>9.2e}  {:>7}  {:>12.5e}  {:>12.5e}  {result}{note}",
                p.name,
                p.dtype.as_str(),
                format!("{}/{}", p.checked, p.entries),
                p.settings.eps,
                p.settings.tolerance,
                p.worst_error,
                p.worst_index,
                p.analytic,
                p.numeric,
            )?;
        }
        let verdict = if self.passed() { "passed" } else { "FAILED" };
        write!(
            f,
            "gradcheck {verdict}: worst relative error {:.2e} (loss {:.6e})",
            self.worst_error(),
            self.loss
        )
    }
}

/// Checks autograd's gradient of `loss` against central finite differences
/// for every variable of `varmap`; see the [module](self) doc. `loss` is
/// called once for autograd and twice per checked entry, and must compute a
/// single value from the variables' current values. The variables hold
/// their original values again when it returns, error or not.
///
/// A deliberately wrong backward pass fails:
///
/// ```
/// use candle_core::{CpuStorage, CustomOp1, Device, Layout, Shape, Tensor, Var};
/// use candle_nn::VarMap;
/// use gradscope_candle::gradcheck::{gradcheck, GradcheckOptions};
///
/// /// x³, with the backward pass of x² (2x instead of 3x²).
/// struct Cube;
/// impl CustomOp1 for Cube {
///     fn name(&self) -> &'static str { "cube" }
///     fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
///         let x = s.as_slice::<f64>()?;
///         let (a, b) = l.contiguous_offsets().unwrap();
///         Ok((CpuStorage::F64(x[a..b].iter().map(|v| v * v * v).collect()), l.shape().clone()))
///     }
///     fn bwd(&self, x: &Tensor, _: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
///         Ok(Some((grad * (x * 2.0)?)?))
///     }
/// }
///
/// let varmap = VarMap::new();
/// let x = Var::new(&[0.5f64, -1.0, 2.0], &Device::Cpu)?;
/// varmap.data().lock().unwrap().insert("x".into(), x.clone());
/// let report = gradcheck(&varmap, || x.as_tensor().apply_op1(Cube)?.sum_all(), GradcheckOptions::default())?;
/// assert!(!report.passed());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn gradcheck<F>(
    varmap: &VarMap,
    mut loss: F,
    options: GradcheckOptions,
) -> Result<GradcheckReport, GradcheckError>
where
    F: FnMut() -> candle_core::Result<Tensor>,
{
    let mut vars: Vec<(String, Var)> = {
        let data = varmap.data().lock().unwrap_or_else(|e| e.into_inner());
        data.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    };
    if vars.is_empty() {
        return Err(GradcheckError::NoParameters);
    }
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    let mut settings = Vec::with_capacity(vars.len());
    for (name, var) in &vars {
        settings.push(options.resolve(var.dtype()).map_err(|e| match e {
            GradcheckError::UnsupportedDType { dtype, .. } => GradcheckError::UnsupportedDType {
                param: name.clone(),
                dtype,
            },
            other => other,
        })?);
    }
    let value = loss()?;
    if value.elem_count() != 1 {
        return Err(GradcheckError::NotScalar {
            shape: value.dims().to_vec(),
        });
    }
    let loss_value = scalar_of(&value)?;
    if !loss_value.is_finite() {
        return Err(GradcheckError::NonFiniteLoss {
            param: String::new(),
            index: 0,
            value: loss_value,
        });
    }
    let grads = value.backward()?;
    let mut params = Vec::with_capacity(vars.len());
    for ((name, var), settings) in vars.iter().zip(settings) {
        let grad = grads.get(var.as_tensor());
        let analytic = match grad {
            Some(g) => host_f64(g)?,
            None => vec![0.0; var.elem_count()],
        };
        let entries = sample_entries(var.elem_count(), options.max_entries, options.seed, name);
        let original = var.as_tensor().copy()?;
        // Whatever happens, the variable gets its value back.
        let checked = check_var(name, var, &analytic, &entries, settings, &mut loss);
        var.set(&original)?;
        let worst = checked?;
        params.push(ParamCheck {
            name: name.clone(),
            dtype: var.dtype(),
            settings,
            entries: var.elem_count(),
            checked: entries.len(),
            has_gradient: grad.is_some(),
            worst_index: worst.index,
            analytic: worst.analytic,
            numeric: worst.numeric,
            worst_error: worst.error,
        });
    }
    Ok(GradcheckReport {
        loss: loss_value,
        params,
    })
}

/// The worst entry of one variable.
struct Worst {
    index: usize,
    analytic: f64,
    numeric: f64,
    error: f64,
}

/// `|a − n| / max(|a|, |n|, floor)`; infinite where either is not finite.
fn relative_error(analytic: f64, numeric: f64, floor: f64) -> f64 {
    if !(analytic.is_finite() && numeric.is_finite()) {
        return f64::INFINITY;
    }
    (analytic - numeric).abs() / analytic.abs().max(numeric.abs()).max(floor)
}

fn check_var<F>(
    name: &str,
    var: &Var,
    analytic: &[f64],
    entries: &[usize],
    settings: Settings,
    loss: &mut F,
) -> Result<Worst, GradcheckError>
where
    F: FnMut() -> candle_core::Result<Tensor>,
{
    let (shape, device, dtype) = (var.shape().clone(), var.device().clone(), var.dtype());
    let mut values = host_f64(var.as_tensor())?;
    let mut worst: Option<Worst> = None;
    for &i in entries {
        let x = values[i];
        // x ± eps as the dtype stores them: the quotient divides by the
        // step actually taken.
        let (plus, minus) = (
            stored(x + settings.eps, dtype),
            stored(x - settings.eps, dtype),
        );
        let mut loss_at = |v: f64| -> Result<f64, GradcheckError> {
            values[i] = v;
            let t = Tensor::from_vec(values.clone(), shape.clone(), &device)?.to_dtype(dtype)?;
            var.set(&t)?;
            let l = scalar_of(&loss()?)?;
            if !l.is_finite() {
                return Err(GradcheckError::NonFiniteLoss {
                    param: name.to_string(),
                    index: i,
                    value: l,
                });
            }
            Ok(l)
        };
        let (l_plus, l_minus) = (loss_at(plus)?, loss_at(minus)?);
        values[i] = x;
        let numeric = (l_plus - l_minus) / (plus - minus);
        let error = relative_error(analytic[i], numeric, settings.floor);
        if worst.as_ref().is_none_or(|w| error > w.error) {
            worst = Some(Worst {
                index: i,
                analytic: analytic[i],
                numeric,
                error,
            });
        }
    }
    // An empty variable: nothing to get wrong.
    Ok(worst.unwrap_or(Worst {
        index: 0,
        analytic: 0.0,
        numeric: 0.0,
        error: 0.0,
    }))
}

/// `v` rounded to what `dtype` stores, back in f64.
fn stored(v: f64, dtype: DType) -> f64 {
    match dtype {
        DType::F32 => f64::from(v as f32),
        _ => v,
    }
}

fn host_f64(t: &Tensor) -> candle_core::Result<Vec<f64>> {
    t.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()
}

fn scalar_of(t: &Tensor) -> candle_core::Result<f64> {
    t.flatten_all()?
        .to_dtype(DType::F64)?
        .to_vec1::<f64>()
        .map(|v| v[0])
}

/// The entries to check, ascending: all of them for `n <= max`, else `max`
/// distinct ones drawn by a generator seeded from `seed` and the name (so
/// a variable's entries do not depend on the others).
fn sample_entries(n: usize, max: usize, seed: u64, name: &str) -> Vec<usize> {
    if n <= max {
        return (0..n).collect();
    }
    // FNV-1a of the name, mixed with the seed.
    let name_hash = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut state = seed ^ name_hash;
    let mut next = move || {
        // SplitMix64.
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    // Floyd's sampling: `max` distinct values in O(max), whatever `n` is.
    let mut chosen = HashSet::with_capacity(max);
    for j in n - max..n {
        let t = (next() % (j as u64 + 1)) as usize;
        if !chosen.insert(t) {
            chosen.insert(j);
        }
    }
    let mut entries: Vec<usize> = chosen.into_iter().collect();
    entries.sort_unstable();
    entries
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{CpuStorage, CustomOp1, Device, Layout, Module, Shape};
    use candle_nn::{linear, VarBuilder};

    /// x³ as a custom op, with the right backward pass (3x²) or the one of
    /// x² (2x).
    struct Cube {
        wrong_backward: bool,
    }

    impl CustomOp1 for Cube {
        fn name(&self) -> &'static str {
            "cube"
        }

        fn cpu_fwd(
            &self,
            storage: &CpuStorage,
            layout: &Layout,
        ) -> candle_core::Result<(CpuStorage, Shape)> {
            let Some((start, end)) = layout.contiguous_offsets() else {
                candle_core::bail!("cube: contiguous input only");
            };
            let out = match storage {
                CpuStorage::F32(x) => {
                    CpuStorage::F32(x[start..end].iter().map(|v| v * v * v).collect())
                }
                CpuStorage::F64(x) => {
                    CpuStorage::F64(x[start..end].iter().map(|v| v * v * v).collect())
                }
                _ => candle_core::bail!("cube: f32 or f64 only"),
            };
            Ok((out, layout.shape().clone()))
        }

        fn bwd(
            &self,
            x: &Tensor,
            _: &Tensor,
            grad: &Tensor,
        ) -> candle_core::Result<Option<Tensor>> {
            let derivative = if self.wrong_backward {
                (x * 2.0)?
            } else {
                (x.sqr()? * 3.0)?
            };
            Ok(Some((grad * derivative)?))
        }
    }

    /// A linear layer, then the cube op, then tanh: a loss of order 1.
    fn cube_model(dtype: DType, wrong_backward: bool) -> GradcheckReport {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, dtype, &Device::Cpu);
        let fc = linear(3, 4, vb.pp("fc")).unwrap();
        let x = Tensor::new(&[[0.3f32, -0.8, 0.5], [1.1, 0.2, -0.4]], &Device::Cpu)
            .unwrap()
            .to_dtype(dtype)
            .unwrap();
        let loss = || {
            let h = fc.forward(&x)?.apply_op1(Cube { wrong_backward })?;
            h.tanh()?.sqr()?.mean_all()
        };
        let values = || {
            let first = varmap.all_vars()[0].flatten_all().unwrap();
            first
                .to_dtype(DType::F64)
                .unwrap()
                .to_vec1::<f64>()
                .unwrap()
        };
        let before = values();
        let report = gradcheck(&varmap, loss, GradcheckOptions::default()).unwrap();
        assert_eq!(before, values(), "the variables get their values back");
        report
    }

    #[test]
    fn a_wrong_custom_backward_fails_and_a_right_one_passes_in_f64_and_f32() {
        for dtype in [DType::F64, DType::F32] {
            let right = cube_model(dtype, false);
            assert!(right.passed(), "{dtype:?}\n{right}");
            assert_eq!(right.params.len(), 2);
            assert!(right
                .params
                .iter()
                .all(|p| p.checked == p.entries && p.has_gradient));
            let wrong = cube_model(dtype, true);
            assert!(!wrong.passed(), "{dtype:?}\n{wrong}");
            // Both parameters sit before the op: both are wrong, by far.
            assert_eq!(wrong.failures().count(), 2, "{wrong}");
            assert!(wrong.worst_error() > 0.1, "{wrong}");
            let table = wrong.to_string();
            assert!(
                table.contains("FAIL") && table.contains("fc.weight"),
                "{table}"
            );
            assert!(
                table.ends_with(&format!(
                    "worst relative error {:.2e} (loss {:.6e})",
                    wrong.worst_error(),
                    wrong.loss
                )),
                "{table}"
            );
        }
    }

    #[test]
    fn a_candle_nn_linear_tanh_model_passes_in_f64_and_f32_and_the_errors_fit_the_dtype() {
        let mut worst = Vec::new();
        for dtype in [DType::F64, DType::F32] {
            let varmap = VarMap::new();
            let vb = VarBuilder::from_varmap(&varmap, dtype, &Device::Cpu);
            let (fc1, fc2) = (
                linear(5, 8, vb.pp("fc1")).unwrap(),
                linear(8, 3, vb.pp("fc2")).unwrap(),
            );
            let x = Tensor::randn(0f32, 1.0, (6, 5), &Device::Cpu)
                .unwrap()
                .to_dtype(dtype)
                .unwrap();
            let loss = || {
                fc2.forward(&fc1.forward(&x)?.tanh()?)?
                    .tanh()?
                    .sqr()?
                    .mean_all()
            };
            let report =
                gradcheck(&varmap, loss, GradcheckOptions::default().max_entries(20)).unwrap();
            assert!(report.passed(), "{dtype:?}\n{report}");
            let weight = report
                .params
                .iter()
                .find(|p| p.name == "fc1.weight")
                .unwrap();
            assert_eq!((weight.checked, weight.entries), (20, 40));
            worst.push(report.worst_error());
        }
        // f64 checks far more tightly than f32.
        assert!(
            worst[0] < 1e-6 && worst[1] < 1e-2 && worst[0] < worst[1] / 100.0,
            "{worst:?}"
        );
    }

    #[test]
    fn bad_losses_and_models_are_errors() {
        let empty = gradcheck(
            &VarMap::new(),
            || Tensor::new(1f64, &Device::Cpu),
            GradcheckOptions::default(),
        );
        assert!(matches!(empty, Err(GradcheckError::NoParameters)));
        let varmap = VarMap::new();
        let w = Var::new(&[1f64, 2.0], &Device::Cpu).unwrap();
        varmap.data().lock().unwrap().insert("w".into(), w.clone());
        let err =
            gradcheck(&varmap, || w.as_tensor().sqr(), GradcheckOptions::default()).unwrap_err();
        assert!(
            matches!(&err, GradcheckError::NotScalar { shape } if shape == &[2]),
            "{err}"
        );
        // log(w - 1) is -inf at w = 1.
        let err = gradcheck(
            &varmap,
            || (w.as_tensor() - 1.0)?.log()?.sum_all(),
            GradcheckOptions::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("the loss is -inf"), "{err}");
        // Near the pole, the perturbed loss is: entry 0 named.
        let err = gradcheck(
            &varmap,
            || (w.as_tensor() - 0.999_999_5)?.log()?.sum_all(),
            GradcheckOptions::default(),
        )
        .unwrap_err();
        assert!(
            matches!(&err, GradcheckError::NonFiniteLoss { param, index: 0, .. } if param == "w"),
            "{err}"
        );
        assert_eq!(
            w.to_vec1::<f64>().unwrap(),
            [1.0, 2.0],
            "restored after an error"
        );
        let half = Var::new(&[1f32], &Device::Cpu)
            .unwrap()
            .to_dtype(DType::BF16)
            .unwrap();
        let varmap = VarMap::new();
        varmap
            .data()
            .lock()
            .unwrap()
            .insert("h".into(), Var::from_tensor(&half).unwrap());
        let err = gradcheck(&varmap, || half.sum_all(), GradcheckOptions::default()).unwrap_err();
        assert!(
            matches!(&err, GradcheckError::UnsupportedDType { param, dtype: DType::BF16 } if param == "h"),
            "{err}"
        );
    }

    #[test]
    fn sampling_is_seeded_distinct_and_whole_for_small_tensors() {
        assert_eq!(sample_entries(5, 8, 0, "w"), [0, 1, 2, 3, 4]);
        let a = sample_entries(1000, 20, 3, "w");
        assert_eq!(a.len(), 20);
        assert!(a.windows(2).all(|w| w[0] < w[1]) && a[19] < 1000);
        assert_eq!(a, sample_entries(1000, 20, 3, "w"));
        assert_ne!(a, sample_entries(1000, 20, 4, "w"));
        assert_ne!(a, sample_entries(1000, 20, 3, "v"));
        // Drawn across the range, not bunched at one end.
        assert!(a[0] < 200 && a[19] > 800, "{a:?}");
    }

    #[test]
    fn relative_error_is_absolute_below_the_floor() {
        assert_eq!(relative_error(2.0, 1.0, 1e-3), 0.5);
        assert!((relative_error(1e-6, 2e-6, 1e-3) - 1e-3).abs() < 1e-15);
        assert_eq!(relative_error(0.0, 0.0, 1e-3), 0.0);
        assert_eq!(relative_error(f64::NAN, 1.0, 1e-3), f64::INFINITY);
    }

    #[test]
    fn bad_options_and_dtypes_are_named() {
        let err = GradcheckOptions::default()
            .tolerance(f64::NAN)
            .resolve(DType::F64)
            .unwrap_err();
        assert!(err.to_string().contains("tolerance is NaN"), "{err}");
        let err = GradcheckOptions::default()
            .max_entries(0)
            .resolve(DType::F32)
            .unwrap_err();
        assert!(err.to_string().contains("max_entries"), "{err}");
        assert!(matches!(
            GradcheckOptions::default().resolve(DType::F16),
            Err(GradcheckError::UnsupportedDType { .. })
        ));
    }
}
