//! What the fuzz targets check, kept apart from libFuzzer so that
//! `tests/it/fuzz_inputs.rs` in the main crate runs the very same checks over
//! seeded mutations on every `cargo test` (it includes this file by path).
//!
//! Each check feeds arbitrary bytes to a parser of untrusted files, or
//! reads them as calls of the SummaryWriter API, and asserts what must hold
//! whatever the bytes: no panic, no unbounded allocation, and errors and
//! results that are consistent with the input.

use std::path::Path;

use gradscope::{decode_idx, IMAGES_MAGIC, LABELS_MAGIC};
use gradscope_tensorboard::custom_scalars::{Category, Layout, Margin};
use gradscope_tensorboard::graph::{Graph, Node};
use gradscope_tensorboard::hparams::HParams;
use gradscope_tensorboard::image::Image;
use gradscope_tensorboard::logdir::{FileStatus, Run};
use gradscope_tensorboard::pr_curve::PrCounts;
use gradscope_tensorboard::proto;
use gradscope_tensorboard::summary::RawHistogram;
use gradscope_tensorboard::{
    append_record, read_events, EventReader, ReadError, SummaryError, SummaryWriter,
};

/// The event-file reader over `bytes` as a whole file, and over `bytes`
/// framed as a record with correct CRCs followed by `bytes` again: random
/// bytes rarely pass a CRC, and the framed form takes them on to the
/// protobuf decoder and to the record after it.
pub fn check_event_reader(bytes: &[u8]) {
    check_event_file(bytes);
    let mut framed = Vec::with_capacity(bytes.len() * 2 + 16);
    append_record(&mut framed, bytes);
    framed.extend_from_slice(bytes);
    check_event_file(&framed);
}

fn check_event_file(bytes: &[u8]) {
    let len = bytes.len() as u64;
    let mut reader = EventReader::new(Path::new("fuzz-input"), bytes, len);
    let mut failed = false;
    let mut accepted = Vec::new();
    loop {
        let at = reader.offset();
        match reader.next() {
            None => break,
            Some(Ok((offset, _event))) => {
                // Records are read back to back from the start.
                assert_eq!(offset, at);
                assert!(reader.offset() > at && reader.offset() <= len);
                accepted.push(offset);
            }
            Some(Err(e)) => {
                // The whole input is there, so only corruption can fail, and
                // the error points at the record it was found in.
                assert!(matches!(e, ReadError::Corrupt { .. }), "{e}");
                assert_eq!(e.offset(), at);
                assert!(e.to_string().contains(&format!("byte offset {at}")), "{e}");
                failed = true;
            }
        }
    }
    match reader.truncated_at() {
        Some(at) => assert!(at == reader.offset() && at < len && !failed),
        None if !failed => assert_eq!(reader.offset(), len, "stopped early"),
        None => {}
    }
    // The logdir reader over the same bytes (each record decoded as Event's
    // schema less the histogram fields, then sorted into tags): it takes
    // the same records, and ends the file the same way.
    let mut run = Run::new("fuzz");
    let file = run.read_from(Path::new("fuzz-input"), bytes, len);
    assert_eq!(file.events, accepted.len(), "{:?}", file.status);
    match (&file.status, failed, reader.truncated_at()) {
        (FileStatus::Complete, false, None) => {}
        (FileStatus::Truncated { offset }, false, Some(at)) => assert_eq!(*offset, at),
        (FileStatus::Failed { offset, .. }, true, None) => assert_eq!(*offset, reader.offset()),
        (status, failed, truncated) => {
            panic!("the logdir reader says {status:?}; the event reader {failed} {truncated:?}")
        }
    }
}

/// The IDX decoder (gzip detection, header, dimensions, body) over `bytes`,
/// as images and as labels, named `.gz` and not.
pub fn check_idx(bytes: &[u8]) {
    for magic in [IMAGES_MAGIC, LABELS_MAGIC] {
        for named_gz in [false, true] {
            match decode_idx(bytes.to_vec(), named_gz, magic) {
                Ok(parsed) => {
                    assert_eq!(parsed.dims.len(), (magic & 0xff) as usize);
                    let size: usize = parsed.dims.iter().product();
                    assert_eq!(parsed.data.len(), size);
                    assert!(parsed.data.len() <= bytes.len() || bytes.starts_with(&[0x1f, 0x8b]));
                }
                Err(problem) => assert!(!problem.is_empty()),
            }
        }
    }
}

/// Reads the fuzz input as the arguments of [`SummaryWriter`] calls: bytes
/// while they last, then zeros.
struct Args<'a> {
    bytes: &'a [u8],
}

impl Args<'_> {
    fn u8(&mut self) -> u8 {
        let (&b, rest) = self.bytes.split_first().unwrap_or((&0, &[]));
        self.bytes = rest;
        b
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    /// Small lengths mostly, sometimes up to 255.
    fn len(&mut self) -> usize {
        match self.u8() {
            b @ 0..=239 => (b % 8) as usize,
            b => (b - 240) as usize * 16,
        }
    }

    /// Any f32 bit pattern (NaN, infinities, subnormals included) half the
    /// time, else a plain value in [-2, 2].
    fn f32(&mut self) -> f32 {
        if self.u8() & 1 == 0 {
            f32::from_bits(self.u32())
        } else {
            (self.u8() as f32 - 128.0) / 64.0
        }
    }

    fn f32s(&mut self) -> Vec<f32> {
        let n = self.len();
        (0..n).map(|_| self.f32()).collect()
    }

    fn f64s(&mut self) -> Vec<f64> {
        let n = self.len();
        (0..n).map(|_| self.f32() as f64).collect()
    }

    fn step(&mut self) -> i64 {
        match self.u8() % 4 {
            0 => i64::from(self.u32() as i32),
            1 => i64::MIN,
            _ => i64::from(self.u8()),
        }
    }

    /// A tag or name: common ones, empty ones, ones with control
    /// characters, path-like ones, or the next bytes as (lossy) UTF-8.
    fn text(&mut self) -> String {
        const COMMON: [&str; 10] = [
            "loss",
            "",
            "a\nb",
            "x/y",
            "..",
            ".",
            "/",
            "tab\there",
            "ünï ✓",
            "a\0",
        ];
        let pick = self.u8();
        if (pick as usize) < COMMON.len() * 16 {
            return COMMON[pick as usize % COMMON.len()].to_string();
        }
        let n = self.len();
        let raw: Vec<u8> = (0..n).map(|_| self.u8()).collect();
        String::from_utf8_lossy(&raw).into_owned()
    }

    fn texts(&mut self) -> Vec<String> {
        let n = self.len();
        (0..n).map(|_| self.text()).collect()
    }

    /// An image side or count: 0 to 5 mostly, sometimes one whose
    /// products overflow.
    fn dim(&mut self) -> usize {
        match self.u8() {
            b @ 0..=249 => (b % 6) as usize,
            250 => usize::MAX,
            251 => 1 << 32,
            252 => 1 << 16,
            _ => 100,
        }
    }

    /// A pixel count near `n` (at most 4096): exact most of the time, else
    /// a little off.
    fn around(&mut self, n: usize) -> usize {
        let n = n.min(4096);
        match self.u8() % 8 {
            0 => n.saturating_sub(1),
            1 => n + 1,
            2 => 0,
            _ => n,
        }
    }
}

/// A unique, empty folder under the system's temporary one, removed on
/// drop.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new() -> Scratch {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "gradscope-fuzz-summary-writer-{}-{n}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Drives a [`SummaryWriter`] with the calls `bytes` spells (every `add_*`,
/// flush and close, with empty tags, control characters, NaN, zero-sized
/// images, mismatched lengths, ...) and checks: no panic; every error is
/// the typed error its input calls for (bad input, or the writer closed,
/// never an I/O failure in a fresh folder); nothing is written outside the
/// run folder; and the event file reads back whole, with one event per
/// successful call (and per growth of the `add_scalars` layout), every tag
/// a valid one.
pub fn check_summary_writer(bytes: &[u8]) {
    let scratch = Scratch::new();
    let logdir = scratch.0.join("run");
    let writer = SummaryWriter::builder(&logdir)
        .max_queue(1 + bytes.first().copied().unwrap_or(0) as usize % 4)
        .build()
        .unwrap();
    let mut args = Args { bytes };
    // The file-version event, then one per call that wrote.
    let mut expected = 1usize;
    let mut closed = false;
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    let mut calls = 0;
    while !args.bytes.is_empty() && calls < 64 {
        calls += 1;
        let op = args.u8() % 19;
        let tag = args.text();
        let step = args.step();
        let was_closed = closed;
        // Events the call writes when it succeeds, and its result.
        let (events, result): (usize, Result<(), SummaryError>) = match op {
            0 => (1, writer.add_scalar(&tag, args.f32(), step)),
            1 => {
                let names = args.texts();
                let values: Vec<(&str, f64)> = names
                    .iter()
                    .map(|n| (n.as_str(), args.f32() as f64))
                    .collect();
                let grows = match groups.iter().find(|(m, _)| *m == tag) {
                    Some((_, known)) => names.iter().any(|n| !known.contains(n)),
                    None => true,
                };
                let result = writer.add_scalars(&tag, &values, step);
                if result.is_ok() && grows {
                    match groups.iter_mut().find(|(m, _)| *m == tag) {
                        Some((_, known)) => {
                            for n in names {
                                if !known.contains(&n) {
                                    known.push(n);
                                }
                            }
                        }
                        None => groups.push((tag.clone(), names)),
                    }
                }
                (1 + usize::from(grows), result)
            }
            2 => {
                let values = args.f32s();
                let result = writer.add_histogram(&tag, &values, step);
                if let Ok(left_out) = &result {
                    let non_finite = values.iter().filter(|v| !v.is_finite()).count();
                    assert_eq!(*left_out, non_finite);
                }
                (1, result.map(drop))
            }
            3 => (1, writer.add_histogram(&tag, args.f64s(), step).map(drop)),
            4 => {
                let (limits, counts) = (args.f64s(), args.f64s());
                let raw = RawHistogram {
                    min: args.f32() as f64,
                    max: args.f32() as f64,
                    num: args.f32() as f64,
                    sum: args.f32() as f64,
                    sum_squares: args.f32() as f64,
                    bucket_limits: &limits,
                    bucket_counts: &counts,
                };
                (1, writer.add_histogram_raw(&tag, &raw, step))
            }
            5..=7 => {
                let count = if op == 5 { 1 } else { args.dim() };
                let (h, w, c) = (args.dim(), args.dim(), args.dim());
                let size = [count, h, w, c]
                    .iter()
                    .fold(1usize, |a, &d| a.saturating_mul(d));
                let n = args.around(size);
                let chw = args.u8() & 1 == 1;
                let bytes: Vec<u8> = (0..n).map(|_| args.u8()).collect();
                let floats: Vec<f32> = (0..n).map(|_| args.f32()).collect();
                let image = match (args.u8() & 1 == 1, chw) {
                    (true, false) => Image::nhwc(&bytes[..], count, h, w, c),
                    (true, true) => Image::nchw(&bytes[..], count, c, h, w),
                    (false, false) => Image::nhwc(&floats[..], count, h, w, c),
                    (false, true) => Image::nchw(&floats[..], count, c, h, w),
                };
                let result = match op {
                    5 => writer.add_image(&tag, &image, step),
                    6 => writer.add_images(&tag, &image, step),
                    _ => writer.add_figure(&tag, &bytes, h, w, step),
                };
                (1, result)
            }
            8 => (1, writer.add_text(&tag, &args.text(), step)),
            9 => {
                let names = args.texts();
                let mut hparams = HParams::new();
                for name in &names {
                    hparams = match args.u8() % 3 {
                        0 => hparams.set(name, args.text()),
                        1 => hparams.set(name, args.u8() & 1 == 1),
                        _ => hparams.set(name, args.f32()),
                    };
                }
                let metric_names = args.texts();
                let metrics: Vec<(&str, f64)> = metric_names
                    .iter()
                    .map(|n| (n.as_str(), args.f32() as f64))
                    .collect();
                let events = 1 + usize::from(!metrics.is_empty());
                (events, writer.add_hparams(&hparams, &metrics))
            }
            10 => {
                let mut graph = Graph::new();
                for _ in 0..args.len() {
                    let name = args.text();
                    let inputs = args.texts();
                    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
                    graph.add(Node::new(&name, &args.text()).inputs(&inputs));
                }
                (1, writer.add_graph(&graph))
            }
            11 | 12 => {
                let labels: Vec<bool> = (0..args.len()).map(|_| args.u8() & 1 == 1).collect();
                let predictions = args.f32s();
                let result = if op == 11 {
                    writer.add_pr_curve(&tag, &labels, &predictions, step)
                } else {
                    let thresholds = args.u32() % 70_000;
                    writer.add_pr_curve_with_thresholds(
                        &tag,
                        &labels,
                        &predictions,
                        thresholds,
                        step,
                    )
                };
                (1, result)
            }
            13 => {
                // Rows of one length mostly, so that some curves are valid.
                let n = args.len();
                let rows: Vec<Vec<f64>> = (0..6)
                    .map(|_| (0..args.around(n)).map(|_| args.f32() as f64).collect())
                    .collect();
                let counts = PrCounts {
                    true_positives: &rows[0],
                    false_positives: &rows[1],
                    true_negatives: &rows[2],
                    false_negatives: &rows[3],
                    precision: &rows[4],
                    recall: &rows[5],
                };
                (1, writer.add_pr_curve_raw(&tag, &counts, step))
            }
            14 => {
                let dim = args.len();
                let matrix: Vec<Vec<f32>> = (0..args.len())
                    .map(|_| (0..args.around(dim)).map(|_| args.f32()).collect())
                    .collect();
                let labels = args.texts();
                let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
                let pixels: Vec<u8> = (0..args.len() * 4).map(|_| args.u8()).collect();
                let sprites = Image::nhwc(&pixels[..], pixels.len() / 4, 2, 2, 1);
                let sprites = (args.u8() & 1 == 1).then_some(&sprites);
                (
                    0,
                    writer.add_embedding(&tag, &matrix, &labels, sprites, step),
                )
            }
            15 => {
                let mut layout = Layout::new();
                for _ in 0..args.len() {
                    let mut category = Category::new(&args.text());
                    for _ in 0..args.len() {
                        category = if args.u8() & 1 == 0 {
                            category.multiline(&args.text(), args.texts())
                        } else {
                            let (v, l, u) = (args.text(), args.text(), args.text());
                            category.margin(&args.text(), [Margin::new(&v, &l, &u)])
                        };
                    }
                    layout = layout.category(category);
                }
                (1, writer.add_custom_scalars(&layout))
            }
            16 => {
                let rate = match args.u8() % 3 {
                    0 => 0,
                    1 => args.u32(),
                    _ => 8000,
                };
                (1, writer.add_audio(&tag, &args.f32s(), rate, step))
            }
            // Closing ends what a sequence can test: one in four times.
            17 | 18 if !args.u8().is_multiple_of(4) => (0, writer.flush()),
            _ => {
                let result = writer.close();
                closed = true;
                (0, result)
            }
        };
        match result {
            Ok(()) => {
                assert!(!was_closed, "op {op} succeeded after close");
                expected += events;
            }
            Err(SummaryError::Closed) => assert!(was_closed, "op {op}: closed, but not by us"),
            Err(SummaryError::InvalidTag { .. } | SummaryError::InvalidArgument { .. }) => {}
            Err(SummaryError::Graph(_)) => assert_eq!(op, 10),
            Err(e) => panic!("op {op} ({tag:?}): not a bad-input error: {e}"),
        }
    }
    if !closed {
        writer.close().unwrap();
    }
    drop(writer);
    // Nothing beside the run folder.
    let beside: Vec<_> = std::fs::read_dir(&scratch.0).unwrap().flatten().collect();
    assert_eq!(beside.len(), 1, "{beside:?}");
    let files: Vec<_> = std::fs::read_dir(&logdir)
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("events.out.tfevents.")
        })
        .collect();
    assert_eq!(files.len(), 1);
    let read = read_events(&files[0].path()).unwrap();
    assert_eq!(read.truncated_at, None);
    assert_eq!(read.events.len(), expected);
    for event in &read.events {
        if let Some(proto::event::What::Summary(summary)) = &event.what {
            for value in &summary.value {
                let tag = &value.tag;
                assert!(
                    !tag.is_empty() && !tag.chars().any(char::is_control),
                    "{tag:?}"
                );
            }
        }
    }
}
