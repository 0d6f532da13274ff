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
//! - `update_cosine/p`: the cosine between that optimizer step and the
//!   negative gradient ([`stats::step_cosine`]): 1 for plain SGD;
//! - histogram `grad_log10_abs/p`: log10 |grad|, so that gradients decades
//!   apart sit decades apart ([`crate::magnitude`]), and `grad_zeros/p`: the
//!   exact zeros it leaves out;
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
//! gradscope's trainer reports it ([`crate::stats`]). The tag names are
//! [`crate::tags`]'.
//!
//! **Gradient health** (Text dashboard, tag `gradient_health`). The first
//! `observe` checks which variables the backward pass reached
//! ([`mod@crate::connectivity`]) and writes the report; variables without a
//! gradient make it a [`MonitorError::Disconnected`] naming every one,
//! unless [`GradMonitor::allow_disconnected`] says they are frozen. Every
//! step, logged or not, is checked for NaN and infinite gradients, by one
//! sum per gradient on its device: the first step that has them is written
//! with every variable holding them ([`GradMonitor::first_nonfinite`]).
//! After it (unless told to stop on them), steps between logged ones cost
//! only the step number's comparison.

use std::cmp::Ordering;
use std::fmt;

use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor, Var};
use candle_nn::VarMap;
use gradscope_tensorboard::summary::{histogram, scalar, summary_event, text, wall_time_now};
use gradscope_tensorboard::{Step, SummaryError, SummaryWriter};

use crate::connectivity::{connectivity_of_vars, Connectivity, GradScan};
use crate::layout::monitor_layout;
use crate::magnitude::log10_abs_histogram;
use crate::stats::{self, step_cosine, update_ratio, GradStats, TensorStats};
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
    /// Gradients held NaN or infinite values, and the monitor was told to
    /// stop on them.
    NonFinite {
        /// The step.
        step: i64,
        /// Every variable whose gradient held them, in the monitor's order,
        /// with how many of its values were NaN or infinite.
        params: Vec<(String, usize)>,
    },
    /// At the first observed step, the loss did not reach every monitored
    /// variable: the report names each one without a gradient. Frozen
    /// variables are allowed by [`GradMonitor::allow_disconnected`].
    Disconnected {
        /// What the backward pass gave each variable.
        report: Connectivity,
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
            MonitorError::NonFinite { step, params } => {
                let list: Vec<String> = params
                    .iter()
                    .map(|(param, count)| format!("{param} ({count})"))
                    .collect();
                write!(
                    f,
                    "gradient monitor: step {step}: NaN or infinite gradient values in {}",
                    list.join(", ")
                )
            }
            MonitorError::Disconnected { report } => write!(
                f,
                "gradient monitor: {report}\n\nIf these parameters are frozen on purpose, \
                 build the monitor with allow_disconnected(true)."
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
    /// Index into [`GradMonitor::groups`]; `None` for a frozen variable.
    group: Option<usize>,
    /// Had no gradient at the first step, and the monitor was told to
    /// allow that: skipped when it has none.
    frozen: bool,
}

/// What a logged step keeps of a variable for the next call, which sees
/// the optimizer's step.
struct Before {
    weight: Vec<f32>,
    grad: Vec<f32>,
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
    allow_disconnected: bool,
    last_step: Option<i64>,
    /// The weights and gradients of the last logged step, and that step:
    /// the optimizer step's ratio and cosine are written at the next call.
    before: Option<(i64, Vec<Option<Before>>)>,
    group_stats: GradStats,
    /// The first observed step's report.
    connectivity: Option<Connectivity>,
    /// The first step with NaN or infinite gradients, and their variables.
    first_nonfinite: Option<(i64, Vec<String>)>,
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
        let mut params: Vec<Param> = vars
            .into_iter()
            .map(|(name, var)| Param {
                shape: var.dims().to_vec(),
                name,
                var,
                group: None,
                frozen: false,
            })
            .collect();
        if params.is_empty() {
            return Err(MonitorError::NoParameters);
        }
        let groups = assign_groups(&mut params);
        Ok(GradMonitor {
            writer,
            varmap: None,
            group_stats: GradStats::new(groups.len()),
            params,
            groups,
            every: 1,
            stop_on_nonfinite: false,
            allow_disconnected: false,
            last_step: None,
            before: None,
            connectivity: None,
            first_nonfinite: None,
        })
    }

    /// Logs every `n` steps (0, n, 2n, ...); `n` of 0 counts as 1.
    pub fn log_every(mut self, n: usize) -> GradMonitor {
        self.every = n.max(1) as i64;
        self
    }

    /// Makes a NaN or infinite gradient value a [`MonitorError::NonFinite`]
    /// naming every variable that holds them (after it is logged) instead
    /// of `nonfinite/<param>` points alone.
    pub fn stop_on_nonfinite(mut self, stop: bool) -> GradMonitor {
        self.stop_on_nonfinite = stop;
        self
    }

    /// Lets variables the first step's gradients do not reach (frozen
    /// ones) pass: the report still goes to the Text dashboard, and later
    /// steps skip those variables while they have no gradient. Without it,
    /// the first `observe` returns [`MonitorError::Disconnected`] naming
    /// them all.
    ///
    /// ```
    /// use candle_core::{Device, Var};
    /// use gradscope_candle::GradMonitor;
    /// use gradscope_tensorboard::SummaryWriter;
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let (trained, frozen) = (Var::new(&[1f32], &Device::Cpu)?, Var::new(&[2f32], &Device::Cpu)?);
    /// let vars = [("head.weight".to_string(), trained.clone()), ("body.weight".to_string(), frozen.clone())];
    /// let mut monitor = GradMonitor::from_vars(vars, SummaryWriter::new(dir.path())?)?
    ///     .allow_disconnected(true);
    /// let loss = (trained.as_tensor() * frozen.as_tensor().detach())?.sum_all()?;
    /// monitor.observe(0, &loss.backward()?)?;
    /// assert_eq!(monitor.connectivity().unwrap().without_gradient(), ["body.weight"]);
    /// assert_eq!(monitor.groups(), ["head"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn allow_disconnected(mut self, allow: bool) -> GradMonitor {
        self.allow_disconnected = allow;
        self
    }

    /// The connectivity report of the first observed step; `None` before it.
    pub fn connectivity(&self) -> Option<&Connectivity> {
        self.connectivity.as_ref()
    }

    /// The first observed step whose gradients held NaN or infinite values,
    /// and every variable whose gradient held them, in the monitor's order.
    /// Every step is checked, logged or not (see the [module](self) doc).
    ///
    /// ```
    /// use candle_core::{Device, Var};
    /// use gradscope_candle::GradMonitor;
    /// use gradscope_tensorboard::SummaryWriter;
    ///
    /// # let dir = tempfile::tempdir()?;
    /// let w = Var::new(&[1f32, 4.0], &Device::Cpu)?;
    /// let mut monitor = GradMonitor::from_vars([("w".to_string(), w.clone())], SummaryWriter::new(dir.path())?)?
    ///     .log_every(100);
    /// for step in 0..5 {
    ///     // sqrt's gradient 1/(2 sqrt(w)) is infinite once w reaches 0, at step 1.
    ///     let grads = w.as_tensor().sqrt()?.sum_all()?.backward()?;
    ///     monitor.observe(step, &grads)?;
    ///     w.set(&(w.as_tensor() - 1.0)?.relu()?)?;
    /// }
    /// assert_eq!(monitor.first_nonfinite(), Some((1, &["w".to_string()][..])));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn first_nonfinite(&self) -> Option<(i64, &[String])> {
        (self.first_nonfinite.as_ref()).map(|(step, params)| (*step, params.as_slice()))
    }

    /// The monitored parameters' names, in order.
    pub fn params(&self) -> impl Iterator<Item = &str> {
        self.params.iter().map(|p| p.name.as_str())
    }

    /// The layer groups, in order; once the first step found frozen
    /// variables ([`allow_disconnected`](Self::allow_disconnected)), without
    /// the groups of frozen variables alone.
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
        self.write_update_steps()?;
        let first = self.connectivity.is_none();
        let logged = step % self.every == 0;
        if first || logged {
            self.follow_varmap()?;
        }
        if first {
            self.check_connectivity(step, grads)?;
        }
        let nonfinite = if logged {
            self.log(step, grads)?
        } else {
            self.screen(step, grads)?
        };
        self.report_nonfinite(step, nonfinite)
    }

    /// The first step's [`Connectivity`], to the Text dashboard; an error
    /// naming every variable without a gradient unless they are allowed.
    fn check_connectivity(&mut self, step: i64, grads: &GradStore) -> Result<(), MonitorError> {
        let vars = self.params.iter().map(|p| (p.name.as_str(), &p.var));
        let report = connectivity_of_vars(vars, grads)?;
        let record = text(tags::GRADIENT_HEALTH, &report.to_string());
        self.writer
            .add_event(&summary_event(step, wall_time_now(), vec![record]))?;
        self.connectivity = Some(report.clone());
        if report.is_connected() {
            return Ok(());
        }
        if !self.allow_disconnected {
            return Err(MonitorError::Disconnected { report });
        }
        for p in &mut self.params {
            p.frozen = report.without_gradient().contains(&p.name);
        }
        self.groups = assign_groups(&mut self.params);
        self.group_stats = GradStats::new(self.groups.len());
        Ok(())
    }

    /// A logged step: every figure of every variable. Returns the variables
    /// with NaN or infinite gradient values and how many.
    fn log(&mut self, step: i64, grads: &GradStore) -> Result<Vec<(String, usize)>, MonitorError> {
        let wall_time = wall_time_now();
        let mut values = Vec::with_capacity(self.params.len() * 8 + self.groups.len());
        let mut group_sums = vec![(0f64, 0usize); self.groups.len()];
        let mut kept = Vec::with_capacity(self.params.len());
        let mut nonfinite = Vec::new();
        for p in &self.params {
            let grad = match grads.get(p.var.as_tensor()) {
                Some(grad) => grad,
                None if p.frozen => {
                    kept.push(None);
                    continue;
                }
                None => {
                    return Err(MonitorError::MissingGradient {
                        param: p.name.clone(),
                    })
                }
            };
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
            let magnitudes = log10_abs_histogram(&grad);
            values.push(scalar(&tags::GRAD_ZEROS.tag(name), magnitudes.zeros as f32));
            // All zero or non-finite: nothing to draw; the counts say so.
            if magnitudes.num > 0 {
                values.push(magnitudes.to_value(&tags::GRAD_LOG10_ABS.tag(name))?);
            }
            if figures.nonfinite > 0 {
                values.push(scalar(&tags::NONFINITE.tag(name), figures.nonfinite as f32));
                nonfinite.push((name.clone(), figures.nonfinite));
            }
            if let Some(group) = p.group {
                let sum = &mut group_sums[group];
                sum.0 += figures.mean_abs * grad.len() as f64;
                sum.1 += grad.len();
            }
            kept.push(Some(Before { weight, grad }));
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
        self.before = Some((step, kept));
        Ok(nonfinite)
    }

    /// A step between logged ones: finds NaN and infinite gradients by one
    /// sum per gradient on its device (a NaN or infinity makes the sum
    /// non-finite; a finite sum proves there is none), counting them on
    /// the host only then, and writes their `nonfinite/<param>` points.
    /// Once the first such step is known and the monitor is not to stop on
    /// them, there is nothing more to learn here and it checks nothing.
    fn screen(
        &mut self,
        step: i64,
        grads: &GradStore,
    ) -> Result<Vec<(String, usize)>, MonitorError> {
        let mut nonfinite = Vec::new();
        if self.first_nonfinite.is_some() && !self.stop_on_nonfinite {
            return Ok(nonfinite);
        }
        for p in &self.params {
            let Some(grad) = grads.get(p.var.as_tensor()) else {
                continue;
            };
            let sum = grad.sum_all()?.to_dtype(DType::F64)?.to_scalar::<f64>()?;
            if sum.is_finite() {
                continue;
            }
            // The sum of finite values can overflow: count to be sure.
            let count = GradScan::of(grad)?.nonfinite;
            if count > 0 {
                nonfinite.push((p.name.clone(), count));
            }
        }
        if !nonfinite.is_empty() {
            let values = (nonfinite.iter())
                .map(|(name, count)| scalar(&tags::NONFINITE.tag(name), *count as f32))
                .collect();
            self.writer
                .add_event(&summary_event(step, wall_time_now(), values))?;
        }
        Ok(nonfinite)
    }

    /// Records and reports the first step with non-finite gradients; the
    /// error, if the monitor is to stop on them.
    fn report_nonfinite(
        &mut self,
        step: i64,
        nonfinite: Vec<(String, usize)>,
    ) -> Result<(), MonitorError> {
        if nonfinite.is_empty() {
            return Ok(());
        }
        if self.first_nonfinite.is_none() {
            let list: Vec<String> = (nonfinite.iter())
                .map(|(name, count)| format!("`{name}` ({count} values)"))
                .collect();
            let message = format!(
                "Step {step}: the first step whose gradients hold NaN or infinite values, in {} \
                 of {} parameters: {}. The gradients of every step observed before were finite.",
                nonfinite.len(),
                self.params.len(),
                list.join(", ")
            );
            let record = text(tags::GRADIENT_HEALTH, &message);
            self.writer
                .add_event(&summary_event(step, wall_time_now(), vec![record]))?;
            let names = nonfinite.iter().map(|(name, _)| name.clone()).collect();
            self.first_nonfinite = Some((step, names));
        }
        if self.stop_on_nonfinite {
            return Err(MonitorError::NonFinite {
                step,
                params: nonfinite,
            });
        }
        Ok(())
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

    /// Writes the update ratios and cosines of the last logged step's
    /// optimizer step, now that the weights hold its result.
    fn write_update_steps(&mut self) -> Result<(), MonitorError> {
        let Some((step, before)) = self.before.take() else {
            return Ok(());
        };
        let mut values = Vec::new();
        for (p, before) in self.params.iter().zip(&before) {
            let Some(before) = before else { continue };
            let after = host_values(p.var.as_tensor())?;
            if let Some(ratio) = update_ratio(&before.weight, &after) {
                values.push(scalar(&tags::UPDATE_RATIO.tag(&p.name), ratio as f32));
            }
            if let Some(cosine) = step_cosine(&before.weight, &after, &before.grad) {
                values.push(scalar(&tags::UPDATE_COSINE.tag(&p.name), cosine as f32));
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

/// Puts each variable not frozen into its layer group (the name before its
/// last `.`), groups in the order of their first variable; returns the
/// groups.
fn assign_groups(params: &mut [Param]) -> Vec<String> {
    let mut groups: Vec<String> = Vec::new();
    for p in params.iter_mut() {
        if p.frozen {
            p.group = None;
            continue;
        }
        let group_name = match p.name.rsplit_once('.') {
            Some((group, _)) => group,
            None => p.name.as_str(),
        };
        p.group = Some(match groups.iter().position(|g| g == group_name) {
            Some(i) => i,
            None => {
                groups.push(group_name.to_string());
                groups.len() - 1
            }
        });
    }
    groups
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
