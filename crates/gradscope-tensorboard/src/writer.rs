//! [`EventWriter`]: the file side of summaries (naming, framing, buffering,
//! flushing). It writes whatever `Event`s it is given; the builders in
//! [`crate::summary`] make them.
//!
//! Durability: records are buffered in memory and a background thread hands
//! them to the OS at least once per [`FLUSH_INTERVAL`], so a process killed
//! with SIGKILL loses at most that much. A file is opened create-new, so an
//! existing event file is never truncated.
//!
//! In object storage (a URL `dir`, with the `object-store` feature; see
//! [`crate::storage`]) objects cannot be appended to, so each flush writes
//! the records buffered since the last one as a new object, a complete
//! TFRecord stream, in one PUT: `<name>.<part>` with the part numbered in
//! name order, which TensorBoard reads as one run. An object is visible
//! whole or not at all; a crash loses what was buffered, at most the last
//! flush interval, as on disk. The flush runs outside the lock that
//! [`EventWriter::write_event`] takes, so writing does not wait on the
//! network.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use prost::Message;

use crate::error::WriteError;
use crate::proto::Event;
use crate::record::append_record;
use crate::storage::{self, ObjectSeries};
use crate::summary::{file_version_event, wall_time_now};

/// The longest buffered records wait before reaching the OS, unless
/// [`FileOptions::flush_interval`] says otherwise.
pub const FLUSH_INTERVAL: Duration = Duration::from_secs(1);

/// The shortest flush interval a writer uses: a zero interval would keep the
/// flusher thread spinning.
const MIN_FLUSH_INTERVAL: Duration = Duration::from_millis(1);

/// How an [`EventWriter`] names and flushes its file. The default is what
/// [`EventWriter::create`] uses.
///
/// Built from [`FileOptions::new`] (or `default()`) with one method per
/// option; the fields can be read and set too. It is `#[non_exhaustive]`,
/// so that a later option breaks no one: a struct literal does not compile
/// outside this crate.
///
/// ```
/// use std::time::Duration;
/// use gradscope_tensorboard::{EventWriter, FileOptions};
///
/// let dir = tempfile::tempdir()?;
/// let options = FileOptions::new()
///     .flush_interval(Duration::from_millis(200))
///     .filename_suffix(".train")
///     .max_queue(100);
/// assert_eq!(options.max_queue, 100);
/// let writer = EventWriter::create_with(dir.path(), &options)?;
/// assert!(writer.path().to_str().unwrap().ends_with(".train"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FileOptions {
    /// The longest buffered records wait before the background thread hands
    /// them to the OS ([`FLUSH_INTERVAL`] by default; at least 1 ms is used).
    pub flush_interval: Duration,
    /// Appended to the file name `events.out.tfevents.<secs>.<host>.<pid>.<n>`
    /// (empty by default). TensorBoard reads any file whose name contains
    /// `tfevents`.
    pub filename_suffix: String,
    /// Events buffered in memory before they are handed to the OS without
    /// waiting for the timer (unbounded by default; 1 MiB of records always
    /// triggers it).
    pub max_queue: usize,
}

impl Default for FileOptions {
    fn default() -> FileOptions {
        FileOptions {
            flush_interval: FLUSH_INTERVAL,
            filename_suffix: String::new(),
            max_queue: usize::MAX,
        }
    }
}

impl FileOptions {
    /// The defaults: [`FLUSH_INTERVAL`], no file-name suffix, an unbounded
    /// queue.
    pub fn new() -> FileOptions {
        FileOptions::default()
    }

    /// Sets [`flush_interval`](FileOptions#structfield.flush_interval): the
    /// longest buffered records wait before reaching the OS.
    pub fn flush_interval(mut self, interval: Duration) -> FileOptions {
        self.flush_interval = interval;
        self
    }

    /// Sets [`filename_suffix`](FileOptions#structfield.filename_suffix),
    /// appended to the event file's name.
    pub fn filename_suffix(mut self, suffix: impl Into<String>) -> FileOptions {
        self.filename_suffix = suffix.into();
        self
    }

    /// Sets [`max_queue`](FileOptions#structfield.max_queue): events
    /// buffered before they are handed to the OS without waiting for the
    /// timer.
    pub fn max_queue(mut self, events: usize) -> FileOptions {
        self.max_queue = events;
        self
    }
}

/// Buffered bytes that trigger an immediate flush.
const FLUSH_BYTES: usize = 1 << 20;

/// Buffered bytes that trigger an immediate flush to object storage, where
/// each flush is a request and an object (a charge, and an entry in every
/// listing of the run): larger than a file's.
const OBJECT_FLUSH_BYTES: usize = 8 << 20;

/// Bytes handed to the OS after which the flusher thread syncs them to
/// disk in the background. `close` syncs the file, and with `--log-every 1`
/// (about 20 KB an event) it found tens of MB still waiting for the disk:
/// 25 ms per run here. Synced along the way, the last few MB are left.
const SYNC_BYTES: usize = 8 << 20;

struct State {
    /// The event file; `None` when the records go to object storage
    /// ([`Shared::objects`]).
    file: Option<File>,
    pending: Vec<u8>,
    /// Events in `pending`.
    pending_events: usize,
    /// Bytes written to `file` since it was last synced.
    unsynced: usize,
    /// The first write failure, kept for good: after one, nothing more is
    /// written, so the file stays a run of whole records (plus at most one
    /// cut-short record, which readers report as a truncated tail) instead
    /// of gaining records after a gap.
    failed: Option<Failure>,
    closed: bool,
}

/// A write failure, kept so every later call can report it again.
#[derive(Clone)]
struct Failure {
    kind: io::ErrorKind,
    message: String,
}

impl Failure {
    fn error(&self) -> io::Error {
        io::Error::new(self.kind, self.message.clone())
    }
}

impl State {
    /// Writes the pending records to the file: only [`Shared::flush`]
    /// calls it, which sends them to object storage instead when there is
    /// no file.
    fn flush_to_file(&mut self) -> io::Result<()> {
        if let Some(failure) = &self.failed {
            return Err(failure.error());
        }
        let Some(file) = &mut self.file else {
            return Ok(());
        };
        if !self.pending.is_empty() {
            let result = file.write_all(&self.pending);
            self.unsynced += self.pending.len();
            self.pending.clear();
            self.pending_events = 0;
            if let Err(e) = result {
                self.fail(&e);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Keeps the first failure: nothing is written after it.
    fn fail(&mut self, e: &io::Error) {
        self.failed.get_or_insert(Failure {
            kind: e.kind(),
            message: e.to_string(),
        });
    }

    fn sync(&mut self) -> io::Result<()> {
        match &self.file {
            Some(file) => file.sync_data(),
            // An object is durable once its PUT returns.
            None => Ok(()),
        }
    }
}

struct Shared {
    state: Mutex<State>,
    /// The objects the records go to instead of a file. Locked before
    /// `state` and held through an upload, so that parts are written one at
    /// a time in order, while `write_event` only waits for `state`.
    objects: Option<Mutex<ObjectSeries>>,
    wake: Condvar,
    flush_interval: Duration,
    /// Buffered bytes that trigger a flush without waiting for the timer.
    flush_bytes: usize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave `State` inconsistent in
        // a way that matters more than losing the data, so keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hands the pending records on: to the file, or as the next object.
    /// Called without `state` locked.
    fn flush(&self) -> io::Result<()> {
        let Some(objects) = &self.objects else {
            return self.lock().flush_to_file();
        };
        let mut series = objects.lock().unwrap_or_else(|e| e.into_inner());
        let records = {
            let mut state = self.lock();
            if let Some(failure) = &state.failed {
                return Err(failure.error());
            }
            state.pending_events = 0;
            std::mem::take(&mut state.pending)
        };
        if records.is_empty() {
            return Ok(());
        }
        let result = series.put(records);
        if let Err(e) = &result {
            self.lock().fail(e);
        }
        result
    }
}

/// Writes one TensorBoard event file.
pub struct EventWriter {
    path: PathBuf,
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
    /// Reused for encoding, so writing an event allocates nothing in steady state.
    encoded: Vec<u8>,
    /// Events appended so far, the file-version event included.
    events: usize,
    max_queue: usize,
}

impl EventWriter {
    /// Creates a new event file in `dir` (creating `dir` if needed) and
    /// writes the file-version event.
    pub fn create(dir: &Path) -> Result<EventWriter, WriteError> {
        EventWriter::create_with(dir, &FileOptions::default())
    }

    /// As [`create`](EventWriter::create), with the file's name suffix and
    /// flushing set by `options`.
    ///
    /// `dir` may be an object-storage URL (`s3://bucket/prefix/run`, ...;
    /// see [`crate::storage`]), with the `object-store` feature: the bucket
    /// is checked here (one listing, the first time the process reaches
    /// it), so a missing bucket, refused credentials or an unreachable
    /// endpoint are an error here, naming the URL. Without the feature a
    /// URL is refused, saying so.
    ///
    /// ```no_run
    /// // With `--features object-store`, and AWS_ACCESS_KEY_ID,
    /// // AWS_SECRET_ACCESS_KEY (and AWS_ENDPOINT_URL for a store other
    /// // than AWS) in the environment.
    /// use std::path::Path;
    /// use gradscope_tensorboard::EventWriter;
    ///
    /// let writer = EventWriter::create(Path::new("s3://my-bucket/exp/run-1"))?;
    /// println!("first object: {}", writer.path().display());
    /// writer.close()?;
    /// # Ok::<(), gradscope_tensorboard::WriteError>(())
    /// ```
    pub fn create_with(dir: &Path, options: &FileOptions) -> Result<EventWriter, WriteError> {
        let suffix = &options.filename_suffix;
        let stem = format!(
            "{}.{}",
            event_file_stem(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        if let Some(series) = storage::object_series(dir, &stem, suffix) {
            let (path, series) = series.map_err(|source| WriteError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })?;
            return EventWriter::start(path, None, Some(series), options);
        }
        std::fs::create_dir_all(dir).map_err(|source| WriteError::CreateDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let (path, file) = create_new_event_file(dir, suffix)?;
        EventWriter::from_file(path, file, options)
    }

    /// Starts writing the new, empty `file` at `path`.
    pub(crate) fn from_file(
        path: PathBuf,
        file: File,
        options: &FileOptions,
    ) -> Result<EventWriter, WriteError> {
        EventWriter::start(path, Some(file), None, options)
    }

    /// Starts writing to `file`, or else to `objects`.
    fn start(
        path: PathBuf,
        file: Option<File>,
        objects: Option<ObjectSeries>,
        options: &FileOptions,
    ) -> Result<EventWriter, WriteError> {
        let flush_bytes = match objects {
            Some(_) => OBJECT_FLUSH_BYTES,
            None => FLUSH_BYTES,
        };
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                file,
                pending: Vec::with_capacity(64 * 1024),
                pending_events: 0,
                unsynced: 0,
                failed: None,
                closed: false,
            }),
            objects: objects.map(Mutex::new),
            wake: Condvar::new(),
            flush_interval: options.flush_interval.max(MIN_FLUSH_INTERVAL),
            flush_bytes,
        });
        let flusher = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("event-flusher".into())
                .spawn(move || flush_periodically(&shared))
                .map_err(|source| WriteError::Io {
                    path: path.clone(),
                    source,
                })?
        };
        let mut writer = EventWriter {
            path,
            shared,
            flusher: Some(flusher),
            encoded: Vec::with_capacity(64 * 1024),
            events: 0,
            max_queue: options.max_queue.max(1),
        };
        writer.write_event(&file_version_event(wall_time_now()))?;
        Ok(writer)
    }

    /// The file this writer writes; in object storage, the URL of its first
    /// object (the others are named like it, with the next part numbers).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How many events this writer has appended, the file-version event
    /// that starts every file included: the count a reader finds.
    pub fn events(&self) -> usize {
        self.events
    }

    /// Appends one event. It reaches the OS (the store) within the flush
    /// interval ([`FLUSH_INTERVAL`] unless [`FileOptions`] set another).
    pub fn write_event(&mut self, event: &Event) -> Result<(), WriteError> {
        self.encoded.clear();
        event
            .encode(&mut self.encoded)
            .expect("a Vec<u8> grows to fit any message");
        let mut state = self.shared.lock();
        if let Some(failure) = &state.failed {
            // The background flusher's failure reaches the caller here.
            return Err(self.error(failure.error()));
        }
        append_record(&mut state.pending, &self.encoded);
        state.pending_events += 1;
        self.events += 1;
        let full = state.pending.len() >= self.shared.flush_bytes
            || state.pending_events >= self.max_queue;
        drop(state);
        if full {
            self.shared.flush().map_err(|e| self.error(e))?;
            if self.shared.lock().unsynced >= SYNC_BYTES {
                self.shared.wake.notify_one();
            }
        }
        Ok(())
    }

    /// Hands every buffered record to the OS (the store) now.
    pub fn flush(&mut self) -> Result<(), WriteError> {
        let result = self.shared.flush();
        result.map_err(|e| self.error(e))
    }

    /// Flushes, syncs the file to disk and stops the background flusher.
    pub fn close(mut self) -> Result<(), WriteError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), WriteError> {
        let Some(flusher) = self.flusher.take() else {
            return Ok(());
        };
        self.shared.lock().closed = true;
        let result = (self.shared.flush()).and_then(|()| self.shared.lock().sync());
        self.shared.wake.notify_all();
        let _ = flusher.join();
        result.map_err(|e| self.error(e))
    }

    fn error(&self, source: io::Error) -> WriteError {
        WriteError::Io {
            path: self.path.clone(),
            source,
        }
    }
}

impl Drop for EventWriter {
    fn drop(&mut self) {
        // Errors here have nobody to go to; `close` is the way to see them.
        let _ = self.shutdown();
    }
}

/// The flusher thread: hands buffered records to the OS every
/// [`FLUSH_INTERVAL`], and syncs what was written once [`SYNC_BYTES`] have
/// piled up, without holding the lock while the disk works.
fn flush_periodically(shared: &Shared) {
    let mut state = shared.lock();
    loop {
        // `close` may have run before this thread first took the lock, or
        // while it synced without it: its wake-up found nobody waiting, so
        // look before waiting.
        if state.closed {
            return;
        }
        state = shared
            .wake
            .wait_timeout(state, shared.flush_interval)
            .unwrap_or_else(|e| e.into_inner())
            .0;
        if state.closed {
            return;
        }
        // A failure is kept in `state.failed` for the next caller to see.
        drop(state);
        let _ = shared.flush();
        state = shared.lock();
        if state.unsynced >= SYNC_BYTES && state.failed.is_none() {
            let Some(Ok(file)) = state.file.as_ref().map(File::try_clone) else {
                continue; // out of file descriptors: `close` still syncs
            };
            state.unsynced = 0;
            drop(state);
            let synced = file.sync_data();
            state = shared.lock();
            if let Err(e) = synced {
                state.fail(&e);
            }
        }
    }
}

/// Numbers the event files of this process.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// `events.out.tfevents.<unix secs>.<hostname>.<pid>`: an event file's name
/// up to its number.
fn event_file_stem() -> String {
    let secs = wall_time_now() as u64;
    let host = gethostname::gethostname().to_string_lossy().into_owned();
    let pid = std::process::id();
    format!("events.out.tfevents.{secs}.{host}.{pid}")
}

/// `<stem>.<counter>`, opened create-new. The counter makes names unique
/// within a process; a clash with another process's file moves on to the
/// next counter.
fn create_new_event_file(dir: &Path, suffix: &str) -> Result<(PathBuf, File), WriteError> {
    create_new_numbered(dir, &event_file_stem(), suffix, &COUNTER)
}

/// Opens `dir/<stem>.<n><suffix>` create-new for the first `n` from
/// `counter` that is not taken. Never opens an existing file, so nothing is
/// truncated.
fn create_new_numbered(
    dir: &Path,
    stem: &str,
    suffix: &str,
    counter: &AtomicU64,
) -> Result<(PathBuf, File), WriteError> {
    loop {
        let n = counter.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("{stem}.{n}{suffix}"));
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(source) => return Err(WriteError::Io { path, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::read_events;
    use crate::summary::{scalar, summary_event};

    #[test]
    fn close_right_after_create_does_not_wait_for_the_timer() {
        // The flusher may not have started when `close` wakes it: it must
        // see `closed` before waiting, not sleep out its interval.
        let dir = tempfile::tempdir().unwrap();
        let options = FileOptions {
            flush_interval: Duration::from_secs(5),
            ..FileOptions::default()
        };
        for _ in 0..20 {
            let start = std::time::Instant::now();
            EventWriter::create_with(dir.path(), &options)
                .unwrap()
                .close()
                .unwrap();
            assert!(
                start.elapsed() < Duration::from_secs(2),
                "{:?}",
                start.elapsed()
            );
        }
    }

    #[test]
    fn writes_version_then_events_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = EventWriter::create(dir.path()).unwrap();
        w.write_event(&summary_event(5, 1.0, vec![scalar("loss", 2.0)]))
            .unwrap();
        let path = w.path().to_path_buf();
        w.close().unwrap();
        let read = read_events(&path).unwrap();
        assert_eq!(read.events.len(), 2);
        assert!(read.truncated_at.is_none());
        assert_eq!(read.events[1].step, 5);
    }

    #[test]
    fn two_writers_in_one_dir_never_share_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let a = EventWriter::create(dir.path()).unwrap();
        let b = EventWriter::create(dir.path()).unwrap();
        assert_ne!(a.path(), b.path());
        let name = a.path().file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with("events.out.tfevents."));
    }

    #[test]
    fn an_existing_file_is_kept_intact() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = EventWriter::create(dir.path()).unwrap();
        first
            .write_event(&summary_event(1, 1.0, vec![scalar("x", 1.0)]))
            .unwrap();
        let first_path = first.path().to_path_buf();
        first.close().unwrap();
        let before = std::fs::read(&first_path).unwrap();
        EventWriter::create(dir.path()).unwrap().close().unwrap();
        assert_eq!(std::fs::read(&first_path).unwrap(), before);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn background_flush_reaches_the_file_without_close() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = EventWriter::create(dir.path()).unwrap();
        w.write_event(&summary_event(7, 1.0, vec![scalar("x", 1.0)]))
            .unwrap();
        let path = w.path().to_path_buf();
        // Poll rather than sleep a fixed time: the bound is what matters.
        let deadline = std::time::Instant::now() + FLUSH_INTERVAL * 5;
        loop {
            if read_events(&path).map(|r| r.events.len()).unwrap_or(0) == 2 {
                break;
            }
            assert!(std::time::Instant::now() < deadline, "not flushed in time");
            std::thread::sleep(Duration::from_millis(50));
        }
        std::mem::forget(w); // as if the process died: no close, no drop
    }

    /// More than [`SYNC_BYTES`] of events: the flusher syncs along the way
    /// (outside the lock, while writes go on) and every event is there.
    #[test]
    fn events_past_the_sync_threshold_are_all_written() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = EventWriter::create(dir.path()).unwrap();
        let path = w.path().to_path_buf();
        let values: Vec<f32> = (0..7_840).map(|i| i as f32 * 1e-3 - 3.0).collect();
        let histogram = crate::summary::histogram("h", &values).0;
        let mut written = 0;
        let mut step = 0;
        while written < SYNC_BYTES * 3 / 2 {
            let event = summary_event(step, 1.0, vec![histogram.clone()]);
            written += event.encoded_len();
            w.write_event(&event).unwrap();
            step += 1;
        }
        w.close().unwrap();
        let read = read_events(&path).unwrap();
        assert_eq!(read.truncated_at, None);
        assert_eq!(read.events.len() as i64, step + 1);
        assert_eq!(read.events.last().unwrap().step, step - 1);
    }

    #[test]
    fn a_taken_name_is_skipped_not_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let taken = dir.path().join("events.out.tfevents.1.host.7.0");
        std::fs::write(&taken, b"another writer's records").unwrap();
        let counter = AtomicU64::new(0);
        let (path, _file) =
            create_new_numbered(dir.path(), "events.out.tfevents.1.host.7", "", &counter).unwrap();
        assert_eq!(path, dir.path().join("events.out.tfevents.1.host.7.1"));
        assert_eq!(std::fs::read(&taken).unwrap(), b"another writer's records");
    }

    /// A writer on `/dev/full`, where every write fails with ENOSPC: what a
    /// full disk does.
    fn writer_on_a_full_disk() -> EventWriter {
        let file = OpenOptions::new().write(true).open("/dev/full").unwrap();
        EventWriter::from_file(PathBuf::from("/dev/full"), file, &FileOptions::default()).unwrap()
    }

    #[test]
    fn a_full_disk_found_by_the_background_flusher_reaches_the_next_write() {
        let mut w = writer_on_a_full_disk();
        let event = summary_event(1, 1.0, vec![scalar("x", 1.0)]);
        // Poll: the flusher finds the failure within FLUSH_INTERVAL.
        let deadline = std::time::Instant::now() + FLUSH_INTERVAL * 5;
        let err = loop {
            if let Err(e) = w.write_event(&event) {
                break e;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "failure never surfaced"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let msg = err.to_string();
        assert!(
            msg.contains("/dev/full") && msg.contains("No space left"),
            "{msg}"
        );
        // It stays failed: later writes and close report it too.
        assert!(w.write_event(&event).is_err());
        assert!(w.close().unwrap_err().to_string().contains("No space left"));
    }

    #[test]
    fn a_full_disk_found_by_close_is_reported() {
        let w = writer_on_a_full_disk();
        let err = w.close().unwrap_err().to_string();
        assert!(
            err.contains("/dev/full") && err.contains("No space left"),
            "{err}"
        );
    }

    #[test]
    fn nothing_is_written_after_a_failure() {
        let mut w = writer_on_a_full_disk();
        assert!(w.flush().is_err());
        // Had the failure been forgotten, this record would follow a gap.
        let mut state = w.shared.lock();
        state.file = Some(tempfile::tempfile().unwrap());
        drop(state);
        assert!(w.write_event(&summary_event(1, 1.0, vec![])).is_err());
        assert!(w.flush().is_err());
        let state = w.shared.lock();
        assert_eq!(state.file.as_ref().unwrap().metadata().unwrap().len(), 0);
    }

    #[test]
    fn options_set_the_suffix_the_queue_and_the_interval() {
        let dir = tempfile::tempdir().unwrap();
        let options = FileOptions {
            flush_interval: Duration::from_secs(3600),
            filename_suffix: ".v2".into(),
            max_queue: 3,
        };
        let mut w = EventWriter::create_with(dir.path(), &options).unwrap();
        let path = w.path().to_path_buf();
        assert!(path.to_str().unwrap().ends_with(".v2"), "{path:?}");
        let count = || read_events(&path).unwrap().events.len();
        // The file-version event and one more wait in memory (the timer is
        // an hour away); the third event reaches the file at once.
        w.write_event(&summary_event(1, 1.0, vec![])).unwrap();
        assert_eq!(count(), 0);
        w.write_event(&summary_event(2, 1.0, vec![])).unwrap();
        assert_eq!(count(), 3);
        w.close().unwrap();
        // A short interval flushes within it.
        let options = FileOptions {
            flush_interval: Duration::from_millis(20),
            ..FileOptions::default()
        };
        let mut w = EventWriter::create_with(dir.path(), &options).unwrap();
        w.write_event(&summary_event(1, 1.0, vec![])).unwrap();
        let path = w.path().to_path_buf();
        let deadline = std::time::Instant::now() + Duration::from_millis(900);
        while read_events(&path).unwrap().events.len() < 2 {
            assert!(std::time::Instant::now() < deadline, "not flushed in time");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn an_uncreatable_directory_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("plain-file");
        std::fs::write(&file, b"x").unwrap();
        let err = EventWriter::create(&file.join("run")).err().unwrap();
        assert!(err.to_string().contains("plain-file"), "{err}");
    }
}
