//! Building and writing a run's summaries on a second thread.
//!
//! At a logged step the training thread only copies the gradients and
//! weights out (into recycled buffers) and hands them over; the histograms,
//! the mean |grad| scalars, protobuf encoding and the event file's I/O all
//! happen here, on another core. At `--log-every 1` (twelve histograms a
//! step) that work is most of a training step's length on the default
//! network, so it must not run on the training thread.
//!
//! Even the copy costs: a cache line this thread has read must be taken
//! back by the training thread's core before it can write it again, so
//! copying 67 KB a step for this thread takes 4 µs against 1.6 µs for
//! buffers no other core reads. At `--log-every 1` the worker therefore
//! replays the optimizer on the kernels ([`Replica`]) from the gradients
//! it gets anyway, and the training thread sends the kernels only at step
//! 0 and every [`CHECK_EVERY`] steps, where the replica is checked.
//!
//! The queue holds a few MB of records, so a slow write (a page-cache
//! stall of a few ms) does not hold training up. When the worker falls
//! behind for longer (a busy core, a network whose histograms take longer
//! than its steps), the training thread does not wait for room in the
//! queue: it builds that step's event itself and queues the finished
//! event, so both cores share the summaries instead of one idling.
//!
//! Events keep their order: everything the run writes goes through one
//! channel to one [`RunWriter`]. Each logged step's terminal line is printed
//! here too, once its event is written: formatting it cost the training
//! thread about 1 µs a step at `--log-every 1`.
//!
//! The per-layer diagnostics and images of a logged step ([`Diagnoser`])
//! are built here as well, into an event of their own after the step's.

use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TryRecvError, TrySendError};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use candle_core::Tensor;

use crate::stats::{mean_abs, GradStats, UnitFractions};
use crate::tags;
use crate::train::adam::{AdamConfig, Replica, StepMeasure};
use crate::train::diagnoser::{Diagnosed, Diagnoser, DIAGNOSE_EVERY};
use crate::train::lines::Lines;
use crate::train::run_writer::RunWriter;
use gradscope_candle::magnitude::log10_abs_histogram;
use gradscope_tensorboard::proto::summary::value::Value::Histo;
use gradscope_tensorboard::proto::{summary, Event};
use gradscope_tensorboard::summary::{histogram, scalar, summary_event};

/// Where a logged step's numbers come from: per dense layer, input first,
/// the kernel and the kernel's gradient, copied into buffers the
/// summarizer owns. The model and its `GradStore` are not `Send`; copies
/// are.
pub trait StepSource {
    /// Each layer's kernel gradient into `out[layer]`.
    fn copy_grads(&self, out: &mut [Vec<f32>]) -> Result<()>;
    /// Each layer's kernel (as the optimizer has not yet stepped it) into
    /// `out[layer]`.
    fn copy_weights(&self, out: &mut [Vec<f32>]) -> Result<()>;
    /// Each layer's bias into `out[layer]`, for the diagnostics.
    fn copy_biases(&self, out: &mut [Vec<f32>]) -> Result<()>;
    /// The step's batch (`batch × inputs`) on the CPU, for the diagnostics'
    /// forward pass: a handle on the same tensor, not a copy.
    fn batch(&self) -> Result<Tensor>;
}

/// One logged training step, as the training thread saw it.
struct StepRecord {
    step: i64,
    wall_time: f64,
    loss: f32,
    /// Accuracy on the step's batch.
    acc: f32,
    /// Per layer, input first: the kernel's gradient and the kernel.
    grads: Vec<Vec<f32>>,
    weights: Vec<Vec<f32>>,
    /// Whether `weights` holds this step's kernels. When it does not
    /// ([`Summarizer::wants_weights`] said so), the worker's [`Replica`]
    /// of the optimizer has them.
    has_weights: bool,
    /// With diagnostics: each layer's bias, and the step's batch.
    biases: Vec<Vec<f32>>,
    batch: Option<Tensor>,
    /// Whether the step is one of the diagnosed steps (at most one per
    /// [`DIAGNOSE_EVERY`] iterations), which also get the log10 |grad|
    /// histograms: the first logged step on or after each multiple, every
    /// logged step at the default `--log-every 200`.
    detailed: bool,
    /// With `--clip-norm`: how the step's gradients were clipped (`grads`
    /// holds them clipped). Boxed: a job is moved through the queue, and
    /// most runs do not clip.
    clip: Option<Box<Clipping>>,
}

/// A logged step's gradient clipping (`--clip-norm`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clipping {
    /// The global norm of every parameter's gradient before clipping.
    pub total_norm: f32,
    /// What the gradients were multiplied by (1: not clipped).
    pub scale: f32,
    /// The fraction of the iterations since the last logged step, this one
    /// included, that were clipped.
    pub fraction: f32,
}

enum Job {
    Event(Event),
    Step(StepRecord),
    /// A step the training thread built itself, the queue being full.
    Built(Box<BuiltStep>),
    /// The kernels after the optimizer's step that followed logged step
    /// `step` (sent when no replica has them), for the update ratios.
    Stepped {
        step: i64,
        kernels: Vec<Vec<f32>>,
    },
    /// The optimizer's step after logged step `step`, measured per layer
    /// by the training thread's optimizer (when no replica measures it).
    Optimized {
        step: i64,
        wall_time: f64,
        measures: Vec<Option<StepMeasure>>,
    },
}

/// A step's finished event, with what the worker records of it, and the
/// record it was built from (its gradients step the worker's replica).
struct BuiltStep {
    event: Event,
    /// Each layer's mean |grad|, for [`GradStats`].
    means: Vec<f64>,
    line: StepLine,
    record: StepRecord,
}

impl BuiltStep {
    /// Builds the step's event from `record`, which must hold its weights.
    fn of(record: StepRecord) -> BuiltStep {
        let mut means = Vec::with_capacity(record.grads.len());
        let (event, non_finite) = step_event(&record, &record.weights, &mut means);
        BuiltStep {
            event,
            means,
            line: StepLine::of(&record, non_finite),
            record,
        }
    }
}

/// What the terminal says of a logged step, once its event is written.
struct StepLine {
    step: i64,
    loss: f32,
    acc: f32,
    /// NaN and infinite values its histograms left out.
    non_finite: usize,
}

impl StepLine {
    fn of(record: &StepRecord, non_finite: usize) -> StepLine {
        StepLine {
            step: record.step,
            loss: record.loss,
            acc: record.acc,
            non_finite,
        }
    }

    fn print(&self, lines: &mut Lines, iterations: usize) {
        let StepLine {
            step,
            loss,
            acc,
            non_finite,
        } = *self;
        lines.print(format_args!(
            "Iteration {step} of {iterations}, loss: {loss:.3}, train accuracy: {:.2}%",
            acc * 100.0
        ));
        if non_finite > 0 {
            lines.print(format_args!(
                "  warning: step {step}: {non_finite} NaN/infinite values left out of the histograms"
            ));
        }
    }
}

/// What the worker hands back when the run ends.
struct Finished {
    writer: RunWriter,
    grad_stats: GradStats,
    units: Option<UnitFractions>,
}

/// What the summary thread needs to know of the run.
#[derive(Debug, Clone, Copy)]
pub struct Setup {
    /// Dense layers, each logged with its kernel and the kernel's gradient.
    pub layers: usize,
    /// The numbers in one step's record: every kernel and its gradient.
    pub values_per_step: usize,
    /// The run's length, for the printed lines (`Iteration 5 of 2500`).
    pub iterations: usize,
    /// The optimizer's settings when every step is logged from step 0:
    /// the worker then keeps the kernels with a [`Replica`] of it, and the
    /// training thread sends them only every [`CHECK_EVERY`] steps.
    pub replica: Option<AdamConfig>,
    /// The network, for the per-layer diagnostics ([`Diagnoser`]); `None`
    /// logs none.
    pub diagnosed: Option<Diagnosed>,
}

/// At `--log-every 1`, how often the training thread sends the kernels
/// anyway: the worker checks its replica against them (and corrects it, and
/// says so, should they ever differ).
pub const CHECK_EVERY: i64 = 200;

/// The training thread's handle on the summary thread.
pub struct Summarizer {
    jobs: Option<SyncSender<Job>>,
    /// Buffers of records already written, for reuse: from the worker, and
    /// those of steps this thread built itself.
    spare: Receiver<StepRecord>,
    kept: Vec<StepRecord>,
    worker: Option<JoinHandle<Result<Finished>>>,
    layers: usize,
    /// Whether the worker keeps the kernels itself between checks.
    replicated: bool,
    /// Whether the worker logs the per-layer diagnostics.
    diagnosed: bool,
    /// The next step from which a logged step is diagnosed
    /// ([`DIAGNOSE_EVERY`]), and the last one that was.
    next_diagnosed: i64,
    last_diagnosed: Option<i64>,
    /// The last logged step that was diagnosed (with or without the
    /// per-layer diagnostics).
    last_detailed: Option<i64>,
}

/// The records' bytes the queue holds before `log_step` builds a step
/// itself: on the default network about 60 records, enough to ride out a
/// write that stalls for a few ms at `--log-every 1`.
const QUEUE_BYTES: usize = 4 << 20;

/// Records the queue holds for steps of `values_per_step` numbers: as many
/// as fit in [`QUEUE_BYTES`], at least 2 (large networks), at most 64.
fn queue_depth(values_per_step: usize) -> usize {
    (QUEUE_BYTES / (4 * values_per_step).max(1)).clamp(2, 64)
}

impl Summarizer {
    /// Starts the worker, which owns `writer` from now on. It prints each
    /// logged step's line (and any warning) to `lines` once the step's event
    /// is written, and writes out their due lines when it wakes.
    pub fn start(writer: RunWriter, setup: Setup, lines: Lines) -> Result<Summarizer> {
        let (jobs, inbox) = mpsc::sync_channel(queue_depth(setup.values_per_step));
        let (give_back, spare) = mpsc::channel();
        let worker = std::thread::Builder::new()
            .name("summaries".into())
            .spawn(move || work(writer, setup, &inbox, &give_back, lines))
            .context("starting the summary thread")?;
        Ok(Summarizer {
            jobs: Some(jobs),
            spare,
            kept: Vec::new(),
            worker: Some(worker),
            layers: setup.layers,
            replicated: setup.replica.is_some(),
            diagnosed: setup.diagnosed.is_some(),
            next_diagnosed: 0,
            last_diagnosed: None,
            last_detailed: None,
        })
    }

    /// Logs one step: copies its gradients (and, when the worker needs
    /// them, its kernels) out of `source` and queues them; the worker
    /// builds and writes the step's summaries and prints its line.
    pub fn log_step(
        &mut self,
        step: i64,
        wall_time: f64,
        loss: f32,
        acc: f32,
        clip: Option<Clipping>,
        source: &dyn StepSource,
    ) -> Result<()> {
        let mut record = self.record(step, wall_time, loss, acc);
        record.clip = clip.map(Box::new);
        source.copy_grads(&mut record.grads)?;
        if self.wants_weights(step) {
            source.copy_weights(&mut record.weights)?;
            record.has_weights = true;
        }
        if step >= self.next_diagnosed {
            self.next_diagnosed = (step / DIAGNOSE_EVERY + 1) * DIAGNOSE_EVERY;
            record.detailed = true;
            self.last_detailed = Some(step);
            if self.diagnosed {
                source.copy_biases(&mut record.biases)?;
                record.batch = Some(source.batch()?);
                self.last_diagnosed = Some(step);
            }
        }
        self.queue_step(record, source)
    }

    /// The optimizer has stepped after iteration `step`: if that step was
    /// logged with diagnostics and no replica follows the kernels, sends
    /// them (from `source`) for its update ratios.
    pub fn stepped(&mut self, step: i64, source: &dyn StepSource) -> Result<()> {
        if self.replicated || self.last_diagnosed != Some(step) {
            return Ok(());
        }
        let mut kernels = vec![Vec::new(); self.layers];
        source.copy_weights(&mut kernels)?;
        self.send(Job::Stepped { step, kernels })
    }

    /// Whether the optimizer should measure its step after logged step
    /// `step` and hand it to [`optimized`](Self::optimized): after a
    /// diagnosed step, unless the worker's replica measures it itself.
    pub fn wants_measures(&self, step: i64) -> bool {
        !self.replicated && self.last_detailed == Some(step)
    }

    /// Logs the optimizer's step after logged step `step`, as the training
    /// thread's optimizer measured it, per layer (`None`: not measured).
    pub fn optimized(
        &mut self,
        step: i64,
        wall_time: f64,
        measures: Vec<Option<StepMeasure>>,
    ) -> Result<()> {
        self.send(Job::Optimized {
            step,
            wall_time,
            measures,
        })
    }

    /// Whether `step`'s record must carry the kernels: always, unless the
    /// worker replicates the optimizer; then at step 0 (where the replica
    /// starts) and every [`CHECK_EVERY`] steps. Copying 33 KB of kernels a
    /// step for the other core was about a third of what `--log-every 1`
    /// cost the training thread.
    fn wants_weights(&self, step: i64) -> bool {
        !self.replicated || step % CHECK_EVERY == 0
    }

    /// A record for `step` to fill, with buffers reused from earlier steps.
    fn record(&mut self, step: i64, wall_time: f64, loss: f32, acc: f32) -> StepRecord {
        let reused = self.kept.pop().or_else(|| self.spare.try_recv().ok());
        let mut record = reused.unwrap_or_else(|| StepRecord {
            step: 0,
            wall_time: 0.0,
            loss: 0.0,
            acc: 0.0,
            grads: vec![Vec::new(); self.layers],
            weights: vec![Vec::new(); self.layers],
            has_weights: false,
            biases: vec![Vec::new(); self.layers],
            batch: None,
            detailed: false,
            clip: None,
        });
        (record.step, record.wall_time, record.loss, record.acc) = (step, wall_time, loss, acc);
        record.has_weights = false;
        record.detailed = false;
        record.clip = None;
        record
    }

    /// Queues a step's record; builds its summaries here if the queue is
    /// full, then with the kernels from `source` if the record lacks them
    /// (the optimizer has not stepped yet, so they are still this step's).
    fn queue_step(&mut self, record: StepRecord, source: &dyn StepSource) -> Result<()> {
        let Some(jobs) = &self.jobs else {
            return self.send(Job::Step(record));
        };
        match jobs.try_send(Job::Step(record)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(Job::Step(mut record))) => {
                if !record.has_weights {
                    source.copy_weights(&mut record.weights)?;
                    record.has_weights = true;
                }
                self.send(Job::Built(Box::new(BuiltStep::of(record))))
            }
            Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) => self.send(job),
        }
    }

    /// Queues a ready-made event.
    pub fn write_event(&mut self, event: Event) -> Result<()> {
        self.send(Job::Event(event))
    }

    /// Waits for every queued event to be written; hands back the writer
    /// (to close) and the per-layer gradient statistics of the logged steps.
    pub fn finish(self) -> Result<(RunWriter, GradStats)> {
        let (writer, grad_stats, _) = self.finish_diagnosed()?;
        Ok((writer, grad_stats))
    }

    /// [`finish`](Self::finish), with the hidden layers' dead or saturated
    /// fractions at the last diagnosed step.
    pub fn finish_diagnosed(mut self) -> Result<(RunWriter, GradStats, Option<UnitFractions>)> {
        self.hang_up();
        let finished = self.join()?;
        Ok((finished.writer, finished.grad_stats, finished.units))
    }

    fn send(&mut self, job: Job) -> Result<()> {
        let sent = self.jobs.as_ref().map(|jobs| jobs.send(job));
        match sent {
            Some(Ok(())) => Ok(()),
            // The worker has stopped: its error says why.
            _ => {
                self.hang_up();
                Err(match self.join() {
                    Err(e) => e,
                    Ok(_) => anyhow!("the summary thread stopped early"),
                })
            }
        }
    }

    /// Closes the queue, and wakes the worker from its nap to see that.
    fn hang_up(&mut self) {
        self.jobs = None;
        if let Some(worker) = &self.worker {
            worker.thread().unpark();
        }
    }

    fn join(&mut self) -> Result<Finished> {
        let worker = self
            .worker
            .take()
            .ok_or_else(|| anyhow!("the summary thread has already stopped"))?;
        worker
            .join()
            .map_err(|_| anyhow!("the summary thread panicked"))?
    }
}

impl Drop for Summarizer {
    fn drop(&mut self) {
        // Let the worker drain and close the file (its EventWriter flushes on drop).
        self.hang_up();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

fn work(
    mut writer: RunWriter,
    setup: Setup,
    inbox: &Receiver<Job>,
    give_back: &Sender<StepRecord>,
    mut lines: Lines,
) -> Result<Finished> {
    let mut grad_stats = GradStats::new(setup.layers);
    let mut means = Vec::with_capacity(setup.layers);
    let mut kernels = Kernels::new(setup.replica);
    let mut diagnoser = setup.diagnosed.map(Diagnoser::new);
    // The optimizer's step and the diagnostics, events written after the
    // job's own.
    let mut optimized = None;
    let mut diagnosed = Vec::new();
    while let Some(job) = next_job(inbox, &mut lines) {
        let (event, line, record) = match job {
            Job::Event(event) => {
                // A run's last events: the diagnostics' last (a step still
                // pending gets no update) are written before them.
                for last in diagnoser.as_mut().map(Diagnoser::end).unwrap_or_default() {
                    writer.write_event(&last)?;
                }
                (Some(event), None, None)
            }
            Job::Step(record) => {
                kernels.take_in(&record, &mut lines)?;
                let (event, non_finite) = step_event(&record, kernels.of(&record)?, &mut means);
                grad_stats.record(&means);
                let line = StepLine::of(&record, non_finite);
                (Some(event), Some(line), Some(record))
            }
            Job::Built(built) => {
                kernels.take_in(&built.record, &mut lines)?;
                grad_stats.record(&built.means);
                means.clone_from(&built.means);
                (Some(built.event), Some(built.line), Some(built.record))
            }
            Job::Stepped { step, kernels } => {
                diagnosed.extend(diagnoser.as_mut().and_then(|d| d.stepped(step, &kernels)));
                (None, None, None)
            }
            Job::Optimized {
                step,
                wall_time,
                measures,
            } => {
                let values = optimizer_values(measures.iter().map(Option::as_ref));
                (Some(summary_event(step, wall_time, values)), None, None)
            }
        };
        if let Some(mut record) = record {
            if let (Some(diagnoser), Some(batch)) = (&mut diagnoser, record.batch.take()) {
                let weights = kernels.of(&record)?;
                diagnosed.extend(diagnoser.observe(
                    record.step,
                    record.wall_time,
                    &batch,
                    weights,
                    &record.biases,
                    &means,
                )?);
            }
            if let Some(measures) = kernels.step(&record)? {
                let values = optimizer_values(measures.iter().map(Some));
                optimized = Some(summary_event(record.step, record.wall_time, values));
            }
            if let (Some(diagnoser), Some(after)) = (&mut diagnoser, kernels.replicated()) {
                diagnosed.extend(diagnoser.stepped(record.step, after));
            }
            // The training thread may have finished; then nobody reuses it.
            let _ = give_back.send(record);
        }
        if let Some(event) = event {
            writer.write_event(&event)?;
        }
        if let Some(event) = optimized.take() {
            writer.write_event(&event)?;
        }
        for event in diagnosed.drain(..) {
            writer.write_event(&event)?;
        }
        if let Some(line) = line {
            line.print(&mut lines, setup.iterations);
        }
    }
    for event in diagnoser.as_mut().map(Diagnoser::end).unwrap_or_default() {
        writer.write_event(&event)?;
    }
    let units = diagnoser.as_ref().and_then(Diagnoser::units);
    Ok(Finished {
        writer,
        grad_stats,
        units,
    })
}

/// The kernels the worker logs: those a record carries, else those of its
/// [`Replica`] of the optimizer, which starts from step 0's and steps with
/// every record's gradients.
struct Kernels {
    config: Option<AdamConfig>,
    replica: Option<Replica>,
    warned: bool,
}

impl Kernels {
    fn new(config: Option<AdamConfig>) -> Kernels {
        Kernels {
            config,
            replica: None,
            warned: false,
        }
    }

    /// Takes in the kernels `record` carries, if any: step 0's start the
    /// replica; later ones are checked against it, and replace its weights
    /// should they differ.
    fn take_in(&mut self, record: &StepRecord, lines: &mut Lines) -> Result<()> {
        if !record.has_weights {
            return Ok(());
        }
        match (&mut self.replica, self.config) {
            (None, Some(config)) if record.step == 0 => {
                self.replica = Some(Replica::new(config, record.weights.clone()));
            }
            (Some(replica), _) if !same_bits(replica.weights(), &record.weights) => {
                if !self.warned {
                    self.warned = true;
                    lines.print(format_args!(
                        "  warning: step {}: the logged weights had drifted from the \
                         optimizer's since the last check; corrected (a gradscope bug, \
                         please report it)",
                        record.step
                    ));
                }
                replica.set_weights(&record.weights)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// The kernels of `record`'s step.
    fn of<'a>(&'a self, record: &'a StepRecord) -> Result<&'a [Vec<f32>]> {
        if record.has_weights {
            return Ok(&record.weights);
        }
        match &self.replica {
            Some(replica) => Ok(replica.weights()),
            None => bail!(
                "step {}: the record has no weights and nothing replicates them",
                record.step
            ),
        }
    }

    /// The replica's kernels, if there is one.
    fn replicated(&self) -> Option<&[Vec<f32>]> {
        self.replica.as_ref().map(Replica::weights)
    }

    /// Steps the replica with `record`'s gradients, as the optimizer does
    /// after the step is logged; returns each kernel's step measured, if
    /// there is a replica and the step is a diagnosed one.
    fn step(&mut self, record: &StepRecord) -> Result<Option<Vec<StepMeasure>>> {
        match &mut self.replica {
            Some(replica) if record.detailed => Ok(Some(replica.step_measured(&record.grads)?)),
            Some(replica) => {
                replica.step(&record.grads)?;
                Ok(None)
            }
            None => Ok(None),
        }
    }
}

/// Whether two sets of values are the same bit for bit (NaN included).
fn same_bits(a: &[Vec<f32>], b: &[Vec<f32>]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(a, b)| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
        })
}

/// The worker's first nap when the queue is empty; each further empty look
/// doubles it, up to [`LONGEST_NAP`].
const FIRST_NAP: Duration = Duration::from_micros(25);
const LONGEST_NAP: Duration = Duration::from_millis(20);

/// The next job, or `None` once the training thread has hung up.
///
/// The worker naps between looks instead of blocking on the queue: waking
/// a blocked receiver is a system call for the thread that sends, and at
/// `--log-every 1` the training thread would make one every step (about a
/// sixth of its time); spinning instead kept the second core busy when the
/// kernel needed it to write the file back. Naps start shorter than a step
/// and grow while nothing comes, so an idle worker wakes 50 times a second;
/// hanging up wakes it at once. Waking, it writes out the run's printed
/// lines that are due, so none waits long after training goes quiet.
fn next_job(inbox: &Receiver<Job>, lines: &mut Lines) -> Option<Job> {
    let mut nap = FIRST_NAP;
    loop {
        match inbox.try_recv() {
            Ok(job) => return Some(job),
            Err(TryRecvError::Disconnected) => return None,
            Err(TryRecvError::Empty) => {
                std::thread::park_timeout(nap);
                nap = (nap * 2).min(LONGEST_NAP);
                lines.write_if_due();
            }
        }
    }
}

/// The summaries of one step: [`tags::LOSS`], [`tags::ACC`], and per layer
/// its mean |grad| (and its log10), its norm before clipping, the
/// histograms of its kernel's gradient and kernel, and at a diagnosed step
/// the histogram of the gradient's log10 magnitudes with its count of exact
/// zeros; with clipping, the global norm before it and the fraction
/// clipped.
/// Fills `means` with each layer's mean |grad|; returns the event and how
/// many non-finite values the histograms left out.
fn step_event(record: &StepRecord, weights: &[Vec<f32>], means: &mut Vec<f64>) -> (Event, usize) {
    let mut values = vec![
        scalar(tags::LOSS, record.loss),
        scalar(tags::ACC, record.acc),
    ];
    if let Some(clip) = record.clip.as_deref() {
        values.push(scalar(tags::GLOBAL_GRAD_NORM, clip.total_norm));
        values.push(scalar(tags::CLIPPED_FRACTION, clip.fraction));
    }
    // The gradients were multiplied by this: their norms before, after.
    let scale = record.clip.as_ref().map_or(1.0, |c| f64::from(c.scale));
    let mut non_finite = 0;
    means.clear();
    for (l, (grad, weights)) in record.grads.iter().zip(weights).enumerate() {
        let mean = mean_abs(grad);
        means.push(mean);
        values.push(scalar(&tags::MEAN_GRAD.tag(l + 1), mean as f32));
        values.push(scalar(
            &tags::LOG10_MEAN_GRAD.tag(l + 1),
            mean.log10() as f32,
        ));
        let (grad_hist, skipped) = histogram(&tags::grad_histogram(l + 1), grad);
        if let Some(Histo(h)) = &grad_hist.value {
            // The histogram's sum of squares is over the finite values.
            let norm = h.sum_squares.sqrt() / scale;
            values.push(scalar(&tags::GRAD_NORM.tag(l + 1), norm as f32));
        }
        let (weight_hist, skipped_w) = histogram(&tags::weight_histogram(l + 1), weights);
        values.extend([grad_hist, weight_hist]);
        non_finite += skipped + skipped_w;
        if record.detailed {
            // A pass over the gradient as long as the linear histogram's:
            // at `--log-every 1`, on every step, it made the summary thread
            // the bottleneck (see `detailed`).
            // gradscope_candle's definition, as the monitor writes it.
            let log_hist = log10_abs_histogram(grad);
            values.extend(log_hist.to_value(&tags::LOG10_ABS_GRAD.tag(l + 1)).ok());
            values.push(scalar(&tags::ZERO_GRAD.tag(l + 1), log_hist.zeros as f32));
        }
    }
    (
        summary_event(record.step, record.wall_time, values),
        non_finite,
    )
}

/// The optimizer's values of a logged step: per layer (kernel), the norms
/// of Adam's moments and the cosine of its step with the negative gradient
/// (none for a layer not measured, or a cosine not defined).
fn optimizer_values<'a>(
    measures: impl Iterator<Item = Option<&'a StepMeasure>>,
) -> Vec<summary::Value> {
    let mut values = Vec::new();
    for (l, measure) in measures.enumerate() {
        let Some(measure) = measure else { continue };
        values.push(scalar(
            &tags::ADAM_M_NORM.tag(l + 1),
            measure.m_norm() as f32,
        ));
        values.push(scalar(
            &tags::ADAM_V_NORM.tag(l + 1),
            measure.v_norm() as f32,
        ));
        if let Some(cosine) = measure.cosine() {
            values.push(scalar(&tags::UPDATE_COSINE.tag(l + 1), cosine as f32));
        }
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::lines::testing::{gathered_into, Sink};
    use gradscope_tensorboard::logdir::Logdir;
    use gradscope_tensorboard::proto::{event, summary::value::Value};
    use gradscope_tensorboard::read_events;

    fn sizes(layers: usize, values_per_step: usize) -> Setup {
        Setup {
            layers,
            values_per_step,
            iterations: 100,
            replica: None,
            diagnosed: None,
        }
    }

    /// A summarizer writing the run `.` into a fresh folder (kept alive by
    /// the returned guard), its lines into `sink`; and the event file's path.
    fn started(setup: Setup, sink: &Sink) -> (tempfile::TempDir, std::path::PathBuf, Summarizer) {
        let dir = tempfile::tempdir().unwrap();
        let writer = RunWriter::create(dir.path(), ".").unwrap();
        let path = writer.path().to_path_buf();
        let s = Summarizer::start(writer, setup, gathered_into(sink)).unwrap();
        (dir, path, s)
    }

    /// The training thread's side of these tests: records come filled in,
    /// kernels always sent.
    struct Filled;

    impl StepSource for Filled {
        fn copy_grads(&self, _: &mut [Vec<f32>]) -> Result<()> {
            panic!("the record already holds its gradients")
        }
        fn copy_weights(&self, _: &mut [Vec<f32>]) -> Result<()> {
            panic!("the record already holds its weights")
        }
        fn copy_biases(&self, _: &mut [Vec<f32>]) -> Result<()> {
            panic!("these tests log no diagnostics")
        }
        fn batch(&self) -> Result<Tensor> {
            panic!("these tests log no diagnostics")
        }
    }

    #[test]
    fn steps_and_events_are_written_in_order_and_buffers_come_back() {
        let (_dir, path, mut s) = started(sizes(2, 4), &Sink::default());
        for step in 0..3 {
            let mut r = s.record(step, 1.0, 0.5, 0.25);
            r.grads[0] = vec![1.0, -3.0];
            r.grads[1] = vec![0.5];
            r.weights[0] = vec![0.1, 0.2];
            r.weights[1] = vec![f32::NAN];
            r.has_weights = true;
            r.detailed = step == 0;
            s.queue_step(r, &Filled).unwrap();
        }
        s.write_event(summary_event(3, 1.0, vec![scalar("test_acc", 0.9)]))
            .unwrap();
        let (writer, stats) = s.finish().unwrap();
        writer.close().unwrap();
        assert_eq!(stats.averages(), vec![2.0, 0.5]);

        let events = read_events(&path).unwrap().events;
        let steps: Vec<i64> = events[1..].iter().map(|e| e.step).collect();
        assert_eq!(steps, [0, 1, 2, 3]);
        let Some(event::What::Summary(s)) = &events[1].what else {
            panic!("not a summary")
        };
        let tags: Vec<&str> = s.value.iter().map(|v| v.tag.as_str()).collect();
        assert_eq!(
            tags,
            [
                "loss",
                "acc",
                "mean_1",
                "log10_mean_1",
                "grad_norm_1",
                "histogram_1",
                "hist_weights_1",
                "log10_abs_grad_1",
                "zero_grad_1",
                "mean_2",
                "log10_mean_2",
                "grad_norm_2",
                "histogram_2",
                "hist_weights_2",
                "log10_abs_grad_2",
                "zero_grad_2"
            ]
        );
        assert_eq!(s.value[2].value, Some(Value::SimpleValue(2.0)));
        // The log10 |grad| histograms at a diagnosed step only.
        let Some(event::What::Summary(s)) = &events[2].what else {
            panic!("not a summary")
        };
        assert_eq!(s.value.len(), 2 + 2 * 5);
        assert!(s
            .value
            .iter()
            .all(|v| !v.tag.starts_with("log10_abs_grad_")));
    }

    /// Steps built by the training thread (`Job::Built`, what `log_step`
    /// sends when the queue is full) and by the worker land in order, both
    /// count in the gradient statistics, and each is printed (with its
    /// warning) in order; once the summarizer is done, every line is out.
    #[test]
    fn steps_built_on_either_thread_are_written_and_printed_in_order() {
        let sink = Sink::default();
        let (_dir, path, mut s) = started(sizes(1, 4), &sink);
        for step in 0..6 {
            let mut r = s.record(step, 1.0, 0.5, 0.25);
            r.grads[0] = vec![step as f32, -(step as f32)];
            r.weights[0] = vec![0.1, if step == 3 { f32::NAN } else { 0.2 }];
            r.has_weights = true;
            if step % 2 == 0 {
                s.send(Job::Built(Box::new(BuiltStep::of(r)))).unwrap();
            } else {
                s.queue_step(r, &Filled).unwrap();
            }
        }
        let (writer, stats) = s.finish().unwrap();
        writer.close().unwrap();
        // mean |grad| of step k is k; averaged over steps 0..6: 2.5.
        assert_eq!(stats.averages(), vec![2.5]);
        let events = read_events(&path).unwrap().events;
        let steps: Vec<i64> = events[1..].iter().map(|e| e.step).collect();
        assert_eq!(steps, [0, 1, 2, 3, 4, 5]);
        let expected: String = (0..6)
            .map(|step| {
                let warning = if step == 3 {
                    "  warning: step 3: 1 NaN/infinite values left out of the histograms\n"
                } else {
                    ""
                };
                format!("Iteration {step} of 100, loss: 0.500, train accuracy: 25.00%\n{warning}")
            })
            .collect();
        assert_eq!(sink.text(), expected);
    }

    /// Many large steps at once: the queue fills, so some are built by the
    /// training thread; all of them are written, in order.
    #[test]
    fn a_full_queue_loses_and_reorders_nothing() {
        let (dir, path, mut s) = started(sizes(2, 4 * 7_840), &Sink::default());
        let steps = 4 * queue_depth(4 * 7_840) as i64;
        for step in 0..steps {
            let mut r = s.record(step, 1.0, 0.5, 0.25);
            for l in 0..2 {
                r.grads[l] = (0..7_840)
                    .map(|i| (i + step as usize) as f32 * 1e-3)
                    .collect();
                r.weights[l] = (0..7_840).map(|i| i as f32 * -1e-4).collect();
            }
            r.has_weights = true;
            s.queue_step(r, &Filled).unwrap();
        }
        let (writer, stats) = s.finish().unwrap();
        let run = writer.close().unwrap().expect("recorded");
        assert_eq!(stats.averages().len(), 2);
        let events = read_events(&path).unwrap().events;
        let written: Vec<i64> = events[1..].iter().map(|e| e.step).collect();
        assert_eq!(written, (0..steps).collect::<Vec<_>>());
        // Both paths recorded every step for the report.
        assert_eq!(Logdir::load(dir.path()).unwrap().runs, vec![run]);
    }

    /// With a replica, records without kernels are logged with the
    /// optimizer's weights all the same, whichever thread builds the step;
    /// kernels sent later that differ replace the replica's, with a warning.
    #[test]
    fn a_replica_logs_the_optimizers_weights_between_sent_ones() {
        let sink = Sink::default();
        let config = AdamConfig::with_lr(0.1);
        let setup = Setup {
            replica: Some(config),
            ..sizes(1, 6)
        };
        let (_dir, path, mut s) = started(setup, &sink);
        // What the optimizer's weights are at each step.
        let mut optimizer = Replica::new(config, vec![vec![0.5, -0.25, 3.0]]);
        let mut logged = Vec::new();
        let mut moments = Vec::new();
        for step in 0..7 {
            let mut r = s.record(step, 1.0, 0.5, 0.25);
            r.grads[0] = vec![step as f32 * 0.1, -1.0, 0.25];
            // Diagnosed steps get the replica's measure of the step.
            r.detailed = step % 2 == 0;
            if step == 5 {
                // Kernels that differ from the replica's: taken, and said.
                optimizer.set_weights(&[vec![1.0, 2.0, 3.0]]).unwrap();
            }
            if s.wants_weights(step) || step == 5 {
                r.weights[0] = optimizer.weights()[0].clone();
                r.has_weights = true;
            }
            logged.push(optimizer.weights()[0].clone());
            let grads = r.grads.clone();
            let measure = optimizer.clone().step_measured(&grads).unwrap()[0];
            moments.push(measure.m_norm() as f32);
            if step == 3 {
                // Built by the training thread (a full queue): it copies the
                // kernels in first, as `log_step` does then.
                r.weights[0] = optimizer.weights()[0].clone();
                r.has_weights = true;
                s.send(Job::Built(Box::new(BuiltStep::of(r)))).unwrap();
            } else {
                s.queue_step(r, &Filled).unwrap();
            }
            optimizer.step(&grads).unwrap();
        }
        assert!(s.wants_weights(0) && s.wants_weights(CHECK_EVERY));
        assert!(!s.wants_weights(1));
        let (writer, _) = s.finish().unwrap();
        writer.close().unwrap();

        // Each step's event, and after a diagnosed step's the replica's
        // measure of the optimizer's step: the moments of the optimizer's own.
        let events = read_events(&path).unwrap().events;
        let mut steps = Vec::new();
        for event in &events[1..] {
            let Some(event::What::Summary(summary)) = &event.what else {
                panic!("not a summary")
            };
            let step = event.step as usize;
            match summary.value.iter().find(|v| v.tag == "hist_weights_1") {
                Some(got) => {
                    let want = histogram("hist_weights_1", &logged[step]).0;
                    assert_eq!(got, &want, "step {step}");
                    steps.push((step, "step"));
                }
                None => {
                    let m_norm = summary.value.iter().find(|v| v.tag == "adam_m_norm_1");
                    let want = scalar("adam_m_norm_1", moments[step]);
                    assert_eq!(m_norm, Some(&want), "step {step}");
                    steps.push((step, "optimizer"));
                }
            }
        }
        let want: Vec<(usize, &str)> = (0..7)
            .flat_map(|step| {
                let measured = (step % 2 == 0).then_some((step, "optimizer"));
                std::iter::once((step, "step")).chain(measured)
            })
            .collect();
        assert_eq!(steps, want);
        let warnings: Vec<String> = sink
            .text()
            .lines()
            .filter(|l| l.contains("drifted"))
            .map(String::from)
            .collect();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("step 5"), "{warnings:?}");
    }

    #[test]
    fn a_write_error_reaches_the_training_thread() {
        let (_dir, _, mut s) = started(sizes(1, 4), &Sink::default());
        // Kill the worker the way a failed write would: drop its inbox by
        // finishing, then try to send.
        s.jobs = None;
        let err = s.write_event(summary_event(0, 0.0, vec![])).unwrap_err();
        assert!(err.to_string().contains("stopped"), "{err}");
    }
}
