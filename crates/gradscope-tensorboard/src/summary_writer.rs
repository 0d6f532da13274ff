//! [`SummaryWriter`]: tensorboardX's API over one event file.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::background::{Background, Job};
use crate::batch::Batch;
use crate::custom_scalars::{layout, Category, Layout};
use crate::error::{check_tag, SummaryError};
use crate::graph::{graph_event, Graph};
use crate::hparams::{session_records, HParams};
use crate::image::Image;
use crate::input::{HistogramValues, NamedScalar, ScalarValue, Step};
use crate::logdir::Run;
use crate::pr_curve::{PrCounts, DEFAULT_NUM_THRESHOLDS};
use crate::proto::{self, summary};
use crate::run_file::{Record, RunFile};
use crate::summary::{summary_event, wall_time_now, RawHistogram};
use crate::writer::{EventWriter, FileOptions};

/// Events a [`SummaryWriter`] buffers before handing them to the OS without
/// waiting for its timer, unless [`SummaryWriterBuilder::max_queue`] says
/// otherwise.
pub const DEFAULT_MAX_QUEUE: usize = 1024;

/// The largest queue [`SummaryWriterBuilder::background`] takes: its slots
/// are allocated up front (about 120 bytes each), and a queue that
/// long already holds more than a step's worth of calls.
const MAX_BACKGROUND_CAPACITY: usize = 1 << 16;

/// Builds a [`SummaryWriter`] with a flush interval, a file-name suffix, a
/// queue size or a [background thread](SummaryWriterBuilder::background)
/// other than the defaults.
///
/// ```
/// use std::time::Duration;
/// use gradscope_tensorboard::SummaryWriter;
///
/// let dir = tempfile::tempdir()?;
/// let writer = SummaryWriter::builder(dir.path())
///     .flush_interval(Duration::from_millis(250))
///     .filename_suffix(".eval")
///     .max_queue(100)
///     .build()?;
/// assert!(writer.file_path().to_str().unwrap().ends_with(".eval"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct SummaryWriterBuilder {
    logdir: PathBuf,
    options: FileOptions,
    /// The worker's queue capacity; `None`: the calls' own thread works.
    background: Option<usize>,
    /// The run to record, and its most values.
    record: Option<(String, usize)>,
    /// The step a `SessionLog` START right after the file version carries
    /// (`Err`: the step given, beyond the file's range).
    purge_step: Option<Result<i64, String>>,
}

impl SummaryWriterBuilder {
    /// The longest a written value waits in memory before the background
    /// thread hands it to the OS (1 s by default, at least 1 ms): what a
    /// crash can lose.
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.options.flush_interval = interval;
        self
    }

    /// Appended to the event file's name (empty by default).
    pub fn filename_suffix(mut self, suffix: &str) -> Self {
        self.options.filename_suffix = suffix.to_string();
        self
    }

    /// Events buffered before they are handed to the OS without waiting
    /// for the timer ([`DEFAULT_MAX_QUEUE`] by default; 1 for every event).
    pub fn max_queue(mut self, events: usize) -> Self {
        self.options.max_queue = events;
        self
    }

    /// Does the work of the `add_*` calls on one background thread, behind
    /// a queue of at most `capacity` calls (not done by default).
    ///
    /// A call checks its arguments (bad input is still its own `Err`),
    /// takes its data and returns: `add_histogram` moves a `Vec<f32>` or
    /// `Vec<f64>` given by value and copies a slice (an `f32` slice into a
    /// buffer the thread hands back once bucketed, so a loop that logs the
    /// same layer every step stops allocating); `add_image`,
    /// `add_images` and `add_figure` copy the pixels. The bucketing, the PNG
    /// and protobuf encoding and the write happen on the thread, in the
    /// order the calls were made, wall times as of the call.
    ///
    /// When `capacity` calls wait, the next one **blocks** until the thread
    /// takes one: nothing is dropped or reordered (0: every call waits for
    /// the thread to take it; more than 65,536 is an error of `build`).
    ///
    /// A failure on the thread (a full disk) is returned by the next call
    /// that writes an event, or by [`flush`](SummaryWriter::flush), which
    /// waits for every queued call, or by [`close`](SummaryWriter::close);
    /// `close` and dropping the last handle write everything queued first.
    ///
    /// ```
    /// use gradscope_tensorboard::SummaryWriter;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let writer = SummaryWriter::builder(dir.path()).background(64).build()?;
    /// for step in 0..10 {
    ///     let weights: Vec<f32> = vec![0.1 * step as f32; 1000];
    ///     writer.add_histogram("weights", weights, step)?; // moved, bucketed later
    ///     writer.add_scalar("loss", 1.0 / (step as f64 + 1.0), step)?;
    /// }
    /// writer.flush()?; // every call written
    /// let read = gradscope_tensorboard::read_events(writer.file_path())?;
    /// assert_eq!(read.events.len(), 21); // the file version, then 20
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn background(mut self, capacity: usize) -> Self {
        self.background = Some(capacity);
        self
    }

    /// Keeps, beside the file, the [`Run`] called `name` (its folder
    /// relative to the logdir) that loading the file back would give, as
    /// long as it holds at most `max_values` values (scalars, histogram
    /// and text points; past that it is dropped, the file being whole).
    /// [`SummaryWriter::take_run`] hands it over once the writer is closed:
    /// a program can then report on what it wrote without reading it back.
    ///
    /// ```
    /// use gradscope_tensorboard::logdir::Logdir;
    /// use gradscope_tensorboard::SummaryWriter;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let writer = SummaryWriter::builder(dir.path().join("relu"))
    ///     .record_run("relu", 1 << 20)
    ///     .build()?;
    /// writer.add_scalar("loss", 0.5, 1)?;
    /// writer.close()?;
    /// let run = writer.take_run().expect("recorded");
    /// assert_eq!(run.scalars("loss"), [(1, 0.5)]);
    /// assert_eq!(Logdir::load(dir.path())?.runs, [run]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn record_run(mut self, name: &str, max_values: usize) -> Self {
        self.record = Some((name.to_string(), max_values));
        self
    }

    /// Starts the file with a `SessionLog` START at `step`, right after its
    /// file version (twice: TensorBoard's Python loader purges on a run's
    /// second START, not its first): TensorBoard then drops the points of
    /// this run folder's earlier files at steps `>= step`. What a program resuming from a
    /// checkpoint taken at `step` writes, so each step shows once: the
    /// points the killed run logged past its checkpoint are replaced, not
    /// doubled, and no line jumps back. This crate's
    /// [`logdir`](crate::logdir) reader drops them the same way.
    ///
    /// ```
    /// use gradscope_tensorboard::logdir::Logdir;
    /// use gradscope_tensorboard::SummaryWriter;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let first = SummaryWriter::new(dir.path())?;
    /// for step in 0..10 {
    ///     first.add_scalar("loss", 1.0, step)?; // killed after step 9...
    /// }
    /// first.close()?;
    /// // ... resumed from its checkpoint at step 5, in a new file.
    /// let resumed = SummaryWriter::builder(dir.path()).purge_step(5).build()?;
    /// for step in 5..12 {
    ///     resumed.add_scalar("loss", 0.5, step)?;
    /// }
    /// resumed.close()?;
    /// let run = &Logdir::load(dir.path())?.runs[0];
    /// let steps: Vec<i64> = run.scalars("loss").iter().map(|p| p.0).collect();
    /// assert_eq!(steps, (0..12).collect::<Vec<_>>()); // each step once
    /// assert_eq!(run.scalars("loss")[5], (5, 0.5)); // the resumed run's
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn purge_step(mut self, step: impl Step) -> Self {
        self.purge_step = Some(step.to_i64().ok_or_else(|| step.to_string()));
        self
    }

    /// Creates the log directory if needed and a new event file in it.
    pub fn build(self) -> Result<SummaryWriter, SummaryError> {
        let suffix = &self.options.filename_suffix;
        if suffix.contains(['/', '\\', '\0']) {
            return Err(SummaryError::invalid(
                "",
                "filename_suffix",
                format!("no path separators or NUL, got {suffix:?}"),
            ));
        }
        if let Some(capacity) = self.background.filter(|&c| c > MAX_BACKGROUND_CAPACITY) {
            return Err(SummaryError::invalid(
                "",
                "capacity",
                format!(
                    "a background queue of at most {MAX_BACKGROUND_CAPACITY} calls, got {capacity}"
                ),
            ));
        }
        let purge_step = match self.purge_step {
            Some(Err(step)) => {
                return Err(SummaryError::invalid(
                    "",
                    "purge_step",
                    format!("a step within i64's range, got {step}"),
                ))
            }
            Some(Ok(step)) => Some(step),
            None => None,
        };
        let writer = EventWriter::create_with(&self.logdir, &self.options)?;
        let record = (self.record.as_ref()).map(|(name, max)| Record::new(name, *max));
        let file = RunFile::new(writer, record);
        let writer = SummaryWriter::with_writer(self.logdir, file, self.background)?;
        if let Some(step) = purge_step {
            // Twice: TensorBoard's Python loader takes a run's first START
            // for its session's beginning and purges on later ones only,
            // and the earlier files may or may not hold one.
            writer.add_event(&session_start(step))?;
            writer.add_event(&session_start(step))?;
        }
        Ok(writer)
    }
}

/// The `SessionLog` START event at `step` (its wall time now).
fn session_start(step: i64) -> proto::Event {
    proto::Event {
        step,
        wall_time: wall_time_now(),
        what: Some(proto::event::What::SessionLog(proto::SessionLog {
            status: proto::session_log::SessionStatus::Start as i32,
            ..Default::default()
        })),
    }
}

/// Writes every kind of TensorBoard summary into one run folder, with
/// tensorboardX's method names.
///
/// Each `add_*` takes a tag, the data and a step, and returns a `Result`:
/// bad input is a [`SummaryError`] naming the tag and the argument, never a
/// panic. A step is any primitive integer ([`Step`]), a value any primitive
/// number ([`ScalarValue`]): loop indices and `len()`s go in without casts. The writer is a cheap [`Clone`]-able handle (`Send + Sync`):
/// threads may share it, and their values go to the same file. Values reach
/// the OS within the flush interval (1 s by default) without a call to
/// [`flush`](SummaryWriter::flush); dropping the last handle flushes and
/// closes the file. Built with
/// [`background`](SummaryWriterBuilder::background), the writer does the
/// work of each call on a thread of its own, in call order.
///
/// ```
/// use gradscope_tensorboard::SummaryWriter;
///
/// let dir = tempfile::tempdir()?;
/// let writer = SummaryWriter::new(dir.path().join("run-1"))?;
/// let batches = vec![0.9, 0.6, 0.4];
/// for (step, loss) in batches.iter().enumerate() {
///     writer.add_scalar("loss", *loss, step)?;
///     writer.add_scalar("seen", step + 1, step)?;
/// }
/// writer.add_text("notes", "**done**", 10)?;
/// writer.close()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct SummaryWriter {
    inner: Arc<Inner>,
}

struct Inner {
    logdir: PathBuf,
    file: PathBuf,
    /// Whether the calls hand their work to a [`Background`] worker.
    background: bool,
    state: Mutex<State>,
    /// The run recorded, once closed.
    recorded: Mutex<Option<Run>>,
}

struct State {
    /// `None` once closed.
    sink: Option<Sink>,
    /// The largest step written or queued, where `add_hparams` puts its
    /// metrics.
    last_step: i64,
    /// The categories given to `add_custom_scalars`.
    layout: Vec<Category>,
    /// `add_scalars`' main tags and their series, in order of first use.
    grouped: Vec<(String, Vec<String>)>,
}

/// Where a writer's events go.
enum Sink {
    /// Written by the calls' own thread.
    File(RunFile),
    /// Queued for the worker thread, which owns the file.
    Worker(Background),
}

impl State {
    fn sink(&mut self) -> Result<&mut Sink, SummaryError> {
        self.sink.as_mut().ok_or(SummaryError::Closed)
    }

    /// Does `job` of an event at `step` now, or queues it for the worker.
    fn put(&mut self, step: i64, job: Job) -> Result<(), SummaryError> {
        match self.sink()? {
            Sink::File(writer) => job.run(writer)?,
            Sink::Worker(worker) => worker.send(job)?,
        }
        self.last_step = self.last_step.max(step);
        Ok(())
    }

    fn write(&mut self, step: i64, values: Vec<summary::Value>) -> Result<(), SummaryError> {
        let event = summary_event(step, wall_time_now(), values);
        self.put(step, Job::Event(event))
    }

    /// The custom scalars layout: the caller's categories, then one per
    /// `add_scalars` main tag. Written at step 0 each time it grows; the
    /// dashboard reads the last one.
    fn write_layout(&mut self) -> Result<(), SummaryError> {
        let mut full = Layout {
            categories: self.layout.clone(),
        };
        for (main, names) in &self.grouped {
            let alternatives: Vec<String> = names.iter().map(|n| layout::escape(n)).collect();
            let pattern = format!("^{}/({})$", layout::escape(main), alternatives.join("|"));
            full = full.category(Category::new(main).multiline(main, [pattern]));
        }
        self.write(0, vec![full.to_value()])
    }
}

/// `step` as an event file stores it, or an error naming `tag` and the
/// argument `step` if it is beyond `i64`'s range.
fn step_of(tag: &str, step: impl Step) -> Result<i64, SummaryError> {
    step.to_i64().ok_or_else(|| {
        SummaryError::invalid(
            tag,
            "step",
            format!("a step from {} to {}, got {step}", i64::MIN, i64::MAX),
        )
    })
}

impl std::fmt::Debug for SummaryWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SummaryWriter")
            .field("logdir", &self.inner.logdir)
            .field("file", &self.inner.file)
            .field("background", &self.inner.background)
            .finish_non_exhaustive()
    }
}

impl SummaryWriter {
    /// A writer of a new event file in `logdir` (created if needed), with
    /// the default flush interval (1 s), no file-name suffix and a queue of
    /// [`DEFAULT_MAX_QUEUE`] events.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let writer = gradscope_tensorboard::SummaryWriter::new(dir.path().join("runs/a"))?;
    /// assert!(writer.logdir().ends_with("runs/a"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(logdir: impl AsRef<Path>) -> Result<SummaryWriter, SummaryError> {
        SummaryWriter::builder(logdir).build()
    }

    /// A [`SummaryWriterBuilder`] for `logdir`.
    pub fn builder(logdir: impl AsRef<Path>) -> SummaryWriterBuilder {
        SummaryWriterBuilder {
            logdir: logdir.as_ref().to_path_buf(),
            options: FileOptions {
                max_queue: DEFAULT_MAX_QUEUE,
                ..FileOptions::default()
            },
            background: None,
            record: None,
            purge_step: None,
        }
    }

    /// A writer of `writer`'s file for the run folder `logdir`, with a
    /// worker behind a queue of `background` jobs if that is `Some`.
    fn with_writer(
        logdir: PathBuf,
        writer: RunFile,
        background: Option<usize>,
    ) -> Result<SummaryWriter, SummaryError> {
        let file = writer.path().to_path_buf();
        let sink = match background {
            Some(capacity) => Sink::Worker(Background::start(writer, capacity)?),
            None => Sink::File(writer),
        };
        Ok(SummaryWriter {
            inner: Arc::new(Inner {
                logdir,
                file,
                background: background.is_some(),
                state: Mutex::new(State {
                    sink: Some(sink),
                    last_step: 0,
                    layout: Vec::new(),
                    grouped: Vec::new(),
                }),
                recorded: Mutex::new(None),
            }),
        })
    }

    /// The run folder.
    pub fn logdir(&self) -> &Path {
        &self.inner.logdir
    }

    /// The event file.
    pub fn file_path(&self) -> &Path {
        &self.inner.file
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic in another thread while writing cannot leave the state
        // worse than losing its value: keep going.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self, step: i64, value: summary::Value) -> Result<(), SummaryError> {
        self.state().write(step, vec![value])
    }

    /// Adds a point to the scalar chart `tag`: any primitive number
    /// ([`ScalarValue`]), stored as float32 as TensorBoard stores scalars.
    /// NaN and infinities are written as they are; TensorBoard shows them.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = gradscope_tensorboard::SummaryWriter::new(dir.path())?;
    /// writer.add_scalar("loss", 0.25, 100)?;
    /// writer.add_scalar("lr", 1e-3f32, 100)?;
    /// writer.add_scalar("epoch", 3, 100)?;
    /// let queue = vec![1, 2, 3];
    /// let step: usize = 100;
    /// writer.add_scalar("queue", queue.len(), step)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_scalar(
        &self,
        tag: &str,
        value: impl ScalarValue,
        step: impl Step,
    ) -> Result<(), SummaryError> {
        check_tag(tag)?;
        let step = step_of(tag, step)?;
        self.write(step, crate::summary::scalar(tag, value.to_f32()))
    }

    /// Adds one point per `(name, value)` to one chart: each goes to the
    /// scalar tag `main_tag/name` of this run (no folder per series, as
    /// tensorboardX makes), and the Custom Scalars dashboard gets a chart
    /// `main_tag` drawing them together. `values` is any collection or
    /// iterator of `(name, number)` pairs ([`NamedScalar`]).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = gradscope_tensorboard::SummaryWriter::new(dir.path())?;
    /// for step in 0..3 {
    ///     let t = step as f64;
    ///     writer.add_scalars("loss", &[("train", 1.0 / (t + 1.0)), ("test", 1.2 / (t + 1.0))], step)?;
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_scalars<I>(
        &self,
        main_tag: &str,
        values: I,
        step: impl Step,
    ) -> Result<(), SummaryError>
    where
        I: IntoIterator,
        I::Item: NamedScalar,
    {
        check_tag(main_tag)?;
        let step = step_of(main_tag, step)?;
        let values: Vec<I::Item> = values.into_iter().collect();
        let mut points = Vec::with_capacity(values.len());
        for (i, pair) in values.iter().enumerate() {
            let (name, value) = (pair.name(), pair.value());
            let tag = format!("{main_tag}/{name}");
            if name.is_empty() || values[..i].iter().any(|p| p.name() == name) {
                return Err(SummaryError::invalid(
                    main_tag,
                    "values",
                    format!("non-empty, distinct series names, got {name:?} at {i}"),
                ));
            }
            check_tag(&tag)?;
            points.push(crate::summary::scalar(&tag, value));
        }
        let mut state = self.state();
        let grown = match state.grouped.iter_mut().find(|(m, _)| m == main_tag) {
            Some((_, names)) => {
                let before = names.len();
                for pair in &values {
                    if !names.iter().any(|n| n == pair.name()) {
                        names.push(pair.name().to_string());
                    }
                }
                names.len() > before
            }
            None => {
                let names = values.iter().map(|p| p.name().to_string()).collect();
                state.grouped.push((main_tag.to_string(), names));
                true
            }
        };
        if grown {
            state.sink()?;
            state.write_layout()?;
        }
        state.write(step, points)
    }

    /// Adds a histogram of `values` with TensorFlow's default buckets, shown
    /// by the Histograms and Distributions dashboards: a slice, `Vec` or
    /// array of any primitive number, a range, or an iterator over numbers
    /// ([`HistogramValues`]); an `f32` slice is bucketed in place, others
    /// are converted to `f32` first. NaN and infinite values are left out;
    /// the count of those left out is returned. With a
    /// [background](SummaryWriterBuilder::background) thread, a `Vec<f32>`
    /// or `Vec<f64>` given by value moves to it, a slice is copied, other
    /// values are converted first; the count is taken before they go.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = gradscope_tensorboard::SummaryWriter::new(dir.path())?;
    /// let weights = [0.1f32, -0.3, 0.7, f32::NAN];
    /// assert_eq!(writer.add_histogram("weights", &weights, 0)?, 1);
    /// assert_eq!(writer.add_histogram("grads", &[1e-3f64, 2e-3], 0)?, 0);
    /// let tokens: Vec<u32> = vec![3, 1, 4, 1, 5];
    /// writer.add_histogram("token_ids", &tokens, 0)?;
    /// writer.add_histogram("lengths", tokens.iter().map(|t| t * 2), 0)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_histogram<V>(
        &self,
        tag: &str,
        values: V,
        step: impl Step,
    ) -> Result<usize, SummaryError>
    where
        V: IntoIterator,
        V::IntoIter: HistogramValues,
    {
        check_tag(tag)?;
        let step = step_of(tag, step)?;
        if self.inner.background {
            let values = values.into_iter().into_owned();
            let left_out = values.non_finite();
            let job = Job::Histogram {
                tag: tag.to_string(),
                step,
                wall_time: wall_time_now(),
                values,
            };
            self.state().put(step, job)?;
            return Ok(left_out);
        }
        let (value, left_out) = values.into_iter().histogram(tag);
        self.write(step, value)?;
        Ok(left_out)
    }

    /// Writes the values of `batch` as one event at `step`; returns how
    /// many NaN or infinite values its histograms leave out. In background
    /// mode the histograms are bucketed on the writer's thread.
    ///
    /// ```
    /// use gradscope_tensorboard::Batch;
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = gradscope_tensorboard::SummaryWriter::new(dir.path())?;
    /// let mut batch = Batch::new();
    /// batch.scalar("loss", 0.25).histogram("grad", vec![1.0f32, f32::NAN]);
    /// assert_eq!(writer.add_batch(batch, 7)?, 1);
    /// let mut bad = Batch::new();
    /// bad.scalar("", 1.0);
    /// assert!(writer.add_batch(bad, 8).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_batch(&self, mut batch: Batch, step: impl Step) -> Result<usize, SummaryError> {
        if let Some(error) = batch.error() {
            return Err(error);
        }
        let step = step_of("", step)?;
        let left_out = batch.left_out();
        let wall_time = wall_time_now();
        if self.inner.background {
            let job = Job::Batch {
                step,
                wall_time,
                batch,
            };
            self.state().put(step, job)?;
        } else {
            self.state().write(step, batch.into_values())?;
        }
        Ok(left_out)
    }

    /// Adds a histogram of buckets the caller made.
    ///
    /// ```
    /// use gradscope_tensorboard::summary::RawHistogram;
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = gradscope_tensorboard::SummaryWriter::new(dir.path())?;
    /// let raw = RawHistogram {
    ///     min: 0.0, max: 3.0, num: 6.0, sum: 9.0, sum_squares: 19.0,
    ///     bucket_limits: &[1.0, 2.0, 3.0],
    ///     bucket_counts: &[2.0, 2.0, 2.0],
    /// };
    /// writer.add_histogram_raw("sizes", &raw, 0)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_histogram_raw(
        &self,
        tag: &str,
        histogram: &RawHistogram<'_>,
        step: impl Step,
    ) -> Result<(), SummaryError> {
        let step = step_of(tag, step)?;
        self.write(step, crate::summary::histogram_raw(tag, histogram)?)
    }

    /// Adds one image (PNG-encoded) to the Images dashboard.
    ///
    /// ```
    /// use gradscope_tensorboard::image::Image;
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = gradscope_tensorboard::SummaryWriter::new(dir.path())?;
    /// // A 16x16 red-to-green gradient, height-width-channel floats in [0, 1].
    /// let pixels: Vec<f32> = (0..16 * 16)
    ///     .flat_map(|i| [(i % 16) as f32 / 15.0, (i / 16) as f32 / 15.0, 0.0])
    ///     .collect();
    /// writer.add_image("gradient", &Image::hwc(&pixels, 16, 16, 3), 0)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_image(
        &self,
        tag: &str,
        image: &Image<'_>,
        step: impl Step,
    ) -> Result<(), SummaryError> {
        let step = step_of(tag, step)?;
        if image.count() != 1 {
            return Err(SummaryError::invalid(
                tag,
                "image",
                format!(
                    "one image (add_images takes a batch), got {}",
                    image.count()
                ),
            ));
        }
        self.put_image(tag, image, step)
    }

    /// Writes the checked `image`, or hands a copy to the worker to encode.
    fn put_image(&self, tag: &str, image: &Image<'_>, step: i64) -> Result<(), SummaryError> {
        if !self.inner.background {
            return self.write(step, crate::image::image(tag, image)?);
        }
        crate::image::check_image(tag, image)?;
        let job = Job::Image {
            tag: tag.to_string(),
            step,
            wall_time: wall_time_now(),
            image: image.copy_pixels(),
        };
        self.state().put(step, job)
    }

    /// Adds a batch of same-sized images, tiled into one grid image (up to
    /// 8 per row).
    ///
    /// ```
    /// use gradscope_tensorboard::image::Image;
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = gradscope_tensorboard::SummaryWriter::new(dir.path())?;
    /// let digits = vec![128u8; 10 * 28 * 28]; // ten 28x28 gray images, NCHW
    /// writer.add_images("digits", &Image::nchw(&digits, 10, 1, 28, 28), 0)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_images(
        &self,
        tag: &str,
        images: &Image<'_>,
        step: impl Step,
    ) -> Result<(), SummaryError> {
        let step = step_of(tag, step)?;
        self.put_image(tag, images, step)
    }

    /// Adds an RGB figure drawn into a buffer `height` rows of `width`
    /// pixels, such as the one plotters' `BitMapBackend::with_buffer` draws
    /// into (3 bytes a pixel, row by row). Height comes first, as in
    /// [`Image::hwc`] and every image constructor of this crate (plotters
    /// itself takes `(width, height)`).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = gradscope_tensorboard::SummaryWriter::new(dir.path())?;
    /// let (height, width) = (48, 64);
    /// let mut buffer = vec![255u8; height * width * 3];
    /// // ... draw into `buffer`, e.g. with
    /// // plotters::backend::BitMapBackend::with_buffer(&mut buffer, (64, 48)) ...
    /// buffer[..3].copy_from_slice(&[255, 0, 0]);
    /// writer.add_figure("plot", &buffer, height, width, 0)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_figure(
        &self,
        tag: &str,
        rgb: &[u8],
        height: usize,
        width: usize,
        step: impl Step,
    ) -> Result<(), SummaryError> {
        self.add_image(tag, &Image::hwc(rgb, height, width, 3), step)
    }

    /// Adds a markdown document (tables included) to the Text dashboard.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = gradscope_tensorboard::SummaryWriter::new(dir.path())?;
    /// writer.add_text("config", "| lr | batch |\n|---|---|\n| 0.01 | 32 |", 0)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_text(&self, tag: &str, markdown: &str, step: impl Step) -> Result<(), SummaryError> {
        check_tag(tag)?;
        let step = step_of(tag, step)?;
        self.write(step, crate::summary::text(tag, markdown))
    }

    /// Records this run's hyperparameters for the HParams dashboard, in this
    /// run's own folder: the experiment (columns: the hyperparameters and
    /// the `metrics` tags), the session start (the values, the group) and
    /// end. Each metric value is written as the scalar `tag` at the largest
    /// step this writer has written (the dashboard shows the last value of
    /// each metric tag in the run, so metrics logged while training count
    /// too).
    ///
    /// `metrics` is any collection or iterator of `(name, number)` pairs
    /// ([`NamedScalar`]). With none, give the pairs' type:
    /// `None::<(&str, f64)>` (a bare `&[]` leaves it unknown).
    ///
    /// ```
    /// use gradscope_tensorboard::hparams::HParams;
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = gradscope_tensorboard::SummaryWriter::new(dir.path().join("seed-1"))?;
    /// let hparams = HParams::new()
    ///     .set("optimizer", "adam")
    ///     .set("lr", 1e-3)
    ///     .set("seed", 1)
    ///     .group_by_all_but(&["seed"]);
    /// writer.add_hparams(&hparams, &[("accuracy", 0.93), ("loss", 0.21)])?;
    /// let epochs: usize = 12;
    /// writer.add_hparams(&hparams, [("epochs", epochs)])?;
    /// writer.add_hparams(&hparams, None::<(&str, f64)>)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_hparams<I>(&self, hparams: &HParams, metrics: I) -> Result<(), SummaryError>
    where
        I: IntoIterator,
        I::Item: NamedScalar,
    {
        hparams.check()?;
        let metrics: Vec<I::Item> = metrics.into_iter().collect();
        let mut scalars = Vec::with_capacity(metrics.len());
        for metric in &metrics {
            check_tag(metric.name())?;
            scalars.push(crate::summary::scalar(metric.name(), metric.value()));
        }
        let names: Vec<&str> = metrics.iter().map(|m| m.name()).collect();
        let now = wall_time_now();
        let records = session_records(hparams, &names, now, now);
        let mut state = self.state();
        state.write(0, records.to_vec())?;
        if !scalars.is_empty() {
            let step = state.last_step;
            state.write(step, scalars)?;
        }
        Ok(())
    }

    /// Adds the run's graph to the Graphs dashboard.
    ///
    /// ```
    /// use gradscope_tensorboard::graph::{Graph, Node};
    /// use gradscope_tensorboard::proto::DataType;
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = gradscope_tensorboard::SummaryWriter::new(dir.path())?;
    /// let mut graph = Graph::new();
    /// graph
    ///     .add(Node::placeholder("x", DataType::DtFloat, &[-1, 4]))
    ///     .add(Node::new("relu", "Relu").inputs(&["x"]));
    /// writer.add_graph(&graph)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_graph(&self, graph: &Graph) -> Result<(), SummaryError> {
        let graph = graph.build()?;
        let event = graph_event(0, wall_time_now(), &graph);
        self.state().put(0, Job::Event(event))
    }

    /// Adds a precision-recall curve of binary `labels` against
    /// `predictions` in [0, 1] at 127 thresholds.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = gradscope_tensorboard::SummaryWriter::new(dir.path())?;
    /// writer.add_pr_curve("pr", &[true, false, true], &[0.8, 0.3, 0.4], 0)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_pr_curve(
        &self,
        tag: &str,
        labels: &[bool],
        predictions: &[f32],
        step: impl Step,
    ) -> Result<(), SummaryError> {
        self.add_pr_curve_with_thresholds(tag, labels, predictions, DEFAULT_NUM_THRESHOLDS, step)
    }

    /// As [`add_pr_curve`](SummaryWriter::add_pr_curve), at
    /// `num_thresholds` thresholds (2 to 65536).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = gradscope_tensorboard::SummaryWriter::new(dir.path())?;
    /// writer.add_pr_curve_with_thresholds("pr", &[true, false], &[0.8, 0.3], 11, 0)?;
    /// assert!(writer.add_pr_curve_with_thresholds("pr", &[true], &[0.8], 1, 0).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_pr_curve_with_thresholds(
        &self,
        tag: &str,
        labels: &[bool],
        predictions: &[f32],
        num_thresholds: u32,
        step: impl Step,
    ) -> Result<(), SummaryError> {
        let step = step_of(tag, step)?;
        let value = crate::pr_curve::pr_curve(tag, labels, predictions, num_thresholds)?;
        self.write(step, value)
    }

    /// Adds a precision-recall curve from counts the caller computed.
    ///
    /// ```
    /// use gradscope_tensorboard::pr_curve::PrCounts;
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = gradscope_tensorboard::SummaryWriter::new(dir.path())?;
    /// let counts = PrCounts {
    ///     true_positives: &[4.0, 2.0, 0.0],
    ///     false_positives: &[4.0, 1.0, 0.0],
    ///     true_negatives: &[0.0, 3.0, 4.0],
    ///     false_negatives: &[0.0, 2.0, 4.0],
    ///     precision: &[0.5, 0.667, 0.0],
    ///     recall: &[1.0, 0.5, 0.0],
    /// };
    /// writer.add_pr_curve_raw("pr", &counts, 0)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_pr_curve_raw(
        &self,
        tag: &str,
        counts: &PrCounts<'_>,
        step: impl Step,
    ) -> Result<(), SummaryError> {
        let step = step_of(tag, step)?;
        self.write(step, crate::pr_curve::pr_curve_raw(tag, counts)?)
    }

    /// Adds an embedding for the Projector: `matrix` has one row per point;
    /// `metadata` one label per point (empty for none); `label_images` one
    /// image per point (drawn as the points' sprites). The files go under
    /// `<logdir>/<step>/<tag>/` and the run's `projector_config.pbtxt`
    /// (see [`projector`](crate::projector)).
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = gradscope_tensorboard::SummaryWriter::new(dir.path())?;
    /// let points = [[0.1f32, 0.9], [0.8, 0.2], [0.5, 0.5]];
    /// writer.add_embedding("points", &points, &["a", "b", "c"], None, 0)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_embedding<R: AsRef<[f32]>>(
        &self,
        tag: &str,
        matrix: &[R],
        metadata: &[&str],
        label_images: Option<&Image<'_>>,
        step: impl Step,
    ) -> Result<(), SummaryError> {
        let step = step_of(tag, step)?;
        let mut state = self.state();
        state.sink()?;
        crate::projector::write_embedding(
            &self.inner.logdir,
            tag,
            matrix,
            metadata,
            label_images,
            step,
        )?;
        Ok(())
    }

    /// Sets the Custom Scalars dashboard's layout (charts of several tags,
    /// margin charts); the charts [`add_scalars`](SummaryWriter::add_scalars)
    /// makes follow the categories given here.
    ///
    /// ```
    /// use gradscope_tensorboard::custom_scalars::{Category, Layout, Margin};
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = gradscope_tensorboard::SummaryWriter::new(dir.path())?;
    /// writer.add_custom_scalars(
    ///     &Layout::new().category(
    ///         Category::new("training")
    ///             .multiline("losses", ["^loss/"])
    ///             .margin("accuracy", [Margin::new("acc", "acc_low", "acc_high")]),
    ///     ),
    /// )?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_custom_scalars(&self, layout: &Layout) -> Result<(), SummaryError> {
        let mut state = self.state();
        state.sink()?;
        state.layout = layout.categories.clone();
        state.write_layout()
    }

    /// Adds a mono audio clip: `samples` in [-1, 1] (clamped; NaN is
    /// silence) at `sample_rate` Hz, as a 16-bit WAV.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = gradscope_tensorboard::SummaryWriter::new(dir.path())?;
    /// let tone: Vec<f32> = (0..8000)
    ///     .map(|i| (i as f32 * 440.0 * std::f32::consts::TAU / 8000.0).sin() * 0.3)
    ///     .collect();
    /// writer.add_audio("tone", &tone, 8000, 0)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_audio(
        &self,
        tag: &str,
        samples: &[f32],
        sample_rate: u32,
        step: impl Step,
    ) -> Result<(), SummaryError> {
        let step = step_of(tag, step)?;
        self.write(step, crate::audio::audio(tag, samples, sample_rate)?)
    }

    /// Writes an event the caller built (any [`proto::Event`]).
    ///
    /// ```
    /// use gradscope_tensorboard::summary::{scalar, summary_event};
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = gradscope_tensorboard::SummaryWriter::new(dir.path())?;
    /// writer.add_event(&summary_event(5, 1.7e9, vec![scalar("x", 1.0)]))?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add_event(&self, event: &proto::Event) -> Result<(), SummaryError> {
        let mut state = self.state();
        match state.sink()? {
            Sink::File(writer) => writer.write_event(event)?,
            Sink::Worker(worker) => worker.send(Job::Event(event.clone()))?,
        }
        state.last_step = state.last_step.max(event.step);
        Ok(())
    }

    /// Hands every buffered value to the OS now. With a
    /// [background](SummaryWriterBuilder::background) thread, first waits
    /// until it has written every call queued before; a failure it met
    /// since the last call is returned here.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// # let writer = gradscope_tensorboard::SummaryWriter::new(dir.path())?;
    /// writer.add_scalar("x", 1.0, 0)?;
    /// writer.flush()?;
    /// let read = gradscope_tensorboard::read_events(writer.file_path())?;
    /// assert_eq!(read.events.len(), 2); // the file version, then x
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn flush(&self) -> Result<(), SummaryError> {
        let mut state = self.state();
        let pending = match state.sink()? {
            Sink::File(writer) => return Ok(writer.flush()?),
            Sink::Worker(worker) => worker.start_flush()?,
        };
        // Other threads' calls may queue meanwhile.
        drop(state);
        pending.wait()
    }

    /// Flushes, syncs and closes the file, for every clone of this handle:
    /// later calls return [`SummaryError::Closed`]. With a
    /// [background](SummaryWriterBuilder::background) thread, it writes
    /// every queued call first. Dropping the last handle does the same,
    /// without a way to see an error.
    ///
    /// ```
    /// # let dir = tempfile::tempdir()?;
    /// let writer = gradscope_tensorboard::SummaryWriter::new(dir.path())?;
    /// let other = writer.clone();
    /// writer.close()?;
    /// assert!(other.add_scalar("x", 1.0, 0).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(&self) -> Result<(), SummaryError> {
        let sink = self.state().sink.take().ok_or(SummaryError::Closed)?;
        let run = match sink {
            Sink::File(writer) => writer.close()?,
            Sink::Worker(worker) => worker.close()?,
        };
        *self
            .inner
            .recorded
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = run;
        Ok(())
    }

    /// The run this writer recorded ([`SummaryWriterBuilder::record_run`]),
    /// once [`close`](SummaryWriter::close) returned `Ok`: `None` before,
    /// after it was taken, without a record, or past its limit.
    pub fn take_run(&self) -> Option<Run> {
        self.inner
            .recorded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{event, summary::value::Value};
    use crate::read_events;
    use prost::Message;

    fn values(writer: &SummaryWriter) -> Vec<(i64, summary::Value)> {
        writer.flush().unwrap();
        read_events(writer.file_path())
            .unwrap()
            .events
            .into_iter()
            .filter_map(|e| match e.what {
                Some(event::What::Summary(s)) => Some((e.step, s.value)),
                _ => None,
            })
            .flat_map(|(step, vs)| vs.into_iter().map(move |v| (step, v)))
            .collect()
    }

    /// The scalar values written, in order, with their steps.
    fn scalars(writer: &SummaryWriter) -> Vec<(i64, String, f32)> {
        values(writer)
            .into_iter()
            .filter_map(|(step, v)| match v.value {
                Some(Value::SimpleValue(x)) => Some((step, v.tag, x)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn add_scalar_takes_every_primitive_number() {
        let dir = tempfile::tempdir().unwrap();
        let w = SummaryWriter::new(dir.path()).unwrap();
        let items: Vec<u32> = (0..7).collect();
        let big = 1u64 << 40;
        w.add_scalar("i8", -3i8, 0).unwrap();
        w.add_scalar("i16", -300i16, 0).unwrap();
        w.add_scalar("i32", -70_000i32, 0).unwrap();
        w.add_scalar("i64", -(1i64 << 40), 0).unwrap();
        w.add_scalar("i128", -(1i128 << 100), 0).unwrap();
        w.add_scalar("isize", -5isize, 0).unwrap();
        w.add_scalar("u8", 255u8, 0).unwrap();
        w.add_scalar("u16", 65_535u16, 0).unwrap();
        w.add_scalar("u32", 1u32 << 31, 0).unwrap();
        w.add_scalar("u64", big, 0).unwrap();
        w.add_scalar("u128", 1u128 << 100, 0).unwrap();
        w.add_scalar("usize", items.len(), 0).unwrap();
        w.add_scalar("f32", 0.25f32, 0).unwrap();
        w.add_scalar("f64", 0.125f64, 0).unwrap();
        w.add_scalar("bool", true, 0).unwrap();
        let by_ref: &f64 = [2.5].first().unwrap();
        w.add_scalar("ref", by_ref, 0).unwrap();
        w.add_scalar("literal", 3, 0).unwrap();
        let got: Vec<(String, f32)> = scalars(&w).into_iter().map(|(_, t, v)| (t, v)).collect();
        let want: Vec<(String, f32)> = [
            ("i8", -3.0),
            ("i16", -300.0),
            ("i32", -70_000.0),
            ("i64", -(2f32.powi(40))),
            ("i128", -(2f32.powi(100))),
            ("isize", -5.0),
            ("u8", 255.0),
            ("u16", 65_535.0),
            ("u32", 2f32.powi(31)),
            ("u64", 2f32.powi(40)),
            ("u128", 2f32.powi(100)),
            ("usize", 7.0),
            ("f32", 0.25),
            ("f64", 0.125),
            ("bool", 1.0),
            ("ref", 2.5),
            ("literal", 3.0),
        ]
        .iter()
        .map(|&(t, v)| (t.to_string(), v))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn steps_take_every_primitive_integer() {
        let dir = tempfile::tempdir().unwrap();
        let w = SummaryWriter::new(dir.path()).unwrap();
        w.add_scalar("x", 0, 1i8).unwrap();
        w.add_scalar("x", 0, 2i16).unwrap();
        w.add_scalar("x", 0, 3i32).unwrap();
        w.add_scalar("x", 0, i64::MAX).unwrap();
        w.add_scalar("x", 0, i64::MIN as i128).unwrap();
        w.add_scalar("x", 0, -6isize).unwrap();
        w.add_scalar("x", 0, 7u8).unwrap();
        w.add_scalar("x", 0, 8u16).unwrap();
        w.add_scalar("x", 0, u32::MAX).unwrap();
        w.add_scalar("x", 0, i64::MAX as u64).unwrap();
        w.add_scalar("x", 0, 11u128).unwrap();
        w.add_scalar("x", 0, 12usize).unwrap();
        let steps: Vec<i64> = scalars(&w).into_iter().map(|(s, _, _)| s).collect();
        assert_eq!(
            steps,
            [
                1,
                2,
                3,
                i64::MAX,
                i64::MIN,
                -6,
                7,
                8,
                4_294_967_295,
                i64::MAX,
                11,
                12
            ]
        );
    }

    #[test]
    fn a_step_beyond_i64_is_an_error_naming_tag_and_step() {
        let dir = tempfile::tempdir().unwrap();
        let w = SummaryWriter::new(dir.path()).unwrap();
        let e = w.add_scalar("loss", 1.0, u64::MAX).unwrap_err();
        assert_eq!(
            e.to_string(),
            "tag \"loss\": argument `step`: expected a step from -9223372036854775808 \
             to 9223372036854775807, got 18446744073709551615"
        );
        assert!(matches!(
            e,
            SummaryError::InvalidArgument { argument: "step", ref tag, .. } if tag == "loss"
        ));
        let beyond = i64::MAX as u64 + 1;
        let below = i64::MIN as i128 - 1;
        let rgb = [0u8; 6];
        let raw = RawHistogram {
            min: 0.0,
            max: 1.0,
            num: 1.0,
            sum: 1.0,
            sum_squares: 1.0,
            bucket_limits: &[1.0],
            bucket_counts: &[1.0],
        };
        let pr = PrCounts {
            true_positives: &[1.0],
            false_positives: &[0.0],
            true_negatives: &[0.0],
            false_negatives: &[0.0],
            precision: &[1.0],
            recall: &[1.0],
        };
        let results = [
            w.add_scalar("t", 1.0, below),
            w.add_scalars("t", [("a", 1.0)], beyond),
            w.add_histogram("t", [1.0f32], beyond).map(drop),
            w.add_histogram_raw("t", &raw, beyond),
            w.add_image("t", &Image::hwc(&rgb[..], 1, 2, 3), usize::MAX),
            w.add_images("t", &Image::hwc(&rgb[..], 1, 2, 3), beyond),
            w.add_figure("t", &rgb, 1, 2, beyond),
            w.add_text("t", "x", u128::MAX),
            w.add_pr_curve("t", &[true], &[0.5], beyond),
            w.add_pr_curve_with_thresholds("t", &[true], &[0.5], 3, beyond),
            w.add_pr_curve_raw("t", &pr, beyond),
            w.add_embedding("t", &[[1.0f32]], &[], None, beyond),
            w.add_audio("t", &[0.0], 8000, beyond),
        ];
        for (i, r) in results.into_iter().enumerate() {
            let e = r.unwrap_err();
            assert!(
                e.to_string().starts_with("tag \"t\": argument `step`"),
                "{i}: {e}"
            );
        }
        assert!(values(&w).is_empty(), "nothing written");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no projector files"
        );
    }

    #[test]
    fn add_scalars_and_hparams_take_any_collection_of_pairs() {
        let dir = tempfile::tempdir().unwrap();
        let w = SummaryWriter::new(dir.path()).unwrap();
        w.add_scalars("slice", &[("a", 1.0)], 0).unwrap();
        let owned: Vec<(String, f32)> = vec![("b".to_string(), 2.0)];
        w.add_scalars("vec", owned, 0).unwrap();
        let map = std::collections::HashMap::from([("c", 3.0f64)]);
        w.add_scalars("map_ref", &map, 0).unwrap();
        w.add_scalars("map", map, 0).unwrap();
        w.add_scalars("usize", [("d", 4usize)], 0).unwrap();
        let names = ["e", "f"];
        w.add_scalars("iter", names.iter().zip(5u8..), 0).unwrap();
        w.add_hparams(&HParams::new().set("lr", 0.1), [("m", 7u64)])
            .unwrap();
        let got: Vec<(String, f32)> = scalars(&w).into_iter().map(|(_, t, v)| (t, v)).collect();
        let want: Vec<(String, f32)> = [
            ("slice/a", 1.0),
            ("vec/b", 2.0),
            ("map_ref/c", 3.0),
            ("map/c", 3.0),
            ("usize/d", 4.0),
            ("iter/e", 5.0),
            ("iter/f", 6.0),
            ("m", 7.0),
        ]
        .iter()
        .map(|&(t, v)| (t.to_string(), v))
        .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn add_histogram_takes_slices_and_iterators_of_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let w = SummaryWriter::new(dir.path()).unwrap();
        let floats = vec![1.0f64, 2.0, 3.0];
        let bytes = [1u8, 2, 3];
        w.add_histogram("f32", &[1.0f32, 2.0, 3.0][..], 0).unwrap();
        w.add_histogram("vec_f64", &floats, 0).unwrap();
        let ints = [1i32, 2, 3];
        w.add_histogram("i32", &ints[..], 0).unwrap();
        w.add_histogram("u8", &bytes[..], 0).unwrap();
        w.add_histogram("map", floats.iter().map(|x| x * 1.0), 0)
            .unwrap();
        w.add_histogram("range", 1..=3, 0).unwrap();
        w.add_histogram("filter", (0..5u64).filter(|&x| (1..=3).contains(&x)), 0)
            .unwrap();
        w.add_histogram("owned", vec![3usize, 1, 2], 0).unwrap();
        assert_eq!(
            w.add_histogram("nan", [f64::NAN, 1.0, 2.0, 3.0], 0)
                .unwrap(),
            1
        );
        let got = values(&w);
        assert_eq!(got.len(), 9);
        for (_, v) in got {
            let Some(Value::Histo(h)) = &v.value else {
                panic!("{}: not a histogram", v.tag)
            };
            let summary = (h.num, h.sum, h.sum_squares, h.min, h.max);
            assert_eq!(summary, (3.0, 6.0, 14.0, 1.0, 3.0), "{}", v.tag);
        }
    }

    #[test]
    fn add_figure_takes_height_then_width() {
        let dir = tempfile::tempdir().unwrap();
        let w = SummaryWriter::new(dir.path()).unwrap();
        // Two rows of three pixels; the last pixel red.
        let (height, width) = (2, 3);
        let mut rgb = vec![0u8; height * width * 3];
        rgb[15..].copy_from_slice(&[255, 0, 0]);
        w.add_figure("figure", &rgb, height, width, 0).unwrap();
        let got = values(&w);
        let Some(Value::Image(image)) = &got[0].1.value else {
            panic!("not an image")
        };
        assert_eq!((image.height, image.width), (2, 3));
        let mut reader = png::Decoder::new(std::io::Cursor::new(&image.encoded_image_string))
            .read_info()
            .unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        assert_eq!((info.height, info.width), (2, 3));
        assert_eq!(pixels[..info.buffer_size()], rgb[..]);
        let e = w.add_figure("figure", &rgb, 3, 3, 0).unwrap_err();
        assert!(e.to_string().contains("argument `pixels`"), "{e}");
    }

    #[test]
    fn send_sync_clone() {
        fn assert<T: Send + Sync + Clone>() {}
        assert::<SummaryWriter>();
    }

    #[test]
    fn threads_share_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let writer = SummaryWriter::new(dir.path()).unwrap();
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let w = writer.clone();
                std::thread::spawn(move || {
                    for step in 0..100 {
                        w.add_scalar(&format!("t{t}"), step as f64, step).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(values(&writer).len(), 400);
    }

    #[test]
    fn add_scalars_writes_tags_in_the_run_and_a_growing_layout() {
        let dir = tempfile::tempdir().unwrap();
        let w = SummaryWriter::new(dir.path()).unwrap();
        w.add_scalars("loss", &[("train", 1.0), ("test", 2.0)], 5)
            .unwrap();
        w.add_scalars("loss", &[("train", 0.5)], 6).unwrap();
        w.add_scalars("loss", &[("val.x", 0.5)], 7).unwrap();
        let got = values(&w);
        let tags: Vec<&str> = got.iter().map(|(_, v)| v.tag.as_str()).collect();
        assert_eq!(
            tags,
            [
                "custom_scalars__config__",
                "loss/train",
                "loss/test",
                "loss/train",
                "custom_scalars__config__",
                "loss/val.x"
            ]
        );
        let Some(Value::Tensor(t)) = &got[4].1.value else {
            panic!()
        };
        let layout = proto::Layout::decode(t.string_val[0].as_slice()).unwrap();
        let Some(proto::chart::Content::Multiline(m)) = &layout.category[0].chart[0].content else {
            panic!()
        };
        assert_eq!(m.tag, [r"^loss/(train|test|val\.x)$"]);
        assert_eq!(
            dir.path().read_dir().unwrap().count(),
            1,
            "one file, no subfolders"
        );
        assert!(w.add_scalars("loss", &[("a", 1.0), ("a", 2.0)], 8).is_err());
        assert!(w.add_scalars("loss", &[("", 1.0)], 8).is_err());
    }

    #[test]
    fn hparams_metrics_go_at_the_last_step() {
        let dir = tempfile::tempdir().unwrap();
        let w = SummaryWriter::new(dir.path()).unwrap();
        w.add_scalar("acc", 0.5, 40).unwrap();
        w.add_hparams(&HParams::new().set("lr", 0.1), &[("acc", 0.9)])
            .unwrap();
        let got = values(&w);
        let tags: Vec<(i64, &str)> = got.iter().map(|(s, v)| (*s, v.tag.as_str())).collect();
        assert_eq!(
            tags,
            [
                (40, "acc"),
                (0, "_hparams_/experiment"),
                (0, "_hparams_/session_start_info"),
                (0, "_hparams_/session_end_info"),
                (40, "acc")
            ]
        );
        assert!(w
            .add_hparams(
                &HParams::new().set("lr", f64::INFINITY),
                None::<(&str, f64)>
            )
            .is_err());
    }

    #[test]
    fn bad_input_is_an_error_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let w = SummaryWriter::new(dir.path()).unwrap();
        let nan = [f32::NAN; 4];
        assert!(w.add_scalar("", 1.0, 0).is_err());
        assert!(w.add_scalar("a\u{7}", 1.0, 0).is_err());
        assert_eq!(w.add_histogram("h", nan, 0).unwrap(), 4);
        assert!(w.add_image("i", &Image::hwc(&nan[..], 0, 0, 3), 0).is_err());
        assert!(w
            .add_image("i", &Image::nhwc(&nan[..], 4, 1, 1, 1), 0)
            .is_err());
        assert!(w.add_pr_curve("p", &[true], &nan, 0).is_err());
        assert!(w.add_audio("a", &nan, 0, 0).is_err());
        assert!(w.add_text("", "x", 0).is_err());
        let empty: [[f32; 1]; 0] = [];
        assert!(w.add_embedding("e", &empty, &[], None, 0).is_err());
        let mut g = Graph::new();
        g.add(crate::graph::Node::new("a", "Relu").inputs(&["missing"]));
        assert!(matches!(w.add_graph(&g), Err(SummaryError::Graph(_))));
        // NaN values themselves are data, not errors.
        w.add_scalar("nan", f64::NAN, 0).unwrap();
        w.add_pr_curve("p", &[true; 4], &nan, 0).unwrap();
        w.add_audio("a", &nan, 8000, 0).unwrap();
        let tags: Vec<String> = values(&w).into_iter().map(|(_, v)| v.tag).collect();
        assert_eq!(tags, ["h", "nan", "p", "a"]);
    }

    #[test]
    fn a_logdir_that_is_a_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").unwrap();
        let e = SummaryWriter::new(&file).unwrap_err();
        assert!(matches!(e, SummaryError::Write(_)), "{e}");
        assert!(e.to_string().contains("cannot create"), "{e}");
        let e = SummaryWriter::builder(dir.path())
            .filename_suffix("/x")
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("`filename_suffix`"), "{e}");
        let e = SummaryWriter::builder(dir.path())
            .background(usize::MAX)
            .build()
            .unwrap_err();
        assert!(e.to_string().contains("argument `capacity`"), "{e}");
        assert_eq!(dir.path().read_dir().unwrap().count(), 1, "no event file");
    }

    #[test]
    fn close_closes_every_handle_and_drop_flushes() {
        let dir = tempfile::tempdir().unwrap();
        let w = SummaryWriter::builder(dir.path())
            .flush_interval(Duration::from_secs(3600))
            .build()
            .unwrap();
        w.add_scalar("x", 1.0, 0).unwrap();
        let path = w.file_path().to_path_buf();
        let clone = w.clone();
        drop(w);
        assert_eq!(
            read_events(&path).unwrap().events.len(),
            0,
            "still buffered"
        );
        drop(clone);
        assert_eq!(
            read_events(&path).unwrap().events.len(),
            2,
            "the last drop flushed"
        );
        let w = SummaryWriter::new(dir.path()).unwrap();
        w.close().unwrap();
        assert!(matches!(w.close(), Err(SummaryError::Closed)));
        assert!(matches!(w.flush(), Err(SummaryError::Closed)));
    }

    /// What a test sees of `writer`'s worker, read without its lock.
    fn probe(writer: &SummaryWriter) -> crate::background::Probe {
        match &writer.state().sink {
            Some(Sink::Worker(worker)) => worker.probe(),
            _ => panic!("not a background writer"),
        }
    }

    /// Queues `code` to run on `writer`'s worker, in order with the calls.
    fn run_on_worker(
        writer: &SummaryWriter,
        code: impl FnOnce() -> Result<(), SummaryError> + Send + 'static,
    ) {
        writer.state().put(0, Job::Run(Box::new(code))).unwrap();
    }

    #[test]
    fn a_call_finding_the_background_queue_full_waits_for_the_worker() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::sync::mpsc;

        let capacity = 2;
        let dir = tempfile::tempdir().unwrap();
        let w = SummaryWriter::builder(dir.path())
            .background(capacity)
            .build()
            .unwrap();
        let probe = probe(&w);
        // Hold the worker in a job until released: from here on nothing
        // leaves the queue.
        let (entered, worker_entered) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        run_on_worker(&w, move || {
            entered.send(()).unwrap();
            released.recv().unwrap();
            Ok(())
        });
        worker_entered.recv().unwrap();
        let returned = Arc::new(AtomicUsize::new(0));
        let calls = capacity + 3;
        let caller = {
            let (w, returned) = (w.clone(), Arc::clone(&returned));
            std::thread::spawn(move || {
                for step in 0..calls {
                    w.add_scalar("x", step, step).unwrap();
                    returned.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        // The caller fills the queue, then waits in its next call; an
        // unbounded queue would let it finish instead.
        while probe.waits() == 0 && !caller.is_finished() {
            std::thread::yield_now();
        }
        assert_eq!(probe.waits(), 1, "a call waited for a free slot");
        assert_eq!(
            returned.load(Ordering::SeqCst),
            capacity,
            "no call beyond the queue's capacity returned while the worker was held"
        );
        release.send(()).unwrap();
        caller.join().unwrap();
        let steps: Vec<i64> = scalars(&w).into_iter().map(|(s, _, _)| s).collect();
        assert_eq!(
            steps,
            (0..calls as i64).collect::<Vec<_>>(),
            "all, in order"
        );
    }

    #[test]
    fn a_failure_on_the_worker_reaches_the_next_call_then_flush_and_close() {
        use std::fs::OpenOptions;

        let dir = tempfile::tempdir().unwrap();
        // Every write to /dev/full fails with ENOSPC, as on a full disk; with
        // a queue of 2 the first event after the file version is written at
        // once.
        let full = OpenOptions::new().write(true).open("/dev/full").unwrap();
        let options = FileOptions::new().max_queue(2);
        let file = EventWriter::from_file(PathBuf::from("/dev/full"), full, &options).unwrap();
        let file = RunFile::new(file, None);
        let w = SummaryWriter::with_writer(dir.path().to_path_buf(), file, Some(4)).unwrap();
        let probe = probe(&w);
        w.add_scalar("x", 1.0, 0).unwrap(); // accepted: the worker fails later
        while !probe.failed() {
            std::thread::yield_now();
        }
        let e = w.add_scalar("y", 2.0, 1).unwrap_err();
        assert!(matches!(e, SummaryError::Write(_)), "{e}");
        let message = e.to_string();
        assert!(
            message.contains("/dev/full") && message.contains("No space left"),
            "{message}"
        );
        // Reported once; the file stays failed, so the next job fails too.
        w.add_histogram("z", vec![1.0f32, 2.0], 2).unwrap();
        let e = w.flush().unwrap_err();
        assert!(e.to_string().contains("No space left"), "{e}");
        w.add_scalar("y", 2.0, 1).unwrap();
        let e = w.close().unwrap_err();
        assert!(e.to_string().contains("No space left"), "{e}");
        assert!(matches!(w.close(), Err(SummaryError::Closed)));
        assert!(matches!(
            w.add_scalar("x", 1.0, 0),
            Err(SummaryError::Closed)
        ));
    }

    #[test]
    fn a_failure_in_a_job_is_reported_once_by_the_next_call() {
        let dir = tempfile::tempdir().unwrap();
        let w = SummaryWriter::builder(dir.path())
            .background(4)
            .build()
            .unwrap();
        let probe = probe(&w);
        run_on_worker(&w, || Err(SummaryError::invalid("t", "x", "no failure")));
        while !probe.failed() {
            std::thread::yield_now();
        }
        let e = w.add_scalar("a", 1.0, 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "tag \"t\": argument `x`: expected no failure"
        );
        w.add_scalar("b", 2.0, 1).unwrap();
        w.close().unwrap();
        let tags: Vec<String> = read_events(w.file_path())
            .unwrap()
            .events
            .into_iter()
            .filter_map(|e| match e.what {
                Some(event::What::Summary(s)) => Some(s.value[0].tag.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(
            tags,
            ["b"],
            "the call that returned the failure wrote nothing"
        );
    }

    #[test]
    fn background_hparams_metrics_go_at_the_last_step_queued() {
        let dir = tempfile::tempdir().unwrap();
        let w = SummaryWriter::builder(dir.path())
            .background(1)
            .build()
            .unwrap();
        w.add_histogram("h", vec![1.0f64], 30).unwrap();
        w.add_scalar("acc", 0.5, 40).unwrap();
        w.add_image("i", &Image::hwc(&[0u8][..], 1, 1, 1), 20)
            .unwrap();
        w.add_hparams(&HParams::new().set("lr", 0.1), &[("acc", 0.9)])
            .unwrap();
        let got = values(&w);
        let tags: Vec<(i64, &str)> = got.iter().map(|(s, v)| (*s, v.tag.as_str())).collect();
        assert_eq!(
            tags,
            [
                (30, "h"),
                (40, "acc"),
                (20, "i"),
                (0, "_hparams_/experiment"),
                (0, "_hparams_/session_start_info"),
                (0, "_hparams_/session_end_info"),
                (40, "acc")
            ]
        );
    }

    #[test]
    fn background_add_histogram_returns_the_count_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let w = SummaryWriter::builder(dir.path())
            .background(4)
            .build()
            .unwrap();
        let f32s = [f32::NAN, 1.0, f32::INFINITY];
        assert_eq!(w.add_histogram("a", &f32s[..], 0).unwrap(), 2);
        // 1e39 is beyond f32: infinite once narrowed, as bucketing sees it.
        let f64s = vec![1e39, -1e39, f64::NAN, 2.0];
        assert_eq!(w.add_histogram("b", f64s.clone(), 0).unwrap(), 3);
        assert_eq!(w.add_histogram("c", &f64s, 0).unwrap(), 3);
        assert_eq!(
            w.add_histogram("d", f64s.iter().map(|x| x * 2.0), 0)
                .unwrap(),
            3
        );
        assert_eq!(w.add_histogram("e", [u128::MAX, 1], 0).unwrap(), 1);
        for (_, v) in values(&w) {
            let Some(Value::Histo(h)) = &v.value else {
                panic!("{}: not a histogram", v.tag)
            };
            assert_eq!(h.num, 1.0, "{}: the one finite value", v.tag);
        }
    }
}
