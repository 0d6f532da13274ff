//! [`RunLog`]: what a training run records about itself, from its first
//! event to its last, and the one way a run ends ([`Ending`]).
//!
//! It owns the run's event file (through the [`Summarizer`], which writes
//! it on another thread), its progress bar and its printed lines. The loop
//! hands it each logged step's loss, accuracy, model and gradients, and
//! ends it once: finished, diverged or stopped by a signal. Every ending
//! writes a last event (the final accuracies and the session's success, or
//! the session's failure), waits for every summary to reach the file, and
//! closes it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor, Var};
use gradscope_tensorboard::image::{image, Image};
use gradscope_tensorboard::logdir::Run;
use gradscope_tensorboard::proto::Event;
use gradscope_tensorboard::summary::{scalar, summary_event, wall_time_now};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::data::Dataset;
use crate::interrupt::{Interrupted, Signal};
use crate::model::Mlp;
use crate::stats::{self, RunSummary};
use crate::tags;
use crate::time_profile::{self, Curve};
use crate::train::adam::{AdamConfig, StepMeasure};
use crate::train::clip;
use crate::train::diagnoser::Diagnosed;
use crate::train::divergence::Divergence;
use crate::train::lines::Lines;
use crate::train::origin::Located;
use crate::train::run_writer::RunWriter;
use crate::train::summarizer::{Clipping, Setup, StepSource, Summarizer};
use crate::train::{describe, TrainConfig};

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
    summaries: Summarizer,
    progress: ProgressBar,
    /// The last logged step, its loss and its batch accuracy.
    last_logged: Option<(usize, f32, f32)>,
    /// A recurrent run's gradient through time at each logged step.
    through_time: Vec<Curve>,
    /// With `--clip-norm`: the iterations since the last logged step and
    /// how many of them were clipped, and the last one's clipping.
    clip_counts: (usize, usize),
    last_clip: Option<(f64, f64)>,
}

impl RunLog {
    /// Starts the run `name` (its folder relative to the logdir) in a new
    /// event file in `run_dir`, and writes what the run says of itself
    /// before its first step (graph, configuration, hyperparameters).
    /// `replayable`: the optimizer's settings where the summary thread can
    /// replay its steps bit for bit.
    pub fn start(
        name: &str,
        run_dir: &Path,
        cfg: &TrainConfig,
        data: &Dataset,
        model: &Mlp,
        replayable: Option<AdamConfig>,
    ) -> Result<RunLog> {
        let shape = model.arch.shape;
        let events = describe::start_events(cfg, data, &shape, run_dir, wall_time_now());
        let diagnosed = Diagnosed {
            arch: model.arch,
            image: (data.train.rows, data.train.cols),
        };
        let kernels = kernels(model);
        RunLog::open(
            name,
            run_dir,
            cfg,
            &kernels,
            events,
            replayable,
            Some(diagnosed),
        )
    }

    /// [`RunLog::start`] for any model: `kernels` are the matrices whose
    /// gradients and values it logs at each step (as layers 1, 2, ...),
    /// `start_events` what the run says of itself first. No per-layer
    /// diagnostics: those need the MLP's forward pass.
    pub fn start_with(
        name: &str,
        run_dir: &Path,
        cfg: &TrainConfig,
        kernels: &[Var],
        start_events: Vec<Event>,
        replayable: Option<AdamConfig>,
    ) -> Result<RunLog> {
        RunLog::open(name, run_dir, cfg, kernels, start_events, replayable, None)
    }

    fn open(
        name: &str,
        run_dir: &Path,
        cfg: &TrainConfig,
        kernels: &[Var],
        start_events: Vec<Event>,
        replayable: Option<AdamConfig>,
        diagnosed: Option<Diagnosed>,
    ) -> Result<RunLog> {
        let writer = RunWriter::create(run_dir, name)?;
        let progress = progress_bar(name, cfg);
        let setup = Setup {
            layers: kernels.len(),
            values_per_step: 2 * kernels.iter().map(|k| k.elem_count()).sum::<usize>(),
            iterations: cfg.iterations,
            // Every step logged: the summary thread can replay the optimizer.
            replica: replayable.filter(|_| cfg.log_every == 1),
            diagnosed,
        };
        let mut lines = Lines::stdout(progress.clone());
        if cfg.progress_bars.is_some() {
            // Runs training at once print in turn: each line says whose.
            lines = lines.prefixed(format!("{name}: "));
        }
        let mut summaries = Summarizer::start(writer, setup, lines)?;
        for event in start_events {
            summaries.write_event(event)?;
        }
        Ok(RunLog {
            name: name.to_string(),
            iterations: cfg.iterations,
            summaries,
            progress,
            last_logged: None,
            through_time: Vec::new(),
            clip_counts: (0, 0),
            last_clip: None,
        })
    }

    /// Logs iteration `i`: the batch's `loss` and accuracy `acc`, per
    /// layer the gradients in `grads` and the kernels of `model` (before
    /// the optimizer steps them), and the per-layer diagnostics of the
    /// batch `x`.
    pub fn step(
        &mut self,
        i: usize,
        x: &Tensor,
        loss: f32,
        acc: f32,
        model: &Mlp,
        grads: &GradStore,
    ) -> Result<()> {
        let source = Snapshot {
            layers: Layers::Mlp(model),
            grads: Some(grads),
            x: Some(x),
        };
        self.log_step(i, loss, acc, &source)
    }

    /// [`RunLog::step`] for any model: `kernels` as given to
    /// [`RunLog::start_with`].
    pub fn step_kernels(
        &mut self,
        i: usize,
        loss: f32,
        acc: f32,
        kernels: &[Var],
        grads: &GradStore,
    ) -> Result<()> {
        let source = Snapshot {
            layers: Layers::Kernels(kernels),
            grads: Some(grads),
            x: None,
        };
        self.log_step(i, loss, acc, &source)
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

    /// Whether the optimizer should measure its step after iteration `i`
    /// ([`optimized`](Self::optimized)): after a diagnosed step (at most
    /// one per 200 iterations, see [`crate::train::diagnoser`]), unless the
    /// summary thread's replica of it measures the step itself.
    pub fn measures_optimizer(&self, i: usize) -> bool {
        self.summaries.wants_measures(i as i64)
    }

    /// Logs the optimizer's step after logged iteration `i`, measured per
    /// kernel (layer 1 first) by the optimizer; `None` where the optimizer
    /// cannot measure it (candle-nn's AdamW).
    pub fn optimized(
        &mut self,
        i: usize,
        measures: Option<Vec<Option<StepMeasure>>>,
    ) -> Result<()> {
        let Some(measures) = measures else {
            return Ok(());
        };
        self.summaries
            .optimized(i as i64, wall_time_now(), measures)
            .with_context(|| format!("{}: logging iteration {i}'s optimizer step", self.name))
    }

    fn log_step(&mut self, i: usize, loss: f32, acc: f32, source: &Snapshot) -> Result<()> {
        let clip = self.last_clip.take().map(|(total_norm, scale)| {
            let (iterations, clipped) = std::mem::take(&mut self.clip_counts);
            Clipping {
                total_norm: total_norm as f32,
                scale: scale as f32,
                fraction: (clipped as f64 / iterations.max(1) as f64) as f32,
            }
        });
        self.summaries
            .log_step(i as i64, wall_time_now(), loss, acc, clip, source)
            .with_context(|| format!("{}: logging iteration {i}", self.name))?;
        self.last_logged = Some((i, loss, acc));
        Ok(())
    }

    /// Logs a recurrent run's gradient through time at iteration `i`,
    /// `norms[t - 1]` being ||dL/dh_t|| ([`time_profile`]): its scalars, and
    /// the figure of every profile logged so far.
    pub fn through_time(&mut self, i: usize, norms: &[f64]) -> Result<()> {
        self.through_time.push(time_profile::curve(i as i64, norms));
        let rgb = time_profile::draw(&self.name, &self.through_time)?;
        let (width, height) = time_profile::SIZE;
        let figure = Image::hwc(rgb.as_slice(), height as usize, width as usize, 3);
        let mut values = time_profile::scalars(norms);
        values.push(image(tags::TIME_GRAD_PROFILE, &figure)?);
        self.summaries
            .write_event(summary_event(i as i64, wall_time_now(), values))
            .with_context(|| format!("{}: logging the gradient through time", self.name))
    }

    /// Counts one iteration done, for the progress bar, in a run without
    /// per-layer diagnostics (one started by [`RunLog::start_with`]).
    pub fn tick(&self) {
        self.progress.inc(1);
    }

    /// Counts iteration `i` done, the optimizer having stepped `model`:
    /// for the progress bar, and, after a logged step, for its update ratios
    /// (the summary thread then takes the stepped kernels, unless it
    /// replays the optimizer itself).
    pub fn stepped(&mut self, i: usize, model: &Mlp) -> Result<()> {
        self.progress.inc(1);
        let source = Snapshot {
            layers: Layers::Mlp(model),
            grads: None,
            x: None,
        };
        self.summaries
            .stepped(i as i64, &source)
            .with_context(|| format!("{}: logging iteration {i}'s update", self.name))
    }

    /// Ends the run at iteration `at`, closing its event file complete. A
    /// finished run returns its figures and the [`Run`] its file holds
    /// (`None` for one too long to keep in memory, see [`RunWriter`]); a
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
            mut summaries,
            progress,
            last_logged,
            through_time,
            ..
        } = self;
        progress.finish_and_clear();
        let (train_acc, test_acc) = match *ending {
            Ending::Finished {
                train_acc,
                test_acc,
            } => (train_acc, test_acc),
            Ending::Diverged { .. } | Ending::Stopped(_) => (f32::NAN, f32::NAN),
        };
        let (final_loss, final_batch_acc) =
            last_logged.map_or((f32::NAN, f32::NAN), |l| (l.1, l.2));
        let wall_time = wall_time_now();
        if !matches!(ending, Ending::Finished { .. }) {
            let mut values = describe::failure_values(wall_time);
            if let Ending::Diverged { cause, origin } = ending {
                values.extend(describe::divergence_values(at, cause, origin));
            }
            summaries.write_event(summary_event(at as i64, wall_time, values))?;
        }
        // The summary thread holds the gradient statistics of every logged
        // step: the finished run's figures wait for it.
        let (mut writer, grad_stats, units) = summaries.finish_diagnosed()?;
        let summary = RunSummary {
            name,
            mean_grad: grad_stats.averages(),
            final_loss,
            final_batch_acc,
            train_acc,
            test_acc,
            units,
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
                .write_event(&summary_event(at as i64, wall_time, values))
                .with_context(|| format!("{}: logging the final accuracies", summary.name))?;
        }
        let path = writer.path().to_path_buf();
        let run = writer.close()?;
        Ok(Closed { path, summary, run })
    }
}

/// A run whose event file is closed.
struct Closed {
    path: PathBuf,
    summary: RunSummary,
    run: Option<Run>,
}

/// A step's numbers as the summarizer copies them: the model's kernels and
/// biases, their gradients and the batch (these two at a logged step only).
struct Snapshot<'a> {
    layers: Layers<'a>,
    grads: Option<&'a GradStore>,
    x: Option<&'a Tensor>,
}

/// Whose kernels (and biases) a step's statistics are of. Borrowed, not
/// collected: [`RunLog::stepped`] makes a snapshot every training step,
/// and almost every time nothing is copied from it.
#[derive(Clone, Copy)]
enum Layers<'a> {
    /// The MLP's layers, layer 1 first.
    Mlp(&'a Mlp),
    /// Any model's kernels, as given to [`RunLog::start_with`] (no biases:
    /// they serve only the MLP's diagnostics).
    Kernels(&'a [Var]),
}

impl<'a> Layers<'a> {
    fn kernels(self) -> Box<dyn Iterator<Item = &'a Var> + 'a> {
        match self {
            Layers::Mlp(model) => Box::new(model.layers.iter().map(|l| &l.kernel)),
            Layers::Kernels(kernels) => Box::new(kernels.iter()),
        }
    }

    fn biases(self) -> Box<dyn Iterator<Item = &'a Var> + 'a> {
        match self {
            Layers::Mlp(model) => Box::new(model.layers.iter().map(|l| &l.bias)),
            Layers::Kernels(_) => Box::new(std::iter::empty()),
        }
    }
}

/// The MLP's kernels, layer 1 first (handles, not copies).
fn kernels(model: &Mlp) -> Vec<Var> {
    model.layers.iter().map(|l| l.kernel.clone()).collect()
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

impl StepSource for Snapshot<'_> {
    fn copy_grads(&self, out: &mut [Vec<f32>]) -> Result<()> {
        let grads = self
            .grads
            .context("no gradients after the optimizer's step")?;
        for (kernel, out) in self.layers.kernels().zip(out) {
            let grad = grads
                .get(kernel.as_tensor())
                .context("the loss does not depend on a layer's kernel")?;
            crate::cpu::copy_f32(grad, out)?;
        }
        Ok(())
    }

    fn copy_weights(&self, out: &mut [Vec<f32>]) -> Result<()> {
        for (kernel, out) in self.layers.kernels().zip(out) {
            crate::cpu::copy_f32(kernel.as_tensor(), out)?;
        }
        Ok(())
    }

    fn copy_biases(&self, out: &mut [Vec<f32>]) -> Result<()> {
        for (bias, out) in self.layers.biases().zip(out) {
            crate::cpu::copy_f32(bias.as_tensor(), out)?;
        }
        Ok(())
    }

    fn batch(&self) -> Result<Tensor> {
        let x = self.x.context("no batch after the optimizer's step")?;
        // A handle on the CPU tensor; a device's batch is copied here, on
        // the training thread that owns the device.
        Ok(match x.device() {
            Device::Cpu => x.clone(),
            _ => x.to_device(&Device::Cpu)?,
        })
    }
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
