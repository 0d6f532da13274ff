//! Reading a logdir back: its runs, each run's tags, and each tag's points.
//!
//! A run is a directory that directly holds event files, named by its path
//! relative to the logdir (`.` for the logdir itself, `a/b` for nested
//! folders), as TensorBoard names them. An event file is any file whose name
//! contains `tfevents` ([`is_event_file`], TensorBoard's rule). A run's files
//! are read in name order, numbers compared by value (`.9` before `.10`),
//! which for every common writer is creation order.
//!
//! Files from any writer are understood: scalars arrive as `simple_value`
//! (TF1, tensorboardX, this crate) or as a one-element tensor with plugin
//! `scalars` (TF2, torch's `new_style`); a tag's plugin metadata may come
//! only with its first value (TF2's writer may send it once), so a tag keeps
//! the [`Kind`] its first value gave it. Histogram buckets are skipped, not
//! decoded: a histogram's points say when it was written, not what it held.
//!
//! Damaged files do not stop loading. Records are CRC-checked by
//! [`EventReader`](crate::EventReader); a file cut short mid-record (a
//! writer that died) loads up to the cut as [`FileStatus::Truncated`], and
//! a file with a bad record keeps the events before it, as
//! [`FileStatus::Failed`]. Only a path that cannot be listed is a
//! [`LoadError`].
//!
//! A logdir may be in object storage (`s3://bucket/prefix`, with the
//! `object-store` feature; see [`crate::storage`]): the prefix is listed
//! once, every object under it at any depth, runs are the "folders" that
//! hold event objects, and each object is read whole. Without the feature
//! a URL is refused with an error that says to build with it.
//!
//! ```
//! use gradscope_tensorboard::logdir::{FileStatus, Kind, Logdir};
//! use gradscope_tensorboard::SummaryWriter;
//!
//! let logdir = tempfile::tempdir()?;
//! for (run, scale) in [("relu", 1.0), ("tanh", 3.0)] {
//!     let writer = SummaryWriter::new(logdir.path().join(run))?;
//!     let mut loss: f64 = scale;
//!     for step in 0..5 {
//!         writer.add_scalar("loss", loss, step)?;
//!         loss /= 2.0;
//!     }
//!     writer.add_histogram("weights", &[0.1f32, -0.2, 0.3], 4)?;
//!     writer.close()?;
//! }
//!
//! let logdir = Logdir::load_dir(logdir.path())?;
//! let names: Vec<&str> = logdir.runs.iter().map(|r| r.name.as_str()).collect();
//! assert_eq!(names, ["relu", "tanh"]);
//!
//! let run = logdir.run("tanh").expect("written above");
//! assert_eq!(run.files[0].status, FileStatus::Complete);
//! for (name, tag) in &run.tags {
//!     println!("{name}: {} points of {}", tag.points.len(), tag.kind);
//! }
//! assert_eq!(run.tags["loss"].kind, Kind::Scalar);
//! assert_eq!(run.tags["weights"].kind, Kind::Histogram);
//! assert_eq!(run.tags["weights"].points.len(), 1);
//!
//! // Each point has its step, wall time and (for scalars) value.
//! let last = run.tags["loss"].points[4];
//! assert_eq!((last.step, last.value), (4, Some(3.0 / 16.0)));
//! assert!(last.wall_time > 0.0);
//! // Or a scalar tag's values by step, the one written last at each step.
//! assert_eq!(run.scalars("loss")[..2], [(0, 3.0), (1, 1.5)]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::storage;

mod error;
mod run;
mod view;

pub use error::LoadError;
pub use run::{EventFile, FileStatus, Kind, Point, Run, Tag};

/// Every run found under one path.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Logdir {
    /// The path it was loaded from (a directory or one event file).
    pub root: PathBuf,
    /// Sorted by name.
    pub runs: Vec<Run>,
}

impl Logdir {
    /// Loads every run under `path`, a logdir or a single event file (then
    /// the one run `.`). A directory without event files gives no runs (see
    /// [`Logdir::require_runs`]).
    ///
    /// Fails only when `path` cannot be read or listed; event files that
    /// cannot be read are recorded in their run's [`Run::files`].
    pub fn load(path: impl AsRef<Path>) -> Result<Logdir, LoadError> {
        Logdir::load_with(path.as_ref(), Vec::new())
    }

    /// Like [`Logdir::load`], but `path` must be a directory holding at
    /// least one event file.
    pub fn load_dir(path: impl AsRef<Path>) -> Result<Logdir, LoadError> {
        Logdir::load_dir_with(path, Vec::new())
    }

    /// Like [`Logdir::load_dir`], but each run of `loaded` whose folder
    /// holds exactly the files it names (same paths, same order) is taken
    /// as it is instead of read again: runs a program recorded while
    /// writing them ([`Run::add_event`]), or kept from an earlier load. In
    /// object storage a file is named by its first object
    /// ([`EventWriter::path`](crate::EventWriter::path)) and stands for
    /// the series of objects it was written as.
    pub fn load_dir_with(path: impl AsRef<Path>, loaded: Vec<Run>) -> Result<Logdir, LoadError> {
        let path = path.as_ref();
        let groups = match find_event_files(path)? {
            Found::Directory(groups) => groups,
            Found::File => {
                return Err(LoadError::NotADirectory {
                    path: path.to_path_buf(),
                })
            }
        };
        let logdir = Logdir {
            root: path.to_path_buf(),
            runs: load_runs(groups, loaded),
        };
        logdir.require_runs()?;
        Ok(logdir)
    }

    fn load_with(path: &Path, loaded: Vec<Run>) -> Result<Logdir, LoadError> {
        let groups = match find_event_files(path)? {
            Found::Directory(groups) => groups,
            Found::File => BTreeMap::from([(".".into(), vec![path.to_path_buf()])]),
        };
        Ok(Logdir {
            root: path.to_path_buf(),
            runs: load_runs(groups, loaded),
        })
    }

    /// [`LoadError::NoEventFiles`] unless some event file was found.
    pub fn require_runs(&self) -> Result<(), LoadError> {
        if self.runs.is_empty() {
            return Err(LoadError::NoEventFiles {
                path: self.root.clone(),
            });
        }
        Ok(())
    }

    /// The run called `name` (relative to the logdir, `/`-separated).
    pub fn run(&self, name: &str) -> Option<&Run> {
        // Sorted by name, see `load_runs`.
        let i = self.runs.binary_search_by(|r| r.name.as_str().cmp(name));
        i.ok().map(|i| &self.runs[i])
    }

    /// Every file that was cut short or could not be read.
    pub fn damaged_files(&self) -> impl Iterator<Item = &EventFile> {
        self.runs
            .iter()
            .flat_map(|r| &r.files)
            .filter(|f| f.status != FileStatus::Complete)
    }

    /// How many files could not be read to their end (truncated files
    /// excepted).
    pub fn failed_files(&self) -> usize {
        self.damaged_files()
            .filter(|f| matches!(f.status, FileStatus::Failed { .. }))
            .count()
    }
}

/// Whether `path` names an event file by TensorBoard's rule: `tfevents` in
/// its file name.
///
/// ```
/// use std::path::Path;
/// use gradscope_tensorboard::logdir::is_event_file;
///
/// assert!(is_event_file(Path::new("run/events.out.tfevents.1700000000.host")));
/// assert!(!is_event_file(Path::new("tfevents/notes.txt")));
/// ```
pub fn is_event_file(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().contains("tfevents"))
}

/// What a path given to load is.
enum Found {
    /// A directory (an object-storage prefix): its event files by run name.
    Directory(BTreeMap<String, Vec<PathBuf>>),
    /// One file (object).
    File,
}

/// What `path` is, with the event files of a directory grouped by run; a
/// missing path is [`LoadError::NotFound`].
fn find_event_files(path: &Path) -> Result<Found, LoadError> {
    let io = |e| LoadError::io(path, e);
    let mut groups: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    if !storage::is_url(path) {
        if !std::fs::metadata(path).map_err(io)?.is_dir() {
            return Ok(Found::File);
        }
        collect_event_files(path, path, &mut groups)?;
        return Ok(Found::Directory(groups));
    }
    // One listing of the whole prefix: an object store has no folders to
    // walk, and a request per run would multiply the cost.
    let files = storage::list_files(path).map_err(io)?;
    if files.is_empty() {
        // Nothing under the prefix: one object, or nothing at all.
        return match storage::is_file(path).map_err(io)? {
            true => Ok(Found::File),
            false => Err(LoadError::NotFound {
                path: path.to_path_buf(),
            }),
        };
    }
    for file in files.into_iter().filter(|f| is_event_file(f)) {
        let dir = file.parent().unwrap_or(path);
        groups.entry(run_name(path, dir)).or_default().push(file);
    }
    Ok(Found::Directory(groups))
}

/// Walks `dir`, grouping event files by the directory that holds them.
/// Symlinked directories are not followed (a link cycle would never end).
fn collect_event_files(
    root: &Path,
    dir: &Path,
    groups: &mut BTreeMap<String, Vec<PathBuf>>,
) -> Result<(), LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|e| LoadError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| LoadError::io(dir, e))?;
        let path = entry.path();
        let file_type = entry.file_type().map_err(|e| LoadError::io(&path, e))?;
        if file_type.is_dir() {
            collect_event_files(root, &path, groups)?;
        } else if is_event_file(&path) && path.is_file() {
            groups.entry(run_name(root, dir)).or_default().push(path);
        }
    }
    Ok(())
}

fn run_name(root: &Path, dir: &Path) -> String {
    let relative = dir.strip_prefix(root).unwrap_or(dir);
    let parts: Vec<_> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect();
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

/// Orders paths by name, except that runs of digits compare by their value:
/// writers number their files (`<secs>.<host>.<pid>.<n>`), and a file `.10`
/// written after `.9` must be read after it for its values to win.
fn by_name_and_number(a: &Path, b: &Path) -> Ordering {
    let (a, b) = (
        a.as_os_str().as_encoded_bytes(),
        b.as_os_str().as_encoded_bytes(),
    );
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].is_ascii_digit() && b[j].is_ascii_digit() {
            let (x, next_i) = digits(a, i);
            let (y, next_j) = digits(b, j);
            // Without leading zeros, a longer number is larger; equal
            // lengths compare digit by digit.
            let order = (x.len().cmp(&y.len())).then_with(|| x.cmp(y));
            if order != Ordering::Equal {
                return order;
            }
            (i, j) = (next_i, next_j);
        } else if a[i] != b[j] {
            return a[i].cmp(&b[j]);
        } else {
            (i, j) = (i + 1, j + 1);
        }
    }
    // One is a prefix of the other by value (or equal): the shorter first,
    // then plain bytes, so that `.01` and `.1` still have an order.
    (a.len() - i).cmp(&(b.len() - j)).then_with(|| a.cmp(b))
}

/// The digits of the number starting at `start`, leading zeros left out,
/// and where the number ends.
fn digits(s: &[u8], start: usize) -> (&[u8], usize) {
    let end = s[start..]
        .iter()
        .position(|c| !c.is_ascii_digit())
        .map_or(s.len(), |n| start + n);
    let first = s[start..end]
        .iter()
        .position(|&c| c != b'0')
        .map_or(end, |n| start + n);
    (&s[first..end], end)
}

/// Every run in name order: those of `loaded` that match a group (same
/// name, same files) as they are, the others read from their files.
fn load_runs(groups: BTreeMap<String, Vec<PathBuf>>, mut loaded: Vec<Run>) -> Vec<Run> {
    let mut runs: Vec<Option<Run>> = Vec::with_capacity(groups.len());
    let mut to_read = Vec::new();
    for (name, mut files) in groups {
        files.sort_by(|a, b| by_name_and_number(a, b));
        let same = |run: &Run| run.name == name && same_files(&run.files, &files);
        match loaded.iter().position(same) {
            Some(i) => runs.push(Some(loaded.swap_remove(i))),
            None => {
                to_read.push((runs.len(), name, files));
                runs.push(None);
            }
        }
    }
    for (i, run) in read_in_parallel(to_read) {
        runs[i] = Some(run);
    }
    runs.into_iter().flatten().collect()
}

/// Whether the `listed` files are those `recorded`, in the same order. An
/// event file written to object storage is a series of objects, recorded
/// by its first: it stands for its later parts too.
fn same_files(recorded: &[EventFile], listed: &[PathBuf]) -> bool {
    let mut listed = listed.iter().peekable();
    for file in recorded {
        if listed.next() != Some(&file.path) {
            return false;
        }
        while listed
            .next_if(|p| storage::is_later_part(&file.path, p))
            .is_some()
        {}
    }
    listed.next().is_none()
}

/// Reads each `(slot, name, files)` with a thread per core taking runs in
/// turn: reading is mostly CRC-checking and decoding, and a logdir written
/// at every step holds about 50 MB per run.
fn read_in_parallel(groups: Vec<(usize, String, Vec<PathBuf>)>) -> Vec<(usize, Run)> {
    use std::sync::atomic::{AtomicUsize, Ordering};

    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(groups.len());
    if threads <= 1 {
        return groups
            .into_iter()
            .map(|(slot, name, files)| (slot, read_run(name, &files)))
            .collect();
    }
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    while let Some((slot, name, files)) =
                        groups.get(next.fetch_add(1, Ordering::Relaxed))
                    {
                        mine.push((*slot, read_run(name.clone(), files)));
                    }
                    mine
                })
            })
            .collect();
        workers
            .into_iter()
            // Reading does not panic; if it ever did, the panic goes on
            // as it was rather than as a second one.
            .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

fn read_run(name: String, paths: &[PathBuf]) -> Run {
    let mut run = Run::new(name);
    for path in paths {
        run.read_file(path);
    }
    run
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::{scalar, summary_event};
    use crate::EventWriter;

    fn write_run(dir: &Path, step: i64, value: f32) -> PathBuf {
        let mut w = EventWriter::create(dir).unwrap();
        w.write_event(&summary_event(step, 0.0, vec![scalar("x", value)]))
            .unwrap();
        let path = w.path().to_path_buf();
        w.close().unwrap();
        path
    }

    #[test]
    fn runs_are_directories_named_like_tensorboard() {
        let dir = tempfile::tempdir().unwrap();
        for run in ["", "a", "a/b/c"] {
            write_run(&dir.path().join(run), 1, 1.0);
        }
        std::fs::write(dir.path().join("a/notes.txt"), b"not an event file").unwrap();
        std::fs::create_dir_all(dir.path().join("empty")).unwrap();
        let logdir = Logdir::load(dir.path()).unwrap();
        let names: Vec<_> = logdir.runs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, [".", "a", "a/b/c"]);
        assert!(logdir.runs.iter().all(|r| r.files.len() == 1));
        assert_eq!(logdir.run("a/b/c").unwrap().scalars("x"), [(1, 1.0)]);
        assert!(logdir.run("a/b").is_none());
    }

    #[test]
    fn one_event_file_is_the_run_dot() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_run(dir.path(), 3, 2.0);
        let logdir = Logdir::load(&path).unwrap();
        assert_eq!(logdir.root, path);
        assert_eq!(logdir.runs.len(), 1);
        assert_eq!(logdir.runs[0].name, ".");
        assert_eq!(logdir.runs[0].last_scalar("x"), Some(2.0));
        let err = Logdir::load_dir(&path).unwrap_err();
        assert!(matches!(err, LoadError::NotADirectory { .. }), "{err}");
        assert!(err.to_string().contains("is not a directory"), "{err}");
    }

    /// A run given as loaded is taken as it is only where its folder holds
    /// exactly its files; a folder with another file beside it is read.
    #[test]
    fn loaded_runs_stand_in_for_their_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut loaded = Vec::new();
        for name in ["a", "b", "c"] {
            let event = summary_event(1, 0.0, vec![scalar("x", 1.0)]);
            let mut w = EventWriter::create(&dir.path().join(name)).unwrap();
            w.write_event(&event).unwrap();
            let mut run = Run::new(name);
            run.add_event(&event);
            run.files
                .push(EventFile::new(w.path(), w.events(), FileStatus::Complete));
            w.close().unwrap();
            // Marked, to tell a run taken as given from one read back.
            run.other_events.insert("marked", 1);
            loaded.push(run);
        }
        // "b" gets a second file; "c"'s run names another run.
        write_run(&dir.path().join("b"), 2, 2.0);
        loaded[2].name = "d".into();

        let logdir = Logdir::load_dir_with(dir.path(), loaded).unwrap();
        let marked: Vec<bool> = logdir
            .runs
            .iter()
            .map(|r| r.other_events.contains_key("marked"))
            .collect();
        assert_eq!(marked, [true, false, false]);
        assert_eq!(logdir.runs[1].files.len(), 2);
        assert_eq!(logdir.runs[1].scalars("x"), [(1, 1.0), (2, 2.0)]);
    }

    #[test]
    fn damaged_files_are_listed_and_failures_counted() {
        let dir = tempfile::tempdir().unwrap();
        let good = write_run(&dir.path().join("good"), 1, 1.0);
        let cut = write_run(&dir.path().join("cut"), 1, 1.0);
        let bytes = std::fs::read(&cut).unwrap();
        std::fs::write(&cut, &bytes[..bytes.len() - 1]).unwrap();
        let bad = dir.path().join("bad/events.out.tfevents.bad");
        std::fs::create_dir(dir.path().join("bad")).unwrap();
        std::fs::write(&bad, b"not a record").unwrap();

        let logdir = Logdir::load_dir(dir.path()).unwrap();
        let damaged: Vec<&Path> = logdir.damaged_files().map(|f| f.path.as_path()).collect();
        assert_eq!(damaged, [bad.as_path(), cut.as_path()]);
        assert_eq!(logdir.failed_files(), 1);
        assert_eq!(logdir.run("good").unwrap().files[0].path, good);
    }

    #[test]
    fn files_are_read_in_name_order_with_numbers_by_value() {
        let order = |names: &[&str]| {
            let mut paths: Vec<PathBuf> = names.iter().map(PathBuf::from).collect();
            paths.sort_by(|a, b| by_name_and_number(a, b));
            paths
                .into_iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
        };
        let names = [
            "e.7.h.1.10",
            "e.7.h.1.9",
            "e.10.h.1.0",
            "e.7.h.1.09x",
            "e.7.h.1",
        ];
        assert_eq!(
            order(&names),
            [
                "e.7.h.1",
                "e.7.h.1.9",
                "e.7.h.1.09x",
                "e.7.h.1.10",
                "e.10.h.1.0"
            ]
        );
        // Equal by value, the bytes decide, so the order is total.
        assert_eq!(order(&["a.1", "a.01", "a.001"]), ["a.001", "a.01", "a.1"]);

        // A rerun's file numbered past 9 is read after its first: its
        // value at a step both wrote wins.
        let dir = tempfile::tempdir().unwrap();
        for (n, value) in [(9, 1.0), (10, 2.0)] {
            let path = dir.path().join(format!("events.out.tfevents.7.h.1.{n}"));
            let mut bytes = Vec::new();
            let event = summary_event(5, 0.0, vec![scalar("x", value)]);
            crate::append_record(&mut bytes, &prost::Message::encode_to_vec(&event));
            std::fs::write(path, bytes).unwrap();
        }
        let logdir = Logdir::load(dir.path()).unwrap();
        assert_eq!(logdir.runs[0].scalars("x"), [(5, 2.0)]);
    }

    #[test]
    fn a_missing_path_is_an_error_naming_it() {
        let err = Logdir::load("/no/such/logdir").unwrap_err();
        assert!(matches!(err, LoadError::NotFound { .. }), "{err}");
        assert_eq!(err.path(), Path::new("/no/such/logdir"));
        assert!(err.to_string().contains("/no/such/logdir"), "{err}");
        let err = Logdir::load_dir("/no/such/logdir").unwrap_err();
        assert!(err.to_string().contains("no such directory"), "{err}");
    }

    #[test]
    fn a_folder_without_event_files_has_no_runs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"hello").unwrap();
        assert!(Logdir::load(dir.path()).unwrap().runs.is_empty());
        let err = Logdir::load_dir(dir.path()).unwrap_err();
        assert!(matches!(err, LoadError::NoEventFiles { .. }), "{err}");
        assert!(err.to_string().contains("no event files found"), "{err}");
    }
}
