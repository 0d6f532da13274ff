//! [`RunLog`]: what a training run records about itself, from its first
//! event to its last, and the one way a run ends ([`Ending`]).
//!
//! It writes through the public `SummaryWriter` of `gradscope-tensorboard`,
//! in its background mode: each call hands its values over and returns,
//! and the writer's own thread buckets the histograms, encodes the PNGs
//! and writes the file, in call order. The loop hands the log each logged
//! step's loss, accuracy, batch and backward pass, and ends it once:
//! finished, diverged or stopped by a signal. Every ending writes a last
//! event (the final accuracies and the session's success, or the
//! session's failure), waits for every summary to reach the file, and
//! closes it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use candle_core::{Tensor, Var};
use gradscope_candle::magnitude::log10_abs_histogram;
use gradscope_tensorboard::image::Image;
use gradscope_tensorboard::logdir::Run;
use gradscope_tensorboard::proto::summary;
use gradscope_tensorboard::summary::{scalar, summary_event, wall_time_now};
use gradscope_tensorboard::{Batch, SummaryWriter};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::data::Dataset;
use crate::interrupt::{Interrupted, Signal};
use crate::stats::{self, GradStats, RunSummary};
use crate::tags;
use crate::time_profile::{self, Curve};
use crate::train::adam::StepMeasure;
use crate::train::checkpoint::LogState;
use crate::train::clip;
use crate::train::divergence::Divergence;
use crate::train::lines::Lines;
use crate::train::network::{Network, Pass};
use crate::train::origin::Located;
use crate::train::views::{Views, DIAGNOSE_EVERY};
use crate::train::{describe, TrainConfig};

/// How a run's logging begins.
#[derive(Debug)]
pub enum Opening {
    /// A new run (any earlier files in its folder stay as they are).
    Fresh,
    /// The run again from step 0, its folder's earlier points dropped (a
    /// resume with no checkpoint to continue from).
    Restart,
    /// Continued at iteration `at` from a checkpoint's log state; points
    /// the earlier files hold from `at` on are dropped.
    Resume { at: usize, state: LogState },
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Ending {
    /// Every iteration ran; the model scored these on the whole splits.
    Finished { train_acc: f32, test_acc: f32 },
    /// A loss or gradient went non-finite; nothing more was trained.
    /// `origin`: where the first non-finite value of that iteration was.
    Diverged { cause: Divergence, origin: Located },
    /// A signal asked the run to stop.
    Stopped(Signal),
}

/// A run that diverged, after its event file was closed complete.
#[derive(Debug, Clone, PartialEq)]
pub struct Diverged {
    pub run: String,
    pub iteration: usize,
    pub cause: Divergence,
    /// Where it began.
    pub origin: Located,
    /// The run's event file.
    pub path: PathBuf,
}

impl fmt::Display for Diverged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Diverged {
            run,
            iteration,
            cause,
            origin,
            path,
        } = self;
        write!(
            f,
            "{run}: training diverged at iteration {iteration}: {cause}; {origin}. Everything \
             logged up to and including iteration {iteration} is in {}",
            path.display()
        )
    }
}

impl std::error::Error for Diverged {}

/// One run's logging.
pub struct RunLog {
    name: String,
    iterations: usize,
    writer: SummaryWriter,
    progress: ProgressBar,
    lines: Lines,
    /// The matrices logged as layers 1, 2, ..., and their biases (for the
    /// views; empty for a network without them).
    kernels: Vec<Var>,
    biases: Vec<Var>,
    /// The MLP's per-layer views ([`crate::train::views`]).
    views: Option<Views>,
    /// Each layer's tag names, made once.
    layer_tags: Vec<LayerTags>,
    /// Each layer's mean |grad| over the logged steps.
    grad_stats: GradStats,
    means: Vec<f64>,
    /// The first iteration from which a logged step is diagnosed, and the
    /// last step that was.
    next_diagnosed: usize,
    diagnosed: Option<usize>,
    /// The last logged step, its loss and its batch accuracy.
    last_logged: Option<(usize, f32, f32)>,
    /// A recurrent run's gradient through time at each logged step.
    through_time: Vec<Curve>,
    /// With `--clip-norm`: the iterations since the last logged step and
    /// how many of them were clipped, and the last one's clipping.
    clip_counts: (usize, usize),
    last_clip: Option<(f64, f64)>,
    /// Stopped with a checkpoint to continue from: what only the run's
    /// real end writes (the views' last) is left to it.
    continues: bool,
}

impl RunLog {
    /// Starts the run `name` (its folder relative to the logdir) in a new
    /// event file in `run_dir`, as `opening` says: fresh, or over the
    /// folder's earlier files from step 0, with what `net` says of itself
    /// before its first step (graph, configuration, hyperparameters); or
    /// continued from a checkpoint, its state restored.
    pub fn start(
        name: &str,
        run_dir: &Path,
        cfg: &TrainConfig,
        data: &Dataset,
        net: &dyn Network,
        opening: Opening,
    ) -> Result<RunLog> {
        let mut builder = SummaryWriter::builder(run_dir).background(QUEUE);
        builder = match &opening {
            Opening::Fresh => builder.record_run(name, RECORDED_VALUES),
            // The earlier files' points are dropped: the recorded run
            // (this file's) is the whole run.
            Opening::Restart => builder.record_run(name, RECORDED_VALUES).purge_step(0),
            // Not recorded: the run is this file and the earlier ones up to
            // `at`, which the report reads back from the folder.
            Opening::Resume { at, .. } => builder.purge_step(*at),
        };
        let writer = builder.build()?;
        if !matches!(opening, Opening::Resume { .. }) {
            for event in net.start_events(cfg, data, run_dir) {
                writer.add_event(&event)?;
            }
        }
        let progress = progress_bar(name, cfg);
        let mut lines = Lines::stdout(progress.clone());
        if cfg.progress_bars.is_some() {
            // Runs training at once print in turn: each line says whose.
            lines = lines.prefixed(format!("{name}: "));
        }
        let kernels = net.kernels();
        let mut log = RunLog {
            name: name.to_string(),
            iterations: cfg.iterations,
            writer,
            progress,
            lines,
            grad_stats: GradStats::new(kernels.len()),
            means: Vec::with_capacity(kernels.len()),
            layer_tags: (1..=kernels.len()).map(LayerTags::new).collect(),
            kernels,
            biases: net.biases(),
            views: net.diagnosed(data).map(Views::new),
            next_diagnosed: 0,
            diagnosed: None,
            last_logged: None,
            through_time: Vec::new(),
            clip_counts: (0, 0),
            last_clip: None,
            continues: false,
        };
        if let Opening::Resume { at, state } = opening {
            log.resume(at, state)?;
        }
        Ok(log)
    }

    /// Continues at iteration `at` from `state` ([`state`](Self::state)).
    fn resume(&mut self, at: usize, state: LogState) -> Result<()> {
        let first_kernel = self.kernels.first().map_or(0, |k| k.elem_count());
        let views_fit = match &state.views {
            // The last diagnosed step's kernel, which the run's end draws.
            Some(v) => v.last.is_none() || v.last_first_kernel.len() == first_kernel,
            None => true,
        };
        if state.grad_sums.len() != self.kernels.len()
            || state.views.is_some() != self.views.is_some()
            || !views_fit
        {
            anyhow::bail!(
                "{}: the checkpoint's run log is of another network ({} layers, views {})",
                self.name,
                state.grad_sums.len(),
                state.views.is_some()
            );
        }
        self.grad_stats = GradStats::from_sums(state.grad_sums, state.grad_steps);
        self.last_logged = state.last_logged;
        self.next_diagnosed = state.next_diagnosed;
        self.clip_counts = state.clip_counts;
        self.through_time = state.through_time;
        if let (Some(views), Some(saved)) = (&mut self.views, state.views) {
            views.resume(saved);
        }
        self.progress.set_position(at as u64);
        Ok(())
    }

    /// What continuing this log exactly needs, between two iterations.
    pub fn state(&self) -> LogState {
        LogState {
            grad_sums: self.grad_stats.sums().to_vec(),
            grad_steps: self.grad_stats.steps(),
            last_logged: self.last_logged,
            next_diagnosed: self.next_diagnosed,
            clip_counts: self.clip_counts,
            views: self.views.as_ref().map(Views::saved),
            through_time: self.through_time.clone(),
        }
    }

    /// Marks the run as saved to continue later: a stop then leaves the
    /// views' last image (at an earlier step, which the resumed run's
    /// purge would keep) to the run's real end.
    pub fn continues_later(&mut self) {
        self.continues = true;
    }

    /// Hands everything logged so far to the OS: before a checkpoint, so
    /// the file holds every step the checkpoint has done.
    pub fn flush(&self) -> Result<()> {
        self.writer
            .flush()
            .with_context(|| format!("{}: writing the summaries before a checkpoint", self.name))
    }

    /// Counts iteration `i`'s gradient clipping (`--clip-norm`): their
    /// global norm was `total_norm` before clipping to `max_norm`
    /// ([`clip::clip_grad_norm`]). Call it before the iteration's
    /// [`step`](Self::step), if logged.
    pub fn clipped(&mut self, total_norm: f64, max_norm: f64) {
        let scale = clip::scale(total_norm, max_norm);
        self.clip_counts.0 += 1;
        self.clip_counts.1 += usize::from(scale < 1.0);
        self.last_clip = Some((total_norm, scale));
    }

    /// Logs iteration `i`: the batch's `loss` and accuracy `acc`, and per
    /// layer the gradients of `pass` and the kernels (before the optimizer
    /// steps them): mean |grad|, its log10, the gradient's norm before
    /// clipping, the histograms of gradient and kernel. The first logged
    /// step on or after each multiple of [`DIAGNOSE_EVERY`] also gets the
    /// histogram of the gradients' log10 magnitudes, the count of exact
    /// zeros and the views of `x`'s batch; with `--clip-norm`, the global
    /// norm and the fraction of iterations clipped.
    pub fn step(&mut self, i: usize, loss: f32, acc: f32, x: &Tensor, pass: &Pass) -> Result<()> {
        self.log_step(i, loss, acc, x, pass)
            .with_context(|| format!("{}: logging iteration {i}", self.name))
    }

    fn log_step(&mut self, i: usize, loss: f32, acc: f32, x: &Tensor, pass: &Pass) -> Result<()> {
        // The whole step is one event: one entry in the writer's queue, the
        // histograms bucketed on its thread.
        let mut batch = Batch::new();
        batch.scalar(tags::LOSS, loss).scalar(tags::ACC, acc);
        // The gradients were multiplied by this: their norms before, after.
        let mut scale = 1.0;
        if let Some((total_norm, s)) = self.last_clip.take() {
            let (iterations, clipped) = std::mem::take(&mut self.clip_counts);
            let fraction = clipped as f64 / iterations.max(1) as f64;
            batch
                .scalar(tags::GLOBAL_GRAD_NORM, total_norm)
                .scalar(tags::CLIPPED_FRACTION, fraction);
            scale = s;
        }
        let diagnosed = i >= self.next_diagnosed;
        if diagnosed {
            self.next_diagnosed = (i / DIAGNOSE_EVERY + 1) * DIAGNOSE_EVERY;
            self.diagnosed = Some(i);
        }
        let mut copies = Vec::new();
        self.means.clear();
        for (kernel, tags) in self.kernels.iter().zip(&self.layer_tags) {
            let grad = pass
                .grads
                .get(kernel.as_tensor())
                .context("the loss does not depend on a layer's kernel")?;
            // Read where they lie; the batch copies each into a buffer the
            // writer's thread hands back (the optimizer steps the kernel
            // in place next).
            let mean = crate::cpu::with_f32(grad, |g| {
                let mean = stats::mean_abs(g);
                batch
                    .scalar(&tags.mean_grad, mean)
                    .scalar(&tags.log10_mean_grad, mean.log10())
                    .scalar(&tags.grad_norm, stats::norm(g) / scale);
                if diagnosed {
                    // gradscope_candle's definition, as the monitor writes it.
                    let magnitudes = log10_abs_histogram(g);
                    // None where no value is finite and non-zero (a diverged step).
                    if let Ok(value) = magnitudes.to_value(&tags.log10_abs_grad) {
                        batch.value(value);
                    }
                    batch.scalar(&tags.zero_grad, magnitudes.zeros);
                }
                batch.histogram(&tags.grad_histogram, g);
                mean
            })?;
            self.means.push(mean);
            crate::cpu::with_f32(kernel.as_tensor(), |k| {
                if diagnosed && self.views.is_some() {
                    copies.push(k.to_vec());
                }
                batch.histogram(&tags.weight_histogram, k);
            })?;
        }
        let non_finite = self.writer.add_batch(batch, i)?;
        self.grad_stats.record(&self.means);
        if let Some(norms) = pass.through_time() {
            self.log_through_time(i, &norms)?;
        }
        if let (Some(views), true) = (&mut self.views, diagnosed) {
            let biases = (self.biases.iter())
                .map(|b| {
                    let mut v = Vec::new();
                    crate::cpu::copy_f32(b.as_tensor(), &mut v).map(|()| v)
                })
                .collect::<candle_core::Result<Vec<_>>>()?;
            views.observe(&self.writer, i, x, copies, &biases, &self.means)?;
        }
        self.last_logged = Some((i, loss, acc));
        self.lines.print(format_args!(
            "Iteration {i} of {}, loss: {loss:.3}, train accuracy: {:.2}%",
            self.iterations,
            acc * 100.0
        ));
        if non_finite > 0 {
            self.lines.print(format_args!(
                "  warning: step {i}: {non_finite} NaN/infinite values left out of the histograms"
            ));
        }
        Ok(())
    }

    /// Whether the optimizer should measure its step after iteration `i`
    /// ([`optimized`](Self::optimized)): after a diagnosed step (at most
    /// one per [`DIAGNOSE_EVERY`] iterations).
    pub fn measures_optimizer(&self, i: usize) -> bool {
        self.diagnosed == Some(i)
    }

    /// Logs the optimizer's step after logged iteration `i`, measured per
    /// kernel (layer 1 first) by the optimizer: the norms of Adam's moments
    /// and the cosine of its step with the negative gradient; `None` where
    /// the optimizer cannot measure it (candle-nn's AdamW).
    pub fn optimized(
        &mut self,
        i: usize,
        measures: Option<Vec<Option<StepMeasure>>>,
    ) -> Result<()> {
        let Some(measures) = measures else {
            return Ok(());
        };
        let values = optimizer_values(measures.iter().map(Option::as_ref));
        self.writer
            .add_event(&summary_event(i as i64, wall_time_now(), values))
            .with_context(|| format!("{}: logging iteration {i}'s optimizer step", self.name))
    }

    /// Counts iteration `i` done, the optimizer having stepped the
    /// weights: for the progress bar, and after a diagnosed step for its
    /// update ratios.
    pub fn stepped(&mut self, i: usize) -> Result<()> {
        self.progress.inc(1);
        self.lines.write_if_due();
        if let (Some(views), Some(at)) = (&mut self.views, self.diagnosed) {
            if at == i {
                let after = (self.kernels.iter())
                    .map(|k| {
                        let mut v = Vec::new();
                        crate::cpu::copy_f32(k.as_tensor(), &mut v).map(|()| v)
                    })
                    .collect::<candle_core::Result<Vec<_>>>()?;
                views
                    .stepped(&self.writer, i, &after)
                    .with_context(|| format!("{}: logging iteration {i}'s update", self.name))?;
            }
        }
        Ok(())
    }

    /// Logs a recurrent run's gradient through time at iteration `i`,
    /// `norms[t - 1]` being ||dL/dh_t|| ([`time_profile`]): its scalars, and
    /// the figure of every profile logged so far.
    fn log_through_time(&mut self, i: usize, norms: &[f64]) -> Result<()> {
        self.through_time.push(time_profile::curve(i as i64, norms));
        let rgb = time_profile::draw(&self.name, &self.through_time)?;
        let (width, height) = time_profile::SIZE;
        let figure = Image::hwc(rgb.as_slice(), height as usize, width as usize, 3);
        let values = time_profile::scalars(norms);
        self.writer
            .add_event(&summary_event(i as i64, wall_time_now(), values))?;
        self.writer
            .add_image(tags::TIME_GRAD_PROFILE, &figure, i)
            .context("logging the gradient through time")?;
        Ok(())
    }
    /// Ends the run at iteration `at`, closing its event file complete. A
    /// finished run returns its summary and the [`Run`] its file holds
    /// (`None` for one too long to keep in memory, see [`RECORDED_VALUES`]); a
    /// diverged one returns a [`Diverged`] error, a stopped one an
    /// [`Interrupted`], each saying what was kept where.
    pub fn end(self, at: usize, ending: Ending) -> Result<(RunSummary, Option<Run>)> {
        let (name, iterations, last_logged) =
            (self.name.clone(), self.iterations, self.last_logged);
        let closed = self.close(at, &ending);
        match ending {
            Ending::Finished { .. } => closed.map(|closed| (closed.summary, closed.run)),
            Ending::Diverged { cause, origin } => Err(Diverged {
                run: name,
                iteration: at,
                cause,
                origin,
                path: closed?.path,
            }
            .into()),
            Ending::Stopped(signal) => {
                let path = match closed {
                    Ok(closed) => closed.path,
                    Err(e) => return Err(e.context(format!("{name}: stopped by {signal}"))),
                };
                let logged = match last_logged {
                    Some((step, ..)) => format!(
                        "logged up to and including iteration {step} in {}",
                        path.display()
                    ),
                    None => format!(
                        "nothing logged yet; {} holds only the run's description",
                        path.display()
                    ),
                };
                let message = format!(
                    "{name}: stopped by {signal} at iteration {at} of {iterations} \
                     ({at} iterations done); {logged}"
                );
                Err(Interrupted { signal, message }.into())
            }
        }
    }

    /// Writes the run's last event at step `at`, waits for every summary
    /// to be written and closes the file.
    fn close(self, at: usize, ending: &Ending) -> Result<Closed> {
        let RunLog {
            name,
            writer,
            progress,
            mut lines,
            mut views,
            grad_stats,
            last_logged,
            through_time,
            continues,
            ..
        } = self;
        progress.finish_and_clear();
        lines.write_out();
        let (train_acc, test_acc) = match *ending {
            Ending::Finished {
                train_acc,
                test_acc,
            } => (train_acc, test_acc),
            Ending::Diverged { .. } | Ending::Stopped(_) => (f32::NAN, f32::NAN),
        };
        let (final_loss, final_batch_acc) =
            last_logged.map_or((f32::NAN, f32::NAN), |l| (l.1, l.2));
        // The views' last (the first layer's kernels at the last logged
        // step) come before the run's last events.
        if let (Some(views), false) = (&mut views, continues) {
            views.end(&writer)?;
        }
        let wall_time = wall_time_now();
        if !matches!(ending, Ending::Finished { .. }) {
            let mut values = describe::failure_values(wall_time);
            if let Ending::Diverged { cause, origin } = ending {
                values.extend(describe::divergence_values(at, cause, origin));
            }
            writer.add_event(&summary_event(at as i64, wall_time, values))?;
        }
        let summary = RunSummary {
            name,
            mean_grad: grad_stats.averages(),
            final_loss,
            final_batch_acc,
            train_acc,
            test_acc,
            units: views.as_ref().and_then(Views::units),
            time_attenuation: time_attenuation(&through_time),
        };
        if let Ending::Finished { .. } = ending {
            let mut values = vec![
                scalar(tags::TEST_ACC, test_acc),
                scalar(tags::TRAIN_ACC, train_acc),
                scalar(tags::ATTENUATION, summary.attenuation() as f32),
            ];
            values.extend(describe::finish_values(&summary, wall_time));
            writer
                .add_event(&summary_event(at as i64, wall_time, values))
                .with_context(|| format!("{}: logging the final accuracies", summary.name))?;
        }
        let path = writer.file_path().to_path_buf();
        writer.close()?;
        Ok(Closed {
            path,
            summary,
            run: writer.take_run(),
        })
    }
}

/// A run whose event file is closed.
struct Closed {
    path: PathBuf,
    summary: RunSummary,
    run: Option<Run>,
}

/// The tags of one layer's values at a logged step.
struct LayerTags {
    mean_grad: String,
    log10_mean_grad: String,
    grad_norm: String,
    log10_abs_grad: String,
    zero_grad: String,
    grad_histogram: String,
    weight_histogram: String,
}

impl LayerTags {
    fn new(layer: usize) -> LayerTags {
        LayerTags {
            mean_grad: tags::MEAN_GRAD.tag(layer),
            log10_mean_grad: tags::LOG10_MEAN_GRAD.tag(layer),
            grad_norm: tags::GRAD_NORM.tag(layer),
            log10_abs_grad: tags::LOG10_ABS_GRAD.tag(layer),
            zero_grad: tags::ZERO_GRAD.tag(layer),
            grad_histogram: tags::grad_histogram(layer),
            weight_histogram: tags::weight_histogram(layer),
        }
    }
}

/// How many calls the writer's thread may be behind before a call waits
/// for it: a few steps of `--log-every 1` on the default network.
const QUEUE: usize = 256;

/// The most values (scalars, histograms, texts: points of tags) a run
/// keeps in memory for the report, about 16 MB; the default experiment at
/// `--log-every 1` logs some 150,000 a run. A longer run's report reads
/// its file back instead.
const RECORDED_VALUES: usize = 1 << 20;

/// The optimizer's values of a logged step: per layer (kernel), the norms
/// of Adam's moments and the cosine of its step with the negative gradient
/// (none for a layer not measured, or a cosine not defined).
fn optimizer_values<'a>(
    measures: impl Iterator<Item = Option<&'a StepMeasure>>,
) -> Vec<summary::Value> {
    let mut values = Vec::new();
    for (l, measure) in measures.enumerate() {
        let Some(measure) = measure else { continue };
        let layer = l + 1;
        values.push(scalar(
            &tags::ADAM_M_NORM.tag(layer),
            measure.m_norm() as f32,
        ));
        values.push(scalar(
            &tags::ADAM_V_NORM.tag(layer),
            measure.v_norm() as f32,
        ));
        if let Some(cosine) = measure.cosine() {
            values.push(scalar(&tags::UPDATE_COSINE.tag(layer), cosine as f32));
        }
    }
    values
}

/// [`stats::time_attenuation`] of the logged profiles, from each step's
/// last-over-first ratio; `None` for a run without them (the MLP).
fn time_attenuation(curves: &[Curve]) -> Option<f64> {
    let ratios: Vec<f64> = curves
        .iter()
        .filter_map(|(_, c)| Some(time_profile::attenuation(c.first()?.1, c.last()?.1)))
        .collect();
    (!ratios.is_empty()).then(|| stats::time_attenuation(&ratios))
}

fn progress_bar(name: &str, cfg: &TrainConfig) -> ProgressBar {
    let target = if cfg.progress {
        ProgressDrawTarget::stderr_with_hz(10)
    } else {
        ProgressDrawTarget::hidden()
    };
    let mut bar = ProgressBar::with_draw_target(Some(cfg.iterations as u64), target);
    if let Some(bars) = cfg.progress_bars.as_ref().filter(|_| cfg.progress) {
        bar = bars.add(bar);
    }
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:40}] {human_pos}/{human_len} eta {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(name.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
