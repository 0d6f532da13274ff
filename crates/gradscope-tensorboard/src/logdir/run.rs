//! [`Run`]: one run's event files merged into tags and their points.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use prost::Message;

use crate::hparams::SESSION_END_INFO_TAG;
use crate::proto::hparams::{h_params_plugin_data, HParamsPluginData, Status};
use crate::proto::session_log::SessionStatus;
use crate::proto::{DataType, Event, TensorProto};
use crate::reader::{EventReader, ReadError};
use crate::storage;

use super::view::{EventView, Value as ViewValue, ValueView, What};

/// One run: the event files of one directory, merged in name order.
///
/// Built by [`Logdir::load`](super::Logdir::load), or by hand with
/// [`Run::new`] and [`Run::read_file`] (or [`Run::add_event`] for events
/// held in memory, such as those a program is writing).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Run {
    /// Relative to the logdir, `/`-separated; `.` for the logdir itself.
    pub name: String,
    /// Each file read, in the order read, with how reading it went.
    pub files: Vec<EventFile>,
    /// Every tag of the run's summaries, by name.
    pub tags: BTreeMap<String, Tag>,
    /// Events that carry no summary, by what they carry (`graph_def`,
    /// `meta_graph_def`, `session_log`, `other`), besides each file's
    /// leading `file_version`.
    pub other_events: BTreeMap<&'static str, usize>,
    /// The status of the last HParams session end the run's files hold:
    /// `None` for a run that never ended its session (killed, still
    /// running, or from a writer without HParams).
    pub session_end: Option<Status>,
}

/// What reading one event file gave.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct EventFile {
    /// The file.
    pub path: PathBuf,
    /// Events read from it, the leading `file_version` one included.
    pub events: usize,
    /// Whether it was read to its end.
    pub status: FileStatus,
}

/// How reading an event file ended.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum FileStatus {
    /// Every record was read.
    Complete,
    /// The last record, starting at this byte offset, is cut short: what a
    /// writer leaves when it dies mid-write. The records before it loaded.
    Truncated {
        /// Where the cut-short record starts.
        offset: u64,
    },
    /// A record could not be read (a CRC mismatch, not an event, an I/O
    /// error). The events before it loaded; none after it did.
    Failed {
        /// Where the bad record starts (0 when the file could not be
        /// opened).
        offset: u64,
        /// What was wrong, naming the file and the offset.
        reason: String,
    },
}

/// One tag of a run: what kind of data, and its points in file order.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Tag {
    /// What the tag holds, decided by its first value.
    pub kind: Kind,
    /// Every value written, in the order read (a step written twice gives
    /// two points; [`Run::scalars`] keeps the later).
    pub points: Vec<Point>,
}

/// One value of a tag.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Point {
    /// The step it was written at.
    pub step: i64,
    /// When it was written, in seconds since the Unix epoch.
    pub wall_time: f64,
    /// The number, for scalars: `None` for other kinds (only their points
    /// are counted), or for a scalar tensor of a type that holds no number.
    pub value: Option<f64>,
}

/// What a tag holds, as TensorBoard's dashboards group them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// A number per step: `simple_value`, or a one-element tensor of the
    /// `scalars` plugin.
    Scalar,
    /// A histogram, of either encoding.
    Histogram,
    /// Markdown text.
    Text,
    /// An image.
    Image,
    /// A sound.
    Audio,
    /// A tensor for some other plugin (`hparams`, `pr_curves`, ...), named.
    Plugin(String),
    /// A tensor without plugin metadata.
    Tensor,
    /// A value of a type the schema does not carry (TF1's obsolete
    /// histograms, or none at all).
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

impl EventFile {
    /// What reading `path` gave: `events` events, ending as `status`. For
    /// a file recorded as it was written (see [`Run::add_event`]).
    pub fn new(path: impl Into<PathBuf>, events: usize, status: FileStatus) -> EventFile {
        EventFile {
            path: path.into(),
            events,
            status,
        }
    }
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

    /// Reads the event file at `path` into the run, appending to its tags,
    /// and records it in [`Run::files`]. Never fails: a file that cannot be
    /// read is recorded as [`FileStatus::Failed`], with the events before
    /// the bad record kept.
    ///
    /// `path` may be an object's URL (see [`crate::storage`]): the object
    /// is read whole, then its records.
    pub fn read_file(&mut self, path: &Path) -> &EventFile {
        if storage::is_url(path) {
            let file = match storage::read(path) {
                Ok(bytes) => {
                    let len = bytes.len() as u64;
                    self.read_records(path, EventReader::new(path, &bytes[..], len))
                }
                Err(source) => {
                    let e = ReadError::Io {
                        path: path.to_path_buf(),
                        offset: 0,
                        source,
                    };
                    failed(path, 0, e)
                }
            };
            return self.push_file(file);
        }
        let file = match EventReader::open(path) {
            Ok(reader) => self.read_records(path, reader),
            Err(e) => failed(path, 0, e),
        };
        self.push_file(file)
    }

    /// [`Run::read_file`] for an event file's bytes from any reader:
    /// `input` holds `len` bytes, and `path` names them in
    /// [`Run::files`] and in errors.
    pub fn read_from<R: Read>(&mut self, path: &Path, input: R, len: u64) -> &EventFile {
        let file = self.read_records(path, EventReader::new(path, input, len));
        self.push_file(file)
    }

    fn push_file(&mut self, file: EventFile) -> &EventFile {
        self.files.push(file);
        &self.files[self.files.len() - 1]
    }

    /// Streams the records, one event at a time: a logdir written at every
    /// step holds hundreds of MB of histograms, which only need counting.
    fn read_records<R: Read>(&mut self, path: &Path, reader: EventReader<R>) -> EventFile {
        let mut reader = reader.decoding::<EventView>();
        let mut events = 0;
        for event in reader.by_ref() {
            match event {
                Ok((_offset, event)) => {
                    events += 1;
                    self.add_view(event);
                }
                Err(e) => return failed(path, events, e),
            }
        }
        let status = match reader.truncated_at() {
            Some(offset) => FileStatus::Truncated { offset },
            None => FileStatus::Complete,
        };
        EventFile::new(path, events, status)
    }

    /// Adds the tags and points of `event` as reading it from a file would.
    ///
    /// For a program that records a run while writing it, so it need not
    /// read the file back: add each event written, then push the file's
    /// [`EventFile`] onto [`Run::files`] once it is closed.
    pub fn add_event(&mut self, event: &Event) {
        self.add_view(EventView::from(event));
    }

    fn add_view(&mut self, event: EventView) {
        let values = match event.what {
            Some(What::Summary(s)) => s.value,
            Some(What::FileVersion(_)) => return,
            Some(What::GraphDef(_)) => return self.count_other("graph_def"),
            Some(What::MetaGraphDef(_)) => return self.count_other("meta_graph_def"),
            Some(What::SessionLog(log)) => {
                if log.status == SessionStatus::Start as i32 {
                    self.purge_from(event.step);
                }
                return self.count_other("session_log");
            }
            // A field outside the schema (tagged_run_metadata, ...).
            None => return self.count_other("other"),
        };
        for mut value in values {
            let name = std::mem::take(&mut value.tag);
            if name == SESSION_END_INFO_TAG {
                self.session_end = session_end_status(&value).or(self.session_end);
            }
            // The first value decides the kind: writers that send plugin
            // metadata only once (TF2's) send it with the first value.
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
                wall_time: event.wall_time,
                value: number,
            });
        }
    }

    /// What TensorBoard does on a `SessionLog` START (a program restarted
    /// from a checkpoint at `step`): the points read so far at steps `>=
    /// step` are dropped, and tags left without points with them, so the
    /// restarted session's points replace them. A session end among them
    /// no longer counts.
    fn purge_from(&mut self, step: i64) {
        for tag in self.tags.values_mut() {
            tag.points.retain(|p| p.step < step);
        }
        self.tags.retain(|_, tag| !tag.points.is_empty());
        if !self.tags.contains_key(SESSION_END_INFO_TAG) {
            self.session_end = None;
        }
    }

    fn count_other(&mut self, what: &'static str) {
        *self.other_events.entry(what).or_default() += 1;
    }

    /// The tag's scalar values by step, sorted, one per step: where a step
    /// was written twice (a rerun adding a file beside the first), the one
    /// written last wins. Empty for a missing tag or one of another kind.
    pub fn scalars(&self, tag: &str) -> Vec<(i64, f64)> {
        let Some(tag) = self.tags.get(tag).filter(|t| t.kind == Kind::Scalar) else {
            return Vec::new();
        };
        let numbers = || tag.points.iter().filter_map(|p| Some((p.step, p.value?)));
        // The common case, steps written in increasing order, needs no map:
        // a run logged at every step has thousands of points per tag.
        if numbers().zip(numbers().skip(1)).all(|(a, b)| a.0 < b.0) {
            return numbers().collect();
        }
        let by_step: BTreeMap<i64, f64> = numbers().collect();
        by_step.into_iter().collect()
    }

    /// The tag's scalar value at its highest step.
    pub fn last_scalar(&self, tag: &str) -> Option<f64> {
        self.scalars(tag).last().map(|&(_, v)| v)
    }

    /// Whether the run ended its HParams session with success: a finished
    /// run. One killed mid-way, stopped or failed is not finished.
    pub fn finished(&self) -> bool {
        self.session_end == Some(Status::Success)
    }
}

fn failed(path: &Path, events: usize, e: ReadError) -> EventFile {
    let status = FileStatus::Failed {
        offset: e.offset(),
        reason: e.to_string(),
    };
    EventFile::new(path, events, status)
}

/// The status a session-end record carries in its plugin data.
fn session_end_status(value: &ValueView) -> Option<Status> {
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
fn tensor_scalar(t: &TensorProto) -> Option<f64> {
    // Checked, not multiplied: the dimensions come from the file.
    let elements = t.tensor_shape.as_ref().map_or(Some(1), |s| {
        s.dim.iter().try_fold(1i64, |n, d| n.checked_mul(d.size))
    });
    if elements != Some(1) {
        return None;
    }
    // The first 4 or 8 bytes of the content, when it holds that many.
    let content = &t.tensor_content;
    let four = || -> Option<[u8; 4]> { content.get(..4)?.try_into().ok() };
    let eight = || -> Option<[u8; 8]> { content.get(..8)?.try_into().ok() };
    match DataType::try_from(t.dtype).ok()? {
        DataType::DtFloat => (t.float_val.first().map(|&v| f64::from(v)))
            .or_else(|| Some(f64::from(f32::from_le_bytes(four()?)))),
        DataType::DtDouble => {
            (t.double_val.first().copied()).or_else(|| Some(f64::from_le_bytes(eight()?)))
        }
        DataType::DtInt32 => (t.int_val.first().map(|&v| f64::from(v)))
            .or_else(|| Some(f64::from(i32::from_le_bytes(four()?)))),
        DataType::DtInt64 => (t.int64_val.first().map(|&v| v as f64))
            .or_else(|| Some(i64::from_le_bytes(eight()?) as f64)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hparams::session_end;
    use crate::proto::{event, summary, Summary, TensorShapeProto};
    use crate::proto::{summary_metadata::PluginData, tensor_shape_proto, SummaryMetadata};
    use crate::record::append_record;
    use crate::summary::{file_version_event, histogram, scalar, summary_event, text};

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

    fn shape(sizes: &[i64]) -> Option<TensorShapeProto> {
        let dim = sizes.iter().map(|&size| tensor_shape_proto::Dim {
            size,
            name: String::new(),
        });
        Some(TensorShapeProto {
            dim: dim.collect(),
            unknown_rank: false,
        })
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
        let int32 = TensorProto {
            dtype: DataType::DtInt32 as i32,
            tensor_content: (-3i32).to_le_bytes().to_vec(),
            ..Default::default()
        };
        assert_eq!(tensor_scalar(&int32), Some(-3.0));
        let int64 = TensorProto {
            dtype: DataType::DtInt64 as i32,
            int64_val: vec![7],
            ..Default::default()
        };
        assert_eq!(tensor_scalar(&int64), Some(7.0));
        // A [1, 1] tensor holds one element too.
        let one_by_one = TensorProto {
            tensor_shape: shape(&[1, 1]),
            ..float_tensor_content(1.5)
        };
        assert_eq!(tensor_scalar(&one_by_one), Some(1.5));
    }

    #[test]
    fn tensors_without_one_number_have_no_value() {
        let vector = TensorProto {
            tensor_shape: shape(&[2]),
            ..float_tensor_content(1.0)
        };
        assert_eq!(tensor_scalar(&vector), None);
        // Dimensions whose product overflows: no value, no panic.
        let huge = TensorProto {
            tensor_shape: shape(&[i64::MAX, 4, 1]),
            ..float_tensor_content(1.0)
        };
        assert_eq!(tensor_scalar(&huge), None);
        let short = TensorProto {
            tensor_content: vec![0, 0],
            ..float_tensor_content(1.0)
        };
        assert_eq!(tensor_scalar(&short), None);
        let short_double = TensorProto {
            dtype: DataType::DtDouble as i32,
            tensor_content: vec![0; 7],
            ..Default::default()
        };
        assert_eq!(tensor_scalar(&short_double), None);
        let string = TensorProto {
            dtype: DataType::DtString as i32,
            string_val: vec![b"x".to_vec()],
            ..Default::default()
        };
        assert_eq!(tensor_scalar(&string), None);
    }

    #[test]
    fn metadata_on_the_first_value_only_sets_the_kind() {
        let mut run = Run::new("r");
        let first = tensor_value("loss", float_tensor_content(1.0), Some("scalars"));
        let later = tensor_value("loss", float_tensor_content(0.5), None);
        for (step, value) in [(0, first), (10, later)] {
            run.add_event(&summary_event(step, 0.0, vec![value]));
        }
        assert_eq!(run.tags["loss"].kind, Kind::Scalar);
        assert_eq!(run.scalars("loss"), vec![(0, 1.0), (10, 0.5)]);
    }

    #[test]
    fn kinds_from_plugin_names_and_value_types() {
        let mut run = Run::new("r");
        let text = TensorProto {
            dtype: DataType::DtString as i32,
            ..Default::default()
        };
        let (hist, _) = histogram("hist", &[1.0, 2.0]);
        run.add_event(&summary_event(
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
                hist,
            ],
        ));
        let kinds: Vec<String> = run.tags.values().map(|t| t.kind.to_string()).collect();
        // BTreeMap order: bare, h, hist, t, unknown
        assert_eq!(
            kinds,
            ["tensor", "tensor (hparams)", "histogram", "text", "other"]
        );
        // Only scalars have numbers.
        assert!(run.tags.values().all(|t| t.points[0].value.is_none()));
        assert!(run.scalars("hist").is_empty());
    }

    #[test]
    fn repeated_steps_keep_the_last_written_value() {
        let mut run = Run::new("r");
        for (step, v) in [(0, 1.0), (10, 2.0), (0, 3.0), (10, 4.0)] {
            run.add_event(&summary_event(step, 0.0, vec![scalar("x", v)]));
        }
        assert_eq!(run.tags["x"].points.len(), 4);
        assert_eq!(run.scalars("x"), vec![(0, 3.0), (10, 4.0)]);
        assert_eq!(run.last_scalar("x"), Some(4.0));
        assert_eq!(run.last_scalar("missing"), None);
        // In order, and a step repeated at once: the later value again.
        for (step, v) in [(1, 1.0), (2, 2.0), (2, 5.0), (3, 3.0)] {
            run.add_event(&summary_event(step, 0.0, vec![scalar("y", v)]));
        }
        assert_eq!(run.scalars("y"), vec![(1, 1.0), (2, 5.0), (3, 3.0)]);
        run.add_event(&summary_event(4, 0.0, vec![scalar("z", 1.0)]));
        assert_eq!(run.scalars("z"), vec![(4, 1.0)]);
    }

    #[test]
    fn points_keep_step_and_wall_time() {
        let mut run = Run::new("r");
        run.add_event(&summary_event(7, 1234.5, vec![scalar("x", 0.25)]));
        let point = run.tags["x"].points[0];
        assert_eq!(
            (point.step, point.wall_time, point.value),
            (7, 1234.5, Some(0.25))
        );
    }

    #[test]
    fn graph_and_session_events_are_counted() {
        let mut run = Run::new("r");
        run.add_event(&Event {
            what: Some(event::What::GraphDef(vec![1, 2])),
            ..Default::default()
        });
        run.add_event(&Event {
            what: Some(event::What::Summary(Summary::default())),
            ..Default::default()
        });
        run.add_event(&Event::default());
        run.add_event(&file_version_event(0.0));
        let counted: Vec<_> = run.other_events.iter().map(|(k, n)| (*k, *n)).collect();
        assert_eq!(counted, [("graph_def", 1), ("other", 1)]);
        assert!(run.tags.is_empty());
    }

    #[test]
    fn the_last_session_end_decides_finished() {
        let mut run = Run::new("r");
        assert!(!run.finished());
        run.add_event(&summary_event(
            1,
            0.0,
            vec![session_end(Status::Failure, 1.0)],
        ));
        assert_eq!(run.session_end, Some(Status::Failure));
        assert!(!run.finished());
        run.add_event(&summary_event(
            2,
            0.0,
            vec![session_end(Status::Success, 2.0)],
        ));
        assert!(run.finished());
    }

    fn encode(events: &[Event]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for e in events {
            append_record(&mut bytes, &e.encode_to_vec());
        }
        bytes
    }

    #[test]
    fn each_file_ends_complete_truncated_or_failed() {
        let events = [
            file_version_event(0.0),
            summary_event(1, 0.0, vec![scalar("x", 1.0), text("note", "hi")]),
            summary_event(2, 0.0, vec![scalar("x", 2.0)]),
        ];
        let bytes = encode(&events);
        let second = encode(&events[..2]).len();
        let path = Path::new("mem.tfevents");
        let mut run = Run::new("r");

        let whole = run.read_from(path, &bytes[..], bytes.len() as u64);
        assert_eq!(*whole, EventFile::new(path, 3, FileStatus::Complete));

        let cut = &bytes[..bytes.len() - 3];
        let file = run.read_from(path, cut, cut.len() as u64);
        let status = FileStatus::Truncated {
            offset: second as u64,
        };
        assert_eq!((file.events, &file.status), (2, &status));

        let mut corrupt = bytes.clone();
        corrupt[second + 14] ^= 0x40; // in the third record's payload
        let file = run.read_from(path, &corrupt[..], corrupt.len() as u64);
        let FileStatus::Failed { offset, reason } = &file.status else {
            panic!("{file:?}");
        };
        assert_eq!((file.events, *offset), (2, second as u64));
        assert!(
            reason.contains("mem.tfevents") && reason.contains("payload CRC"),
            "{reason}"
        );

        // Every file's points are in the run: 3 whole reads of x, less the
        // cut and the corrupt record.
        assert_eq!(run.files.len(), 3);
        assert_eq!(run.tags["x"].points.len(), 4);
        assert_eq!(run.tags["note"].kind, Kind::Text);
    }

    #[test]
    fn a_missing_file_is_recorded_as_failed() {
        let dir = tempfile::tempdir().unwrap();
        let mut run = Run::new("r");
        let file = run.read_file(&dir.path().join("events.out.tfevents.gone"));
        assert_eq!(file.events, 0);
        assert!(
            matches!(&file.status, FileStatus::Failed { offset: 0, reason }
                if reason.contains("events.out.tfevents.gone")),
            "{file:?}"
        );
    }
}
