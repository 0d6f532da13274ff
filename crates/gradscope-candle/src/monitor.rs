//! [`GradMonitor`]: the gradient flow of any candle model, in TensorBoard.
//!
//! Built from the model's named variables (a [`VarMap`], or `(name, Var)`
//! pairs) and a [`SummaryWriter`], it is handed each step's `GradStore`
//! between `backward()` and the optimizer's step:
//!
//! ```
//! use candle_core::{DType, Device, Module, Tensor};
//! use candle_nn::{linear, AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
//! use gradscope_candle::GradMonitor;
//! use gradscope_tensorboard::SummaryWriter;
//!
//! # let dir = tempfile::tempdir()?;
//! let varmap = VarMap::new();
//! let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
//! let (fc1, fc2) = (linear(4, 8, vb.pp("fc1"))?, linear(8, 2, vb.pp("fc2"))?);
//! let mut optimizer = AdamW::new(varmap.all_vars(), ParamsAdamW::default())?;
//! let writer = SummaryWriter::new(dir.path())?;
//! let mut monitor = GradMonitor::new(&varmap, writer)?.log_every(10);
//!
//! let x = Tensor::randn(0f32, 1.0, (16, 4), &Device::Cpu)?;
//! for step in 0..30 {
//!     let loss = fc2.forward(&fc1.forward(&x)?.relu()?)?.sqr()?.mean_all()?;
//!     let grads = loss.backward()?;
//!     monitor.observe(step, &grads)?; // the one line the loop gains
//!     optimizer.step(&grads)?;
//! }
//! monitor.close()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! At each logged step (every [`GradMonitor::log_every`] steps, from 0) it
//! writes, for every parameter `p` (tags grouped so each figure is one
//! section in TensorBoard):
//!
//! - scalars `grad_mean_abs/p`, `grad_max_abs/p`, `grad_norm/p` (L2);
//! - histograms `grad/p` and `weight/p`;
//! - `update_ratio/p`: log10(‖W_after − W_before‖ / ‖W_before‖) of the
//!   optimizer step that follows, taken from the weights at the next call
//!   (the step after a logged one), so the loop needs no second hook. A
//!   parameter whose ‖W_before‖ is 0 (a zero-initialised bias at step 0)
//!   gets no point rather than an infinite one. CS231n's rule of thumb: about
//!   -3 is healthy;
//! - `nonfinite/p`: how many NaN or infinite gradient values it held, when
//!   there are any ([`GradMonitor::stop_on_nonfinite`] makes that an error);
//! - per layer group (parameters sharing the name before their last `.`,
//!   `conv1` of `conv1.weight`), `group_grad_mean_abs/g`: the mean |grad|
//!   over the group's values, and its log10 `group_log10_grad_mean_abs/g`;
//! - at its first logged step, the Custom Scalars layout
//!   ([`layout::monitor_layout`](crate::layout::monitor_layout)) that draws
//!   every group's gradient on one chart.
//!
//! [`GradMonitor::close`] adds `attenuation`: the last group's mean |grad|
//! over the first group's, each averaged over the logged steps, as
//! gradscope's trainer reports it ([`crate::stats`]). Between logged steps
//! the monitor only compares the step number. The tag names are
//! [`crate::tags`]'.

use std::cmp::Ordering;
use std::fmt;

use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};
use candle_nn::VarMap;
use gradscope_tensorboard::summary::{histogram, scalar, summary_event, wall_time_now};
use gradscope_tensorboard::{Step, SummaryError, SummaryWriter};

use crate::layout::monitor_layout;
use crate::stats::{self, update_ratio, GradStats, TensorStats};
use crate::tags;

/// Why the monitor refused a call.
#[derive(Debug)]
#[non_exhaustive]
pub enum MonitorError {
    /// No variables to monitor.
    NoParameters,
    /// The `GradStore` holds no gradient for a monitored variable: the
    /// loss does not depend on it, or the store is another model's.
    MissingGradient {
        /// The variable's name.
        param: String,
    },
    /// The `VarMap` now holds a variable of another shape under a
    /// monitored name than when the monitor was made.
    ShapeChanged {
        /// The variable's name.
        param: String,
        /// Its shape when the monitor was made.
        was: Vec<usize>,
        /// Its shape now.
        now: Vec<usize>,
    },
    /// A step number not after the last one observed.
    StepBackwards {
        /// The step given.
        step: i64,
        /// The last step observed.
        last: i64,
    },
    /// A step number beyond `i64`'s range (event files store steps as i64).
    StepOutOfRange {
        /// The step given, as written.
        step: String,
    },
    /// A gradient held NaN or infinite values, and the monitor was told to
    /// stop on them.
    NonFinite {
        /// The first variable (in the monitor's order) whose gradient held
        /// them.
        param: String,
        /// The step.
        step: i64,
        /// How many of its values were NaN or infinite.
        count: usize,
    },
    /// A tensor operation failed.
    Tensor(candle_core::Error),
    /// The summaries could not be written.
    Write(SummaryError),
}

impl fmt::Display for MonitorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MonitorError::NoParameters => {
                write!(
                    f,
                    "gradient monitor: no variables to monitor; pass the model's VarMap"
                )
            }
            MonitorError::MissingGradient { param } => write!(
                f,
                "gradient monitor: the GradStore has no gradient for {param}; pass the store \
                 from this model's loss.backward()"
            ),
            MonitorError::ShapeChanged { param, was, now } => write!(
                f,
                "gradient monitor: {param} has shape {now:?}, but {was:?} when the monitor was \
                 made; make a new monitor for the new model"
            ),
            MonitorError::StepBackwards { step, last } => write!(
                f,
                "gradient monitor: step {step} comes after step {last}; steps must increase"
            ),
            MonitorError::StepOutOfRange { step } => write!(
                f,
                "gradient monitor: step {step} is beyond what an event file stores \
                 ({} to {}); count steps from 0",
                i64::MIN,
                i64::MAX
            ),
            MonitorError::NonFinite { param, step, count } => write!(
                f,
                "gradient monitor: step {step}: the gradient of {param} holds {count} NaN or \
                 infinite values"
            ),
            MonitorError::Tensor(e) => write!(f, "gradient monitor: {e}"),
            MonitorError::Write(e) => write!(f, "gradient monitor: {e}"),
        }
    }
}

impl std::error::Error for MonitorError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MonitorError::Tensor(e) => Some(e),
            MonitorError::Write(e) => Some(e),
            _ => None,
        }
    }
}

impl From<candle_core::Error> for MonitorError {
    fn from(e: candle_core::Error) -> MonitorError {
        MonitorError::Tensor(e)
    }
}

impl From<SummaryError> for MonitorError {
    fn from(e: SummaryError) -> MonitorError {
        MonitorError::Write(e)
    }
}

/// One monitored variable.
struct Param {
    name: String,
    var: Var,
    shape: Vec<usize>,
    /// Index into [`GradMonitor::groups`].
    group: usize,
}

/// Logs the gradient flow of a candle model; see the [module](self) doc.
pub struct GradMonitor {
    writer: SummaryWriter,
    /// The map the variables came from, looked up again at each logged
    /// step: a variable replaced there is followed, one whose shape changed
    /// is an error.
    varmap: Option<VarMap>,
    params: Vec<Param>,
    groups: Vec<String>,
    every: i64,
    stop_on_nonfinite: bool,
    last_step: Option<i64>,
    /// The weights before the optimizer step of the last logged step,
    /// and that step: the update ratio is written at the next call.
    before: Option<(i64, Vec<Vec<f32>>)>,
    group_stats: GradStats,
}

impl GradMonitor {
    /// A monitor of every variable of `varmap`, named as it names them
    /// (`conv1.weight`, `fc2.bias`, ...), in natural order (`fc2` before
    /// `fc10`), writing through `writer`. Logs every step until
    /// [`log_every`](Self::log_every) says otherwise.
    pub fn new(varmap: &VarMap, writer: SummaryWriter) -> Result<GradMonitor, MonitorError> {
        let mut vars: Vec<(String, Var)> = {
            let data = varmap.data().lock().unwrap_or_else(|e| e.into_inner());
            data.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
        };
        vars.sort_by(|a, b| natural_order(&a.0, &b.0));
        let mut monitor = GradMonitor::from_vars(vars, writer)?;
        monitor.varmap = Some(varmap.clone());
        Ok(monitor)
    }

    /// A monitor of `vars`, in the order given (layer groups follow the
    /// order of their first parameter).
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, Var)>,
        writer: SummaryWriter,
    ) -> Result<GradMonitor, MonitorError> {
        let mut groups: Vec<String> = Vec::new();
        let mut params = Vec::new();
        for (name, var) in vars {
            let group_name = match name.rsplit_once('.') {
                Some((group, _)) => group.to_string(),
                None => name.clone(),
            };
            let group = match groups.iter().position(|g| *g == group_name) {
                Some(i) => i,
                None => {
                    groups.push(group_name);
                    groups.len() - 1
                }
            };
            params.push(Param {
                shape: var.dims().to_vec(),
                name,
                var,
                group,
            });
        }
        if params.is_empty() {
            return Err(MonitorError::NoParameters);
        }
        Ok(GradMonitor {
            writer,
            varmap: None,
            group_stats: GradStats::new(groups.len()),
            params,
            groups,
            every: 1,
            stop_on_nonfinite: false,
            last_step: None,
            before: None,
        })
    }

    /// Logs every `n` steps (0, n, 2n, ...); `n` of 0 counts as 1.
    pub fn log_every(mut self, n: usize) -> GradMonitor {
        self.every = n.max(1) as i64;
        self
    }

    /// Makes a NaN or infinite gradient value a [`MonitorError::NonFinite`]
    /// (after it is logged) instead of a `nonfinite/<param>` point alone.
    pub fn stop_on_nonfinite(mut self, stop: bool) -> GradMonitor {
        self.stop_on_nonfinite = stop;
        self
    }

    /// The monitored parameters' names, in order.
    pub fn params(&self) -> impl Iterator<Item = &str> {
        self.params.iter().map(|p| p.name.as_str())
    }

    /// The layer groups, in order.
    pub fn groups(&self) -> &[String] {
        &self.groups
    }

    /// Takes step `step`'s gradients, after `loss.backward()` and before
    /// the optimizer steps with them. Steps must increase; any primitive
    /// integer is a step (`usize` loop counters need no cast).
    pub fn observe(&mut self, step: impl Step, grads: &GradStore) -> Result<(), MonitorError> {
        let step = step.to_i64().ok_or_else(|| MonitorError::StepOutOfRange {
            step: step.to_string(),
        })?;
        if let Some(last) = self.last_step {
            if step <= last {
                return Err(MonitorError::StepBackwards { step, last });
            }
        }
        self.last_step = Some(step);
        self.write_update_ratios()?;
        if step % self.every != 0 {
            return Ok(());
        }
        self.follow_varmap()?;
        let wall_time = wall_time_now();
        let mut values = Vec::with_capacity(self.params.len() * 6 + self.groups.len());
        let mut group_sums = vec![(0f64, 0usize); self.groups.len()];
        let mut weights = Vec::with_capacity(self.params.len());
        let mut nonfinite = None;
        for p in &self.params {
            let grad =
                grads
                    .get(p.var.as_tensor())
                    .ok_or_else(|| MonitorError::MissingGradient {
                        param: p.name.clone(),
                    })?;
            let grad = host_values(grad)?;
            let weight = host_values(p.var.as_tensor())?;
            let figures = TensorStats::new(&grad);
            let name = &p.name;
            values.extend([
                scalar(&tags::GRAD_MEAN_ABS.tag(name), figures.mean_abs as f32),
                scalar(&tags::GRAD_MAX_ABS.tag(name), figures.max_abs as f32),
                scalar(&tags::GRAD_NORM.tag(name), figures.norm as f32),
                histogram(&tags::GRAD.tag(name), &grad).0,
                histogram(&tags::WEIGHT.tag(name), &weight).0,
            ]);
            if figures.nonfinite > 0 {
                values.push(scalar(&tags::NONFINITE.tag(name), figures.nonfinite as f32));
                nonfinite.get_or_insert((name.clone(), figures.nonfinite));
            }
            let sum = &mut group_sums[p.group];
            sum.0 += figures.mean_abs * grad.len() as f64;
            sum.1 += grad.len();
            weights.push(weight);
        }
        let group_means: Vec<f64> = group_sums
            .iter()
            .map(|&(sum, n)| sum / n.max(1) as f64)
            .collect();
        for (group, mean) in self.groups.iter().zip(&group_means) {
            values.push(scalar(&tags::GROUP_GRAD_MEAN_ABS.tag(group), *mean as f32));
            // A group without gradient (0) or with NaN shows in the tag
            // above; its log10 gets no point rather than an infinite one.
            let log10 = mean.log10();
            if log10.is_finite() {
                let tag = tags::GROUP_LOG10_GRAD_MEAN_ABS.tag(group);
                values.push(scalar(&tag, log10 as f32));
            }
        }
        if self.group_stats.steps() == 0 {
            values.push(monitor_layout().to_value());
        }
        self.group_stats.record(&group_means);
        self.writer
            .add_event(&summary_event(step, wall_time, values))?;
        self.before = Some((step, weights));
        match nonfinite {
            Some((param, count)) if self.stop_on_nonfinite => {
                Err(MonitorError::NonFinite { param, step, count })
            }
            _ => Ok(()),
        }
    }

    /// Takes the variables the map now holds under the monitored names.
    fn follow_varmap(&mut self) -> Result<(), MonitorError> {
        let Some(varmap) = &self.varmap else {
            return Ok(());
        };
        let data = varmap.data().lock().unwrap_or_else(|e| e.into_inner());
        for p in &mut self.params {
            let Some(var) = data.get(&p.name) else {
                return Err(MonitorError::MissingGradient {
                    param: p.name.clone(),
                });
            };
            if var.dims() != p.shape.as_slice() {
                return Err(MonitorError::ShapeChanged {
                    param: p.name.clone(),
                    was: p.shape.clone(),
                    now: var.dims().to_vec(),
                });
            }
            p.var = var.clone();
        }
        Ok(())
    }

    /// Writes the update ratios of the last logged step's optimizer step,
    /// now that the weights hold its result.
    fn write_update_ratios(&mut self) -> Result<(), MonitorError> {
        let Some((step, before)) = self.before.take() else {
            return Ok(());
        };
        let mut values = Vec::new();
        for (p, before) in self.params.iter().zip(&before) {
            let after = host_values(p.var.as_tensor())?;
            if let Some(ratio) = update_ratio(before, &after) {
                values.push(scalar(&tags::UPDATE_RATIO.tag(&p.name), ratio as f32));
            }
        }
        if !values.is_empty() {
            self.writer
                .add_event(&summary_event(step, wall_time_now(), values))?;
        }
        Ok(())
    }

    /// Each layer group's mean |grad| averaged over the logged steps, in
    /// group order.
    pub fn group_averages(&self) -> Vec<f64> {
        self.group_stats.averages()
    }

    /// Writes the run's `attenuation` (last group over first, see
    /// [`stats::attenuation`]) at the last observed step, and closes the
    /// writer. The update ratio of a last logged step is left out: no step
    /// after it showed the weights its optimizer step made.
    pub fn close(self) -> Result<(), MonitorError> {
        if let Some(step) = self.last_step {
            let attenuation = stats::attenuation(&self.group_stats.averages());
            self.writer
                .add_scalar(tags::ATTENUATION, attenuation, step)?;
        }
        self.writer.close()?;
        Ok(())
    }
}

/// A tensor's values as f32 on the host, in row-major order.
fn host_values(t: &Tensor) -> candle_core::Result<Vec<f32>> {
    t.flatten_all()?
        .to_dtype(candle_core::DType::F32)?
        .to_vec1::<f32>()
}

/// Orders names with their digit runs compared as numbers: `fc2` before
/// `fc10`, `layer1.bias` before `layer1.weight`.
fn natural_order(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        match (a.chars().next(), b.chars().next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let da = a.len() - a.trim_start_matches(|c: char| c.is_ascii_digit()).len();
                let db = b.len() - b.trim_start_matches(|c: char| c.is_ascii_digit()).len();
                let (na, nb) = (
                    a[..da].trim_start_matches('0'),
                    b[..db].trim_start_matches('0'),
                );
                let order = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
                if order != Ordering::Equal {
                    return order;
                }
                (a, b) = (&a[da..], &b[db..]);
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(&y);
                }
                (a, b) = (&a[x.len_utf8()..], &b[y.len_utf8()..]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_order_compares_numbers_as_numbers() {
        let mut names = vec![
            "fc10.weight",
            "fc2.weight",
            "conv1.bias",
            "fc2.bias",
            "conv1.weight",
        ];
        names.sort_by(|a, b| natural_order(a, b));
        assert_eq!(
            names,
            [
                "conv1.bias",
                "conv1.weight",
                "fc2.bias",
                "fc2.weight",
                "fc10.weight"
            ]
        );
        assert_eq!(natural_order("a01", "a1"), Ordering::Equal);
    }

    #[test]
    fn figures_and_ratios_by_hand() {
        let f = TensorStats::new(&[3.0, -4.0, 0.0, f32::NAN]);
        assert_eq!((f.max_abs, f.norm, f.nonfinite), (4.0, 5.0, 1));
        assert!(f.mean_abs.is_nan(), "a NaN must show in the mean");
        let f = TensorStats::new(&[3.0, -4.0]);
        assert_eq!(f.mean_abs, 3.5);
        // ‖(0.3, 0.4)‖ / ‖(3, 4)‖ = 0.5 / 5 = 0.1.
        let ratio = update_ratio(&[3.0, 4.0], &[3.3, 4.4]).unwrap();
        assert!((ratio - -1.0).abs() < 1e-6, "{ratio}");
        assert_eq!(update_ratio(&[0.0, 0.0], &[0.1, 0.0]), None);
        assert_eq!(update_ratio(&[1.0], &[f32::NAN]), None);
    }
}
