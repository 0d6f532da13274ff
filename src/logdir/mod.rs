//! Finding the runs of a logdir and loading what their event files hold.
//!
//! The one place that turns event files into runs and tags; `inspect`,
//! `compare`, `plot` and REPORT.md all start from a [`Logdir`].
//!
//! A run is a directory that directly holds event files, named by its path
//! relative to the logdir (`.` for the logdir itself, `a/b` for nested
//! folders), as TensorBoard names them. An event file is any file whose name
//! contains `tfevents` (TensorBoard's rule). A run's files are read in name
//! order, which for every common writer is creation order.
//!
//! Files from any writer are understood: scalars arrive as `simple_value`
//! (TF1, tensorboardX, gradscope) or as a one-element tensor with plugin
//! `scalars` (TF2, torch's `new_style`); a tag's plugin metadata may come only
//! with its first value (TF2's writer may send it once), so a tag keeps the
//! kind its first value gave it. Records are CRC-checked by [`EventReader`];
//! a file it rejects is kept as a [`FileStatus::Failed`] and the other files
//! still load.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use gradscope_tensorboard::hparams::SESSION_END_INFO_TAG;
use gradscope_tensorboard::proto::hparams::{h_params_plugin_data, HParamsPluginData, Status};
use gradscope_tensorboard::proto::{DataType, TensorProto};
use gradscope_tensorboard::EventReader;

pub use event_view::EventView;
use event_view::{Value as ViewValue, ValueView, What};
pub use run_writer::RunWriter;

pub mod event_view;
pub mod run_writer;

/// Every run found under one path.
#[derive(Debug)]
pub struct Logdir {
    /// The path it was loaded from (a directory or one event file).
    pub root: PathBuf,
    /// Sorted by name.
    pub runs: Vec<Run>,
}

/// One run: a directory's event files, merged.
#[derive(Debug, PartialEq)]
pub struct Run {
    /// Relative to the logdir, `/`-separated; `.` for the logdir itself.
    pub name: String,
    pub files: Vec<EventFile>,
    pub tags: BTreeMap<String, Tag>,
    /// Events that carry no summary, by what they carry ("graph_def", ...),
    /// besides each file's leading `file_version`.
    pub other_events: BTreeMap<&'static str, usize>,
    /// The status of the last HParams session end the run's files hold:
    /// `None` for a run that never ended its session (killed, or still
    /// running, or from a writer without HParams).
    pub session_end: Option<Status>,
}

/// What reading one event file gave.
#[derive(Debug, PartialEq)]
pub struct EventFile {
    pub path: PathBuf,
    pub events: usize,
    pub status: FileStatus,
}

#[derive(Debug, Clone, PartialEq)]
pub enum FileStatus {
    Complete,
    /// The last record, starting at this byte offset, is cut short: what a
    /// writer leaves when it dies mid-write. The records before it loaded.
    Truncated {
        offset: u64,
    },
    /// The file could not be read (a CRC mismatch names its byte offset);
    /// none of its events loaded.
    Failed(String),
}

/// One tag of a run: what kind of data, and its points in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Tag {
    pub kind: Kind,
    pub points: Vec<Point>,
}

/// One value of a tag.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub step: i64,
    /// The number, for scalars (`None` for other kinds, or a scalar tensor
    /// of a type that holds no number).
    pub value: Option<f64>,
}

/// What a tag holds, as TensorBoard's dashboards group them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Scalar,
    Histogram,
    Text,
    Image,
    Audio,
    /// A tensor for some other plugin (hparams, pr_curves, ...).
    Plugin(String),
    /// A tensor without plugin metadata.
    Tensor,
    /// A value of a type gradscope's schema does not carry (TF1 image and
    /// audio summaries, old-style histograms).
    Other,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::Scalar => f.write_str("scalar"),
            Kind::Histogram => f.write_str("histogram"),
            Kind::Text => f.write_str("text"),
            Kind::Image => f.write_str("image"),
            Kind::Audio => f.write_str("audio"),
            Kind::Plugin(name) => write!(f, "tensor ({name})"),
            Kind::Tensor => f.write_str("tensor"),
            Kind::Other => f.write_str("other"),
        }
    }
}

impl Logdir {
    /// Loads every run under `path`, a logdir or a single event file.
    ///
    /// Fails only when `path` cannot be listed; unreadable event files are
    /// recorded in their run's [`EventFile::status`].
    pub fn load(path: &Path) -> Result<Logdir> {
        Logdir::load_with(path, Vec::new())
    }

    /// Like [`Logdir::load_dir`], but each run of `written` whose folder
    /// holds exactly the files it names is taken as it is instead of read
    /// back: the runs this process has just written (see
    /// [`run_writer`]).
    pub fn load_dir_with(path: &Path, written: Vec<Run>) -> Result<Logdir> {
        Logdir::require_dir(path)?;
        let logdir = Logdir::load_with(path, written)?;
        logdir.require_runs()?;
        Ok(logdir)
    }

    fn load_with(path: &Path, written: Vec<Run>) -> Result<Logdir> {
        let meta = std::fs::metadata(path)
            .with_context(|| format!("{}: cannot read it", path.display()))?;
        let mut groups: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
        if meta.is_dir() {
            collect_event_files(path, path, &mut groups)?;
        } else {
            groups.insert(".".into(), vec![path.to_path_buf()]);
        }
        let runs = load_runs(groups, written);
        Ok(Logdir {
            root: path.to_path_buf(),
            runs,
        })
    }

    /// Like [`Logdir::load`], but `path` must be a directory holding at
    /// least one run: what `compare` and `plot` need.
    pub fn load_dir(path: &Path) -> Result<Logdir> {
        Logdir::load_dir_with(path, Vec::new())
    }

    fn require_dir(path: &Path) -> Result<()> {
        if !path.is_dir() {
            if path.exists() {
                bail!("{} is not a directory: give a logdir", path.display());
            }
            bail!("{}: no such directory", path.display());
        }
        Ok(())
    }

    /// An error unless some event file was found.
    pub fn require_runs(&self) -> Result<()> {
        if self.runs.is_empty() {
            bail!(
                "{}: no event files found (TensorBoard's event files have `tfevents` in their name)",
                self.root.display()
            );
        }
        Ok(())
    }

    /// Every file that was cut short or could not be read.
    pub fn damaged_files(&self) -> impl Iterator<Item = &EventFile> {
        self.runs
            .iter()
            .flat_map(|r| &r.files)
            .filter(|f| f.status != FileStatus::Complete)
    }

    /// Files that could not be read at all.
    pub fn failed_files(&self) -> usize {
        self.damaged_files()
            .filter(|f| matches!(f.status, FileStatus::Failed(_)))
            .count()
    }
}

impl EventFile {
    /// A one-line warning or error for a damaged file; `None` when complete.
    pub fn problem(&self) -> Option<String> {
        let path = self.path.display();
        match &self.status {
            FileStatus::Complete => None,
            FileStatus::Truncated { offset } => Some(format!(
                "warning: {path}: the last record (at byte offset {offset}) is cut short, as a \
                 writer that stopped mid-record leaves it; read the {} events before it",
                self.events
            )),
            FileStatus::Failed(why) => Some(format!("error: {why}")),
        }
    }
}

impl Run {
    /// The tag's scalar values by step, sorted, one per step: where a step
    /// was written twice (a rerun adding a file beside the first), the one
    /// written last wins.
    pub fn scalars(&self, tag: &str) -> Vec<(i64, f64)> {
        let Some(tag) = self.tags.get(tag).filter(|t| t.kind == Kind::Scalar) else {
            return Vec::new();
        };
        let numbers = || tag.points.iter().filter_map(|p| Some((p.step, p.value?)));
        // The common case, steps written in increasing order, needs no map:
        // a `--log-every 1` run has thousands of points per tag.
        if numbers().zip(numbers().skip(1)).all(|(a, b)| a.0 < b.0) {
            return numbers().collect();
        }
        let by_step: BTreeMap<i64, f64> = numbers().collect();
        by_step.into_iter().collect()
    }

    /// Whether the run ended its HParams session with success: a finished
    /// training run. A run killed mid-way, stopped by a signal or diverged
    /// is not finished.
    pub fn finished(&self) -> bool {
        self.session_end == Some(Status::Success)
    }

    /// The tag's value at its highest step.
    pub fn last_scalar(&self, tag: &str) -> Option<f64> {
        self.scalars(tag).last().map(|&(_, v)| v)
    }
}

/// Walks `dir`, grouping event files by the directory that holds them.
/// Symlinked directories are not followed (a link cycle would never end).
fn collect_event_files(
    root: &Path,
    dir: &Path,
    groups: &mut BTreeMap<String, Vec<PathBuf>>,
) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("{}: cannot list it", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("{}: cannot list it", dir.display()))?;
        let path = entry.path();
        let file_type = entry
            .file_type()
            .with_context(|| format!("{}: cannot read it", path.display()))?;
        if file_type.is_dir() {
            collect_event_files(root, &path, groups)?;
        } else if is_event_file(&path) && path.is_file() {
            groups.entry(run_name(root, dir)).or_default().push(path);
        }
    }
    Ok(())
}

/// TensorBoard's rule: an event file has `tfevents` in its name.
pub fn is_event_file(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().contains("tfevents"))
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

/// Every run in name order: those of `written` that match a group (same
/// name, same files) as they are, the others loaded from their files.
fn load_runs(groups: BTreeMap<String, Vec<PathBuf>>, mut written: Vec<Run>) -> Vec<Run> {
    let mut runs: Vec<Option<Run>> = Vec::with_capacity(groups.len());
    let mut to_load = Vec::new();
    for (name, mut files) in groups {
        files.sort();
        let same = |run: &Run| run.name == name && run.files.iter().map(|f| &f.path).eq(&files);
        match written.iter().position(same) {
            Some(i) => runs.push(Some(written.swap_remove(i))),
            None => {
                to_load.push((runs.len(), name, files));
                runs.push(None);
            }
        }
    }
    for (i, run) in load_in_parallel(to_load) {
        runs[i] = Some(run);
    }
    runs.into_iter().flatten().collect()
}

/// Loads each `(slot, name, files)` with a thread per core taking runs in
/// turn: reading is mostly CRC-checking and decoding, and a `--log-every 1`
/// logdir holds about 50 MB per run.
fn load_in_parallel(groups: Vec<(usize, String, Vec<PathBuf>)>) -> Vec<(usize, Run)> {
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(groups.len());
    if threads <= 1 {
        return groups
            .into_iter()
            .map(|(slot, name, files)| (slot, load_run(name, &files)))
            .collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some((slot, name, files)) = groups.get(i) else {
                            return mine;
                        };
                        mine.push((*slot, load_run(name.clone(), files)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("loading a run does not panic"))
            .collect()
    })
}

fn load_run(name: String, paths: &[PathBuf]) -> Run {
    let mut run = Run::new(name);
    for path in paths {
        // Streamed, one event at a time: a logdir written with --log-every 1
        // holds hundreds of MB of histograms, which only need counting.
        // Histogram buckets are not decoded (EventView): the reports only
        // count histogram points.
        let file = match EventReader::open(path) {
            Ok(reader) => {
                let mut reader = reader.decoding::<EventView>();
                let (mut events, mut failure) = (0, None);
                for event in reader.by_ref() {
                    match event {
                        Ok((_offset, event)) => {
                            events += 1;
                            run.add_event(event);
                        }
                        Err(e) => {
                            failure = Some(e);
                            break;
                        }
                    }
                }
                EventFile {
                    path: path.clone(),
                    events,
                    status: match (failure, reader.truncated_at()) {
                        (Some(e), _) => FileStatus::Failed(e.to_string()),
                        (None, Some(offset)) => FileStatus::Truncated { offset },
                        (None, None) => FileStatus::Complete,
                    },
                }
            }
            Err(e) => EventFile {
                path: path.clone(),
                events: 0,
                status: FileStatus::Failed(e.to_string()),
            },
        };
        run.files.push(file);
    }
    run
}

impl Run {
    /// A run of that name with no files yet.
    pub fn new(name: impl Into<String>) -> Run {
        Run {
            name: name.into(),
            files: Vec::new(),
            tags: BTreeMap::new(),
            other_events: BTreeMap::new(),
            session_end: None,
        }
    }

    /// Adds the tags and points of the next event of the run's files.
    pub(crate) fn add_event(&mut self, event: EventView) {
        let values = match event.what {
            Some(What::Summary(s)) => s.value,
            Some(What::FileVersion(_)) => return,
            Some(What::GraphDef(_)) => return self.count_other("graph_def"),
            Some(What::MetaGraphDef(_)) => return self.count_other("meta_graph_def"),
            Some(What::SessionLog(_)) => return self.count_other("session_log"),
            // A field outside gradscope's schema (tagged_run_metadata, ...).
            None => return self.count_other("other"),
        };
        for mut value in values {
            // The first value decides: writers that send plugin metadata
            // only once send it with the first value.
            let name = std::mem::take(&mut value.tag);
            if name == SESSION_END_INFO_TAG {
                self.session_end = session_end_status(&value).or(self.session_end);
            }
            let tag = self.tags.entry(name).or_insert_with(|| Tag {
                kind: declared_kind(&value),
                points: Vec::new(),
            });
            let number = match (&tag.kind, &value.value) {
                (Kind::Scalar, Some(ViewValue::SimpleValue(v))) => Some(f64::from(*v)),
                (Kind::Scalar, Some(ViewValue::Tensor(t))) => tensor_scalar(t),
                _ => None,
            };
            tag.points.push(Point {
                step: event.step,
                value: number,
            });
        }
    }

    fn count_other(&mut self, what: &'static str) {
        *self.other_events.entry(what).or_default() += 1;
    }
}

/// The status a session-end record carries in its plugin data.
fn session_end_status(value: &ValueView) -> Option<Status> {
    use prost::Message;
    let content = &value.metadata.as_ref()?.plugin_data.as_ref()?.content;
    match HParamsPluginData::decode(&content[..]).ok()?.data? {
        h_params_plugin_data::Data::SessionEndInfo(end) => Status::try_from(end.status).ok(),
        _ => None,
    }
}

/// The kind a value declares by its plugin metadata or its own type.
fn declared_kind(value: &ValueView) -> Kind {
    use ViewValue as V;
    let plugin = value
        .metadata
        .as_ref()
        .and_then(|m| m.plugin_data.as_ref())
        .map(|p| p.plugin_name.as_str())
        .filter(|name| !name.is_empty());
    match (&value.value, plugin) {
        (Some(V::SimpleValue(_)), _) => Kind::Scalar,
        (Some(V::Histo(_)), _) => Kind::Histogram,
        (Some(V::Image(_)), _) => Kind::Image,
        (Some(V::Audio(_)), _) => Kind::Audio,
        (Some(V::ObsoleteOldStyleHistogram(_)), _) | (None, _) => Kind::Other,
        (Some(V::Tensor(_)), Some(plugin)) => match plugin {
            "scalars" => Kind::Scalar,
            "histograms" => Kind::Histogram,
            "text" => Kind::Text,
            "images" => Kind::Image,
            "audio" => Kind::Audio,
            other => Kind::Plugin(other.to_string()),
        },
        (Some(V::Tensor(_)), None) => Kind::Tensor,
    }
}

/// The number in a one-element numeric tensor, from its typed field or its
/// little-endian `tensor_content` (TensorFlow's C++ writer uses the latter).
pub fn tensor_scalar(t: &TensorProto) -> Option<f64> {
    let elements: i64 = t
        .tensor_shape
        .as_ref()
        .map_or(1, |s| s.dim.iter().map(|d| d.size).product());
    if elements != 1 {
        return None;
    }
    let content = t.tensor_content.as_slice();
    let le = |n: usize| -> Option<[u8; 8]> {
        let mut bytes = [0u8; 8];
        bytes[..n].copy_from_slice(content.get(..n)?);
        Some(bytes)
    };
    match DataType::try_from(t.dtype).ok()? {
        DataType::DtFloat => t.float_val.first().map(|&v| f64::from(v)).or_else(|| {
            let b = le(4)?;
            Some(f64::from(f32::from_le_bytes(b[..4].try_into().ok()?)))
        }),
        DataType::DtDouble => t
            .double_val
            .first()
            .copied()
            .or_else(|| Some(f64::from_le_bytes(le(8)?))),
        DataType::DtInt32 => t.int_val.first().map(|&v| f64::from(v)).or_else(|| {
            let b = le(4)?;
            Some(f64::from(i32::from_le_bytes(b[..4].try_into().ok()?)))
        }),
        DataType::DtInt64 => t
            .int64_val
            .first()
            .map(|&v| v as f64)
            .or_else(|| Some(i64::from_le_bytes(le(8)?) as f64)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logdir::RunWriter;
    use gradscope_tensorboard::proto::{event, summary, Event, Summary, TensorShapeProto};
    use gradscope_tensorboard::proto::{
        summary_metadata::PluginData, tensor_shape_proto, SummaryMetadata,
    };
    use gradscope_tensorboard::summary::{scalar, summary_event};
    use gradscope_tensorboard::EventWriter;

    impl Run {
        /// [`Run::add_event`] for an `Event` as the writer makes it, read
        /// back the way the reports read files.
        fn add(&mut self, event: Event) {
            use prost::Message;
            self.add_event(EventView::decode(&event.encode_to_vec()[..]).unwrap());
        }
    }

    fn tensor_value(tag: &str, tensor: TensorProto, plugin: Option<&str>) -> summary::Value {
        summary::Value {
            tag: tag.into(),
            metadata: plugin.map(|p| SummaryMetadata {
                plugin_data: Some(PluginData {
                    plugin_name: p.into(),
                    content: Vec::new(),
                }),
                ..Default::default()
            }),
            value: Some(summary::value::Value::Tensor(tensor)),
            ..Default::default()
        }
    }

    fn float_tensor_content(v: f32) -> TensorProto {
        TensorProto {
            dtype: DataType::DtFloat as i32,
            tensor_shape: Some(TensorShapeProto::default()),
            tensor_content: v.to_le_bytes().to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn scalar_tensors_of_each_encoding() {
        assert_eq!(tensor_scalar(&float_tensor_content(0.5)), Some(0.5));
        let typed = TensorProto {
            dtype: DataType::DtFloat as i32,
            float_val: vec![2.0],
            ..Default::default()
        };
        assert_eq!(tensor_scalar(&typed), Some(2.0));
        let double = TensorProto {
            dtype: DataType::DtDouble as i32,
            tensor_content: 0.25f64.to_le_bytes().to_vec(),
            ..Default::default()
        };
        assert_eq!(tensor_scalar(&double), Some(0.25));
        let int64 = TensorProto {
            dtype: DataType::DtInt64 as i32,
            int64_val: vec![7],
            ..Default::default()
        };
        assert_eq!(tensor_scalar(&int64), Some(7.0));
        // Not one element, too few bytes, or not a number: no value.
        let vector = TensorProto {
            tensor_shape: Some(TensorShapeProto {
                dim: vec![tensor_shape_proto::Dim {
                    size: 2,
                    name: String::new(),
                }],
                unknown_rank: false,
            }),
            ..float_tensor_content(1.0)
        };
        assert_eq!(tensor_scalar(&vector), None);
        let short = TensorProto {
            tensor_content: vec![0, 0],
            ..float_tensor_content(1.0)
        };
        assert_eq!(tensor_scalar(&short), None);
        let string = TensorProto {
            dtype: DataType::DtString as i32,
            string_val: vec![b"x".to_vec()],
            ..Default::default()
        };
        assert_eq!(tensor_scalar(&string), None);
    }

    #[test]
    fn metadata_on_the_first_value_only_sets_the_kind() {
        let mut run = load_run("r".into(), &[]);
        let first = tensor_value("loss", float_tensor_content(1.0), Some("scalars"));
        let later = tensor_value("loss", float_tensor_content(0.5), None);
        for (step, value) in [(0, first), (10, later)] {
            run.add(summary_event(step, 0.0, vec![value]));
        }
        assert_eq!(run.tags["loss"].kind, Kind::Scalar);
        assert_eq!(run.scalars("loss"), vec![(0, 1.0), (10, 0.5)]);
    }

    #[test]
    fn kinds_from_plugin_names_and_value_types() {
        let mut run = load_run("r".into(), &[]);
        let text = TensorProto {
            dtype: DataType::DtString as i32,
            ..Default::default()
        };
        run.add(summary_event(
            0,
            0.0,
            vec![
                tensor_value("t", text.clone(), Some("text")),
                tensor_value("h", text.clone(), Some("hparams")),
                tensor_value("bare", text, None),
                summary::Value {
                    tag: "unknown".into(),
                    ..Default::default()
                },
            ],
        ));
        let kinds: Vec<String> = run.tags.values().map(|t| t.kind.to_string()).collect();
        // BTreeMap order: bare, h, t, unknown
        assert_eq!(kinds, ["tensor", "tensor (hparams)", "text", "other"]);
    }

    #[test]
    fn repeated_steps_keep_the_last_written_value() {
        let mut run = load_run("r".into(), &[]);
        for (step, v) in [(0, 1.0), (10, 2.0), (0, 3.0), (10, 4.0)] {
            run.add(summary_event(step, 0.0, vec![scalar("x", v)]));
        }
        assert_eq!(run.tags["x"].points.len(), 4);
        assert_eq!(run.scalars("x"), vec![(0, 3.0), (10, 4.0)]);
        assert_eq!(run.last_scalar("x"), Some(4.0));
        assert_eq!(run.last_scalar("missing"), None);
        // In order, and a step repeated at once: the later value again.
        for (step, v) in [(1, 1.0), (2, 2.0), (2, 5.0), (3, 3.0)] {
            run.add(summary_event(step, 0.0, vec![scalar("y", v)]));
        }
        assert_eq!(run.scalars("y"), vec![(1, 1.0), (2, 5.0), (3, 3.0)]);
        run.add(summary_event(4, 0.0, vec![scalar("z", 1.0)]));
        assert_eq!(run.scalars("z"), vec![(4, 1.0)]);
    }

    #[test]
    fn runs_are_directories_named_like_tensorboard() {
        let dir = tempfile::tempdir().unwrap();
        for run in ["", "a", "a/b/c"] {
            let mut w = EventWriter::create(&dir.path().join(run)).unwrap();
            w.write_event(&summary_event(1, 0.0, vec![scalar("x", 1.0)]))
                .unwrap();
            w.close().unwrap();
        }
        std::fs::write(dir.path().join("a/notes.txt"), b"not an event file").unwrap();
        std::fs::create_dir_all(dir.path().join("empty")).unwrap();
        let logdir = Logdir::load(dir.path()).unwrap();
        let names: Vec<_> = logdir.runs.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, [".", "a", "a/b/c"]);
        assert!(logdir.runs.iter().all(|r| r.files.len() == 1));
    }

    /// A written run is taken as given only where its folder holds exactly
    /// its files; a folder with another file beside it is read from disk.
    #[test]
    fn written_runs_stand_in_for_their_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut written = Vec::new();
        for name in ["a", "b", "c"] {
            let mut w = RunWriter::create(&dir.path().join(name), name).unwrap();
            w.write_event(&summary_event(1, 0.0, vec![scalar("x", 1.0)]))
                .unwrap();
            let mut run = w.close().unwrap().expect("recorded");
            // Marked, to tell a run taken as given from one read back.
            run.count_other("marked");
            written.push(run);
        }
        // "b" gets a second file; "c"'s written run names another run.
        let mut w = EventWriter::create(&dir.path().join("b")).unwrap();
        w.write_event(&summary_event(2, 0.0, vec![scalar("x", 2.0)]))
            .unwrap();
        w.close().unwrap();
        written[2].name = "d".into();

        let logdir = Logdir::load_dir_with(dir.path(), written).unwrap();
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
    fn graph_and_session_events_are_counted() {
        let mut run = load_run("r".into(), &[]);
        run.add(Event {
            what: Some(event::What::GraphDef(vec![1, 2])),
            ..Default::default()
        });
        run.add(Event {
            what: Some(event::What::Summary(Summary::default())),
            ..Default::default()
        });
        assert_eq!(run.other_events.get("graph_def"), Some(&1));
        assert!(run.tags.is_empty());
    }

    #[test]
    fn a_missing_path_is_an_error_naming_it() {
        let err = Logdir::load(Path::new("/no/such/logdir")).unwrap_err();
        assert!(format!("{err:#}").contains("/no/such/logdir"), "{err:#}");
        let err = Logdir::load_dir(Path::new("/no/such/logdir")).unwrap_err();
        assert!(err.to_string().contains("no such directory"), "{err}");
    }
}
