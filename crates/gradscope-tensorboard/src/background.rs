//! The worker thread of a [`SummaryWriter`](crate::SummaryWriter) built
//! with [`background`](crate::SummaryWriterBuilder::background): it takes
//! the calls' [`Job`]s from a bounded queue, in the order they were queued,
//! and does the heavy part of each (bucketing, PNG and protobuf encoding,
//! the write) on its own [`EventWriter`].
//!
//! A failure there has no caller to return to: it waits in a [`Failure`]
//! slot for the next call, `flush` or `close`.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::batch::Batch;
use crate::error::{SummaryError, WriteError};
use crate::image::OwnedImage;
use crate::input::OwnedValues;
use crate::logdir::Run;
use crate::proto;
use crate::run_file::RunFile;
use crate::summary::summary_event;

/// One call's work, as the caller's thread hands it over: what is left to
/// do once its arguments were checked.
pub(crate) enum Job {
    /// An event built on the caller's thread (scalars, text, hparams, a
    /// graph, ...): encoded and written.
    Event(proto::Event),
    /// Values to bucket into the histogram `tag`.
    Histogram {
        tag: String,
        step: i64,
        /// Taken when the call was made, not when the worker got to it.
        wall_time: f64,
        values: OwnedValues,
    },
    /// A [`Batch`]'s values, its histograms to bucket: one event.
    Batch {
        step: i64,
        wall_time: f64,
        batch: Batch,
    },
    /// An image (or a batch, tiled) to encode as PNG, checked already.
    Image {
        tag: String,
        step: i64,
        wall_time: f64,
        image: OwnedImage,
    },
    /// Hand the file's buffer to the OS, then answer on the channel: every
    /// job queued before is written by then.
    Flush(SyncSender<Result<(), WriteError>>),
    /// Test code run on the worker, in the queue's order (a gate that holds
    /// the worker, a failure to report).
    #[cfg(test)]
    Run(Box<dyn FnOnce() -> Result<(), SummaryError> + Send>),
}

impl Job {
    /// Does the job with `writer`: on the worker, or on the caller's thread
    /// when the writer has no worker.
    pub(crate) fn run(self, writer: &mut RunFile) -> Result<(), SummaryError> {
        match self {
            Job::Event(event) => writer.write_event(&event)?,
            Job::Histogram {
                tag,
                step,
                wall_time,
                values,
            } => {
                let value = values.histogram(&tag);
                values.recycle();
                writer.write_event(&summary_event(step, wall_time, vec![value]))?;
            }
            Job::Batch {
                step,
                wall_time,
                batch,
            } => {
                writer.write_event(&summary_event(step, wall_time, batch.into_values()))?;
            }
            Job::Image {
                tag,
                step,
                wall_time,
                image,
            } => {
                let value = crate::image::encoded(tag, &image.as_image());
                writer.write_event(&summary_event(step, wall_time, vec![value]))?;
            }
            Job::Flush(answer) => {
                // The caller may have gone (a panic while waiting): nobody
                // to tell, nothing lost.
                let _ = answer.send(writer.flush());
            }
            #[cfg(test)]
            Job::Run(code) => code()?,
        }
        Ok(())
    }
}

/// The worker's first failure not yet returned to a caller.
#[derive(Default)]
struct Failure {
    /// Whether `error` holds one: every call reads this flag, so that only
    /// a failure makes a caller take the lock the worker also takes.
    failed: AtomicBool,
    error: Mutex<Option<SummaryError>>,
}

impl Failure {
    /// Keeps `error` unless an earlier one still waits (a failed file fails
    /// every later job the same way: the first says why).
    fn record(&self, error: SummaryError) {
        let mut slot = self.error.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(error);
            self.failed.store(true, Ordering::Release);
        }
    }

    /// The waiting failure, if any, as an `Err`; it is returned once.
    fn take(&self) -> Result<(), SummaryError> {
        if !self.failed.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut slot = self.error.lock().unwrap_or_else(|e| e.into_inner());
        self.failed.store(false, Ordering::Release);
        match slot.take() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

/// The caller's side of the worker: the queue's sending end and the thread.
/// Dropping it drains the queue, closes the file and joins the thread.
pub(crate) struct Background {
    /// `None` only while finishing: dropping it tells the worker to stop
    /// once the queue is empty.
    jobs: Option<SyncSender<Job>>,
    worker: Option<JoinHandle<Result<Option<Run>, WriteError>>>,
    failure: Arc<Failure>,
    /// The event file, for the error when the worker is gone.
    path: PathBuf,
    /// Calls that found the queue full and waited (shared so that a test
    /// can read it while a caller waits, holding the writer's lock).
    waits: Arc<AtomicU64>,
}

impl Background {
    /// Starts the worker on `writer`, behind a queue of `capacity` jobs (0:
    /// each call waits until the worker takes its job).
    pub(crate) fn start(writer: RunFile, capacity: usize) -> Result<Background, SummaryError> {
        let path = writer.path().to_path_buf();
        let (jobs, queue) = mpsc::sync_channel(capacity);
        let failure = Arc::new(Failure::default());
        let worker = {
            let failure = Arc::clone(&failure);
            std::thread::Builder::new()
                .name("summary-writer".into())
                .spawn(move || work(writer, &queue, &failure))
                .map_err(|source| WriteError::Io {
                    path: path.clone(),
                    source,
                })?
        };
        Ok(Background {
            jobs: Some(jobs),
            worker: Some(worker),
            failure,
            path,
            waits: Arc::default(),
        })
    }

    /// Queues `job`, waiting for a free slot while the queue is full. A
    /// failure of an earlier job is returned instead, and `job` dropped.
    pub(crate) fn send(&mut self, job: Job) -> Result<(), SummaryError> {
        self.failure.take()?;
        let Some(jobs) = &self.jobs else {
            return Err(SummaryError::Closed);
        };
        match jobs.try_send(job) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(job)) => {
                self.waits.fetch_add(1, Ordering::Release);
                jobs.send(job).map_err(|_| stopped(&self.path))
            }
            Err(TrySendError::Disconnected(_)) => Err(stopped(&self.path)),
        }
    }

    /// Ends the worker's nap, for a caller about to wait for it.
    fn wake(&self) {
        if let Some(worker) = &self.worker {
            worker.thread().unpark();
        }
    }

    /// Queues a flush; [`PendingFlush::wait`] waits for it, without the
    /// caller holding the writer's lock meanwhile.
    pub(crate) fn start_flush(&mut self) -> Result<PendingFlush, SummaryError> {
        let (answer, answered) = mpsc::sync_channel(1);
        self.send(Job::Flush(answer))?;
        self.wake();
        Ok(PendingFlush {
            answered,
            failure: Arc::clone(&self.failure),
            path: self.path.clone(),
        })
    }

    /// Lets the worker write every queued job, close the file and end; the
    /// first failure on the way is returned, else the run recorded.
    pub(crate) fn close(mut self) -> Result<Option<Run>, SummaryError> {
        self.finish()
    }

    fn finish(&mut self) -> Result<Option<Run>, SummaryError> {
        drop(self.jobs.take());
        let Some(worker) = self.worker.take() else {
            return Ok(None);
        };
        worker.thread().unpark();
        let closed = worker.join();
        // A job's failure came before the close's.
        self.failure.take()?;
        match closed {
            Ok(closed) => Ok(closed?),
            Err(_) => Err(stopped(&self.path)),
        }
    }
}

/// The error once the worker writing `path` has ended before its time: a
/// panic on it, a bug of this crate's.
fn stopped(path: &Path) -> SummaryError {
    SummaryError::Write(WriteError::Io {
        path: path.to_path_buf(),
        source: io::Error::other(
            "the summary writer's background thread stopped (it panicked; see stderr): \
             nothing more is written, build a new writer",
        ),
    })
}

impl Drop for Background {
    fn drop(&mut self) {
        // Errors here have nobody to go to; `close` is the way to see them.
        let _ = self.finish();
    }
}

/// What a test watches of a worker without taking the writer's lock.
#[cfg(test)]
pub(crate) struct Probe {
    waits: Arc<AtomicU64>,
    failure: Arc<Failure>,
}

#[cfg(test)]
impl Background {
    pub(crate) fn probe(&self) -> Probe {
        Probe {
            waits: Arc::clone(&self.waits),
            failure: Arc::clone(&self.failure),
        }
    }
}

#[cfg(test)]
impl Probe {
    /// Calls so far that found the queue full and waited.
    pub(crate) fn waits(&self) -> u64 {
        self.waits.load(Ordering::Acquire)
    }

    /// Whether a failure waits for the next call.
    pub(crate) fn failed(&self) -> bool {
        self.failure.failed.load(Ordering::Acquire)
    }
}

/// A flush queued on the worker.
pub(crate) struct PendingFlush {
    answered: Receiver<Result<(), WriteError>>,
    failure: Arc<Failure>,
    path: PathBuf,
}

impl PendingFlush {
    /// Waits until the worker has written every job queued before the
    /// flush and flushed the file; an earlier job's failure comes first.
    pub(crate) fn wait(self) -> Result<(), SummaryError> {
        let flushed = self.answered.recv();
        self.failure.take()?;
        match flushed {
            Ok(flushed) => Ok(flushed?),
            Err(_) => Err(stopped(&self.path)),
        }
    }
}

/// The worker: every job in queue order until the last sender is gone and
/// the queue is empty, then the file closed.
///
/// It naps between looks at an empty queue instead of blocking on it:
/// waking a blocked receiver is a system call for the thread that sends,
/// and a training loop logging every step would make one each step (with
/// gradscope's trainer at `--log-every 1`, about 5% of its time). Naps
/// start shorter than a training step and double while nothing comes, up
/// to [`LONGEST_NAP`]; `flush` and `close` wake the worker at once.
fn work(
    mut writer: RunFile,
    queue: &Receiver<Job>,
    failure: &Failure,
) -> Result<Option<Run>, WriteError> {
    let mut nap = FIRST_NAP;
    loop {
        match queue.try_recv() {
            Ok(job) => {
                nap = FIRST_NAP;
                if let Err(error) = job.run(&mut writer) {
                    failure.record(error);
                }
            }
            Err(TryRecvError::Empty) => {
                std::thread::park_timeout(nap);
                nap = (nap * 2).min(LONGEST_NAP);
            }
            Err(TryRecvError::Disconnected) => break,
        }
    }
    writer.close()
}

/// The worker's first nap on an empty queue, and its longest.
const FIRST_NAP: Duration = Duration::from_micros(25);
const LONGEST_NAP: Duration = Duration::from_millis(20);
