//! Records agree with tensorboardX's: the same calls, made with our
//! [`SummaryWriter`] and with tensorboardX 2.6.5's (`tests/tbx_records.py`,
//! given the same inputs as JSON), give event files whose records are
//! compared one by one, wall time aside.
//!
//! The same bytes (the whole event, wall time cut out): the file-version
//! event, `add_scalar`, `add_histogram_raw`; and inside the records, the
//! text's string, the serialized custom-scalars `Layout`, the PR curve's
//! and text's plugin content, and the WAV file `add_audio` makes.
//! The same decoded protobufs: PR curve tensors, images' size and decoded
//! pixels, the hparams records' experiment columns, values and status.
//!
//! Where we differ on purpose (and what is compared instead):
//! - plugin records carry a `data_class` (TensorBoard's fast loader files
//!   values by it; tensorboardX leaves it unset): ignored here;
//! - `add_text` keeps the tag as given and writes a scalar string tensor
//!   (tensorboardX appends `/text_summary` and writes shape `[1]`; the
//!   dashboard renders both as one markdown document);
//! - `add_audio` writes the Audio plugin's tensor form (a `[1, 2]` string
//!   tensor: the WAV, its label) where tensorboardX fills the older `audio`
//!   field; the WAV bytes are the same;
//! - images: the PNG bytes differ (another encoder); size, channels and
//!   every decoded pixel agree, except that a one-channel image stays gray
//!   where tensorboardX repeats it into RGB;
//! - `add_histogram`: TensorFlow's bucket edges in both, but ours count a
//!   value on an edge in the bucket it ends (TensorFlow's rule) and
//!   tensorboardX in the one it starts (numpy's); values off the edges give
//!   the same counts below every edge;
//! - `add_hparams` writes into the run's own folder (tensorboardX makes a
//!   subfolder), sets the session's group and times, a `false`/`true`
//!   domain for switches, and an empty tensor under each record.
//!
//! Needs a Python with tensorboardX 2.6.5, numpy, Pillow and soundfile:
//! `GRADSCOPE_TBX_PYTHON`, else the repository's `.venv`
//! (`scripts/setup-venv.sh` installs them), else `bench/.venv-torch`.
//! Without one the test is skipped with a message; with
//! `GRADSCOPE_TBX_PYTHON` set, a Python that cannot run the script fails it.
//!
//! [`SummaryWriter`]: gradscope_tensorboard::SummaryWriter

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use gradscope_tensorboard::custom_scalars::{Category, Layout, Margin};
use gradscope_tensorboard::hparams::HParams;
use gradscope_tensorboard::image::Image;
use gradscope_tensorboard::pr_curve::PrCounts;
use gradscope_tensorboard::proto::hparams::{h_params_plugin_data::Data, HParamsPluginData};
use gradscope_tensorboard::proto::summary::value::Value as Kind;
use gradscope_tensorboard::proto::{event, summary, Event, PrCurvePluginData, TensorProto};
use gradscope_tensorboard::summary::RawHistogram;
use gradscope_tensorboard::{masked_crc32c, SummaryWriter};
use prost::Message;
use serde_json::{json, Value as Json};

use crate::helpers::run_python;

const MODULES: &str = "import tensorboardX, numpy, PIL, soundfile; \
                       assert tensorboardX.__version__ == '2.6.5', tensorboardX.__version__";

fn python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("GRADSCOPE_TBX_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for venv in [".venv", "bench/.venv-torch"] {
        let python = root.join(venv).join("bin/python");
        let usable = Command::new(&python)
            .args(["-c", MODULES])
            .output()
            .is_ok_and(|o| o.status.success());
        if usable {
            return Some(python);
        }
    }
    eprintln!(
        "SKIPPED: no Python with tensorboardX 2.6.5, numpy, Pillow and soundfile; \
         run scripts/setup-venv.sh or set GRADSCOPE_TBX_PYTHON"
    );
    None
}

/// One record of an event file: the payload as written and decoded.
struct Record {
    bytes: Vec<u8>,
    event: Event,
}

/// Every record of the event files under `dir` (recursively), in file
/// order, both CRCs checked.
fn records(dir: &Path) -> Vec<Record> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .contains("tfevents")
            {
                files.push(path);
            }
        }
    }
    files.sort();
    assert!(!files.is_empty(), "no event file under {}", dir.display());
    let mut out = Vec::new();
    for path in files {
        let data = std::fs::read(&path).unwrap();
        let mut rest = &data[..];
        while !rest.is_empty() {
            let len = u64::from_le_bytes(rest[..8].try_into().unwrap()) as usize;
            let crc = |b: &[u8]| u32::from_le_bytes(b.try_into().unwrap());
            assert_eq!(
                crc(&rest[8..12]),
                masked_crc32c(&rest[..8]),
                "{}",
                path.display()
            );
            let bytes = rest[12..12 + len].to_vec();
            assert_eq!(crc(&rest[12 + len..16 + len]), masked_crc32c(&bytes));
            rest = &rest[16 + len..];
            let event = Event::decode(bytes.as_slice()).unwrap();
            out.push(Record { bytes, event });
        }
    }
    out
}

/// The event's bytes without its wall time (field 1, a double, which both
/// writers put first).
fn without_wall_time(bytes: &[u8]) -> &[u8] {
    assert_eq!(bytes[0], 0x09, "the wall time first");
    &bytes[9..]
}

/// Each summary value by tag, with its step and its event's bytes.
fn by_tag(records: &[Record]) -> BTreeMap<String, Vec<(i64, summary::Value, Vec<u8>)>> {
    let mut out: BTreeMap<_, Vec<_>> = BTreeMap::new();
    for r in records {
        if let Some(event::What::Summary(s)) = &r.event.what {
            for v in &s.value {
                let entry = (r.event.step, v.clone(), r.bytes.clone());
                out.entry(v.tag.clone()).or_default().push(entry);
            }
        }
    }
    out
}

/// A deterministic stream of floats in [0, 1).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// The inputs, one set for both writers.
struct Inputs {
    rgb: Vec<u8>,
    gray: Vec<u8>,
    rgba: Vec<u8>,
    chw: Vec<f32>,
    samples: Vec<f32>,
    pr: [Vec<f64>; 6],
    limits: Vec<f64>,
    counts: Vec<f64>,
    values: Vec<f32>,
}

fn inputs() -> Inputs {
    let mut rng = Lcg(7);
    let bytes = |n: usize, rng: &mut Lcg| -> Vec<u8> {
        (0..n).map(|_| (rng.next() * 256.0) as u8).collect()
    };
    // Values in [0, 1], the ends included, for the float image.
    let mut chw: Vec<f32> = (0..3 * 4 * 6).map(|_| rng.next()).collect();
    chw[0] = 1.0;
    chw[1] = 0.0;
    chw[2] = 0.5;
    // A tone, a few samples past full scale (clipped by both) and the edges.
    let mut samples: Vec<f32> = (0..800)
        .map(|i| (i as f32 * 440.0 * std::f32::consts::TAU / 8000.0).sin() * 0.7)
        .collect();
    samples[..6].copy_from_slice(&[1.0, -1.0, 1.5, -2.0, 0.999_99, -0.3]);
    // Normal-ish, none exactly on a bucket edge, a wide range of scales.
    let values: Vec<f32> = (0..2000)
        .map(|i| {
            let u = rng.next() + rng.next() + rng.next() - 1.5;
            u * [1e-3, 1.0, 50.0][i % 3] + 1e-9
        })
        .collect();
    Inputs {
        rgb: bytes(5 * 7 * 3, &mut rng),
        gray: bytes(4 * 3, &mut rng),
        rgba: bytes(3 * 2 * 4, &mut rng),
        chw,
        samples,
        pr: [
            vec![4.0, 3.0, 1.0, 0.0],
            vec![4.0, 2.0, 1.0, 0.0],
            vec![0.0, 2.0, 3.0, 4.0],
            vec![0.0, 1.0, 3.0, 4.0],
            vec![0.5, 0.6, 0.5, 0.0],
            vec![1.0, 0.75, 0.25, 0.0],
        ],
        limits: vec![-1.5, 0.0, 0.25, 1.0, 1e9],
        counts: vec![1.0, 0.0, 7.0, 2.5, 1.0],
        values,
    }
}

const SCALARS: [(&str, f64, i64); 5] = [
    ("loss", 0.25, 0),
    ("loss", 0.1, 1),
    ("loss", -3.0e38, 2),
    ("lr", 1e-7, 5),
    ("epoch", 3.0, 9),
];
const TEXTS: [(&str, &str, i64); 2] = [
    (
        "notes",
        "**bold**, a table:\n\n| a | b |\n|---|---|\n| 1 | 2 |",
        3,
    ),
    ("unicode", "ünïcode ✓ \"quoted\"", 4),
];
const LAST_STEP: i64 = 9;

fn spec(i: &Inputs) -> Json {
    let image = |tag, pixels: Json, dtype, shape: &[usize], format, step| {
        json!({"tag": tag, "pixels": pixels, "dtype": dtype, "shape": shape,
               "dataformats": format, "step": step})
    };
    json!({
        "scalars": SCALARS.iter().map(|(t, v, s)| json!({"tag": t, "value": v, "step": s}))
            .collect::<Vec<_>>(),
        "texts": TEXTS.iter().map(|(t, x, s)| json!({"tag": t, "text": x, "step": s}))
            .collect::<Vec<_>>(),
        "images": [
            image("rgb", json!(i.rgb), "uint8", &[5, 7, 3], "HWC", 1),
            image("gray", json!(i.gray), "uint8", &[4, 3, 1], "HWC", 2),
            image("rgba", json!(i.rgba), "uint8", &[3, 2, 4], "HWC", 3),
            image("chw_floats", json!(i.chw), "float32", &[3, 4, 6], "CHW", 4),
        ],
        "audio": [{"tag": "tone", "samples": i.samples, "sample_rate": 8000, "step": 6}],
        "pr_curves": [{"tag": "pr", "tp": i.pr[0], "fp": i.pr[1], "tn": i.pr[2], "fn": i.pr[3],
                       "precision": i.pr[4], "recall": i.pr[5], "step": 7}],
        "histograms_raw": [{"tag": "raw", "min": -2.0, "max": 3e8, "num": 11.5, "sum": 4.25,
                            "sum_squares": 1e17, "bucket_limits": i.limits,
                            "bucket_counts": i.counts, "step": 8}],
        "histograms": [{"tag": "weights", "values": i.values, "step": 8}],
        "custom_scalars": [
            ["training", [["losses", "Multiline", ["^loss$", "^lr"]],
                          ["accuracy", "Margin", ["acc", "acc_low", "acc_high"]]]],
            ["other", [["epochs", "Multiline", ["epoch"]]]],
        ],
        "hparams": [{"hparams": [["lr", 0.01], ["optimizer", "adam"], ["layers", 3],
                                 ["residual", true]],
                     "metrics": [["hparam/accuracy", 0.875]], "name": "hp",
                     "step": LAST_STEP}],
    })
}

fn write_ours(dir: &Path, i: &Inputs) {
    let w = SummaryWriter::new(dir).unwrap();
    for (tag, value, step) in SCALARS {
        w.add_scalar(tag, value, step).unwrap();
    }
    for (tag, text, step) in TEXTS {
        w.add_text(tag, text, step).unwrap();
    }
    w.add_image("rgb", &Image::hwc(&i.rgb[..], 5, 7, 3), 1)
        .unwrap();
    w.add_image("gray", &Image::hwc(&i.gray[..], 4, 3, 1), 2)
        .unwrap();
    w.add_image("rgba", &Image::hwc(&i.rgba[..], 3, 2, 4), 3)
        .unwrap();
    w.add_image("chw_floats", &Image::chw(&i.chw[..], 3, 4, 6), 4)
        .unwrap();
    w.add_audio("tone", &i.samples, 8000, 6).unwrap();
    let [tp, fp, tn, fn_, precision, recall] = &i.pr;
    let counts = PrCounts {
        true_positives: tp,
        false_positives: fp,
        true_negatives: tn,
        false_negatives: fn_,
        precision,
        recall,
    };
    w.add_pr_curve_raw("pr", &counts, 7).unwrap();
    let raw = RawHistogram {
        min: -2.0,
        max: 3e8,
        num: 11.5,
        sum: 4.25,
        sum_squares: 1e17,
        bucket_limits: &i.limits,
        bucket_counts: &i.counts,
    };
    w.add_histogram_raw("raw", &raw, 8).unwrap();
    w.add_histogram("weights", &i.values, 8).unwrap();
    w.add_custom_scalars(
        &Layout::new()
            .category(
                Category::new("training")
                    .multiline("losses", ["^loss$", "^lr"])
                    .margin("accuracy", [Margin::new("acc", "acc_low", "acc_high")]),
            )
            .category(Category::new("other").multiline("epochs", ["epoch"])),
    )
    .unwrap();
    let hparams = HParams::new()
        .set("lr", 0.01)
        .set("optimizer", "adam")
        .set("layers", 3)
        .set("residual", true);
    w.add_hparams(&hparams, &[("hparam/accuracy", 0.875)])
        .unwrap();
    w.close().unwrap();
}

fn tensor(v: &summary::Value) -> &TensorProto {
    match &v.value {
        Some(Kind::Tensor(t)) => t,
        other => panic!("{}: not a tensor: {other:?}", v.tag),
    }
}

fn plugin(v: &summary::Value) -> (&str, &[u8]) {
    let p = v.metadata.as_ref().and_then(|m| m.plugin_data.as_ref());
    let p = p.unwrap_or_else(|| panic!("{}: no plugin data", v.tag));
    (p.plugin_name.as_str(), p.content.as_slice())
}

fn dims(t: &TensorProto) -> Vec<i64> {
    t.tensor_shape
        .iter()
        .flat_map(|s| &s.dim)
        .map(|d| d.size)
        .collect()
}

/// The PNG's pixels, as 8-bit height-width-channel bytes.
fn decode_png(png_bytes: &[u8]) -> (u32, u32, usize, Vec<u8>) {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    (info.height, info.width, info.color_type.samples(), buf)
}

/// The samples of a 16-bit mono WAV, checking its 44-byte header.
fn wav_samples(wav: &[u8], sample_rate: u32) -> Vec<i16> {
    assert_eq!(&wav[..4], b"RIFF");
    assert_eq!(&wav[8..16], b"WAVEfmt ");
    assert_eq!(
        u32::from_le_bytes(wav[24..28].try_into().unwrap()),
        sample_rate
    );
    assert_eq!(&wav[36..40], b"data");
    wav[44..]
        .chunks(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect()
}

fn hparams_data(v: &summary::Value) -> Data {
    let (name, content) = plugin(v);
    assert_eq!(name, "hparams");
    let data = HParamsPluginData::decode(content).unwrap();
    assert_eq!(data.version, 0);
    data.data.unwrap()
}

#[test]
fn records_agree_with_tensorboardx() {
    let Some(python) = python() else {
        return; // python() said why
    };
    let dir = tempfile::tempdir().unwrap();
    let (ours_dir, theirs_dir) = (dir.path().join("ours"), dir.path().join("tbx"));
    let i = inputs();
    let spec_path = dir.path().join("spec.json");
    std::fs::write(&spec_path, spec(&i).to_string()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/tbx_records.py");
    let out = run_python(
        &python,
        [
            script.as_os_str(),
            spec_path.as_os_str(),
            theirs_dir.as_os_str(),
        ],
    );
    eprint!("{}", String::from_utf8_lossy(&out));
    write_ours(&ours_dir, &i);

    let (ours_records, theirs_records) = (records(&ours_dir), records(&theirs_dir));
    // The file-version events: the same bytes.
    for r in [&ours_records[0], &theirs_records[0]] {
        assert!(matches!(r.event.what, Some(event::What::FileVersion(_))));
    }
    assert_eq!(
        without_wall_time(&ours_records[0].bytes),
        without_wall_time(&theirs_records[0].bytes)
    );
    let ours = by_tag(&ours_records);
    let mut theirs = by_tag(&theirs_records);
    let mut take = |tag: &str| {
        theirs
            .remove(tag)
            .unwrap_or_else(|| panic!("tensorboardX wrote no {tag:?}"))
    };
    let get = |tag: &str| &ours[tag];

    // Whole events, wall time aside: scalars (hparams' metric too) and
    // the raw histogram.
    for tag in ["loss", "lr", "epoch", "raw", "hparam/accuracy"] {
        let (o, t) = (get(tag), take(tag));
        assert_eq!(o.len(), t.len(), "{tag}");
        for ((_, _, ob), (_, _, tb)) in o.iter().zip(&t) {
            assert_eq!(without_wall_time(ob), without_wall_time(tb), "{tag}");
        }
    }

    // Text: the same string and plugin content, their tag suffixed.
    for (tag, text, step) in TEXTS {
        let (o, t) = (&get(tag)[0], &take(&format!("{tag}/text_summary"))[0]);
        assert_eq!((o.0, t.0), (step, step));
        assert_eq!(plugin(&o.1), plugin(&t.1), "{tag}");
        let (ot, tt) = (tensor(&o.1), tensor(&t.1));
        assert_eq!(ot.dtype, tt.dtype);
        assert_eq!(ot.string_val, tt.string_val);
        assert_eq!(ot.string_val, [text.as_bytes()]);
        assert_eq!((dims(ot), dims(tt)), (vec![], vec![1]));
    }

    // Images: size, channels and pixels.
    for (tag, step) in [("rgb", 1), ("gray", 2), ("rgba", 3), ("chw_floats", 4)] {
        let (o, t) = (&get(tag)[0], &take(tag)[0]);
        assert_eq!((o.0, t.0), (step, step), "{tag}");
        let (Some(Kind::Image(oi)), Some(Kind::Image(ti))) = (&o.1.value, &t.1.value) else {
            panic!("{tag}: not images")
        };
        assert_eq!((oi.height, oi.width), (ti.height, ti.width), "{tag}");
        let (oh, ow, oc, op) = decode_png(&oi.encoded_image_string);
        let (th, tw, tc, tp) = decode_png(&ti.encoded_image_string);
        assert_eq!((oh, ow), (th, tw), "{tag}");
        assert_eq!((oi.colorspace as usize, ti.colorspace as usize), (oc, tc));
        if tag == "gray" {
            assert_eq!((oc, tc), (1, 3));
            let gray_as_rgb: Vec<u8> = op.iter().flat_map(|&g| [g, g, g]).collect();
            assert_eq!(gray_as_rgb, tp, "{tag}");
            assert_eq!(op, i.gray);
        } else {
            assert_eq!(oc, tc, "{tag}");
            assert_eq!(op, tp, "{tag}");
        }
    }

    // Audio: the same WAV file, in the plugin's tensor against the old field.
    let (o, t) = (&get("tone")[0], &take("tone")[0]);
    assert_eq!((o.0, t.0), (6, 6));
    let Some(Kind::Audio(ta)) = &t.1.value else {
        panic!("tensorboardX's audio: {:?}", t.1.value)
    };
    assert_eq!(
        (ta.sample_rate, ta.num_channels, ta.length_frames),
        (8000.0, 1, 800)
    );
    assert_eq!(ta.content_type, "audio/wav");
    let ot = tensor(&o.1);
    assert_eq!(dims(ot), [1, 2]);
    let theirs_samples = wav_samples(&ta.encoded_audio_string, 8000);
    let ours_samples = wav_samples(&ot.string_val[0], 8000);
    assert_eq!(ours_samples.len(), theirs_samples.len());
    if let Some(k) = (0..ours_samples.len()).find(|&k| ours_samples[k] != theirs_samples[k]) {
        panic!(
            "sample {k} ({}): ours {}, tensorboardX's {}",
            i.samples[k], ours_samples[k], theirs_samples[k]
        );
    }
    assert_eq!(
        &theirs_samples[..6],
        &[32767, -32768, 32767, -32768, 32767, -9831]
    );
    assert_eq!(ot.string_val[0], ta.encoded_audio_string);

    // PR curve: the same tensor and plugin content.
    let (o, t) = (&get("pr")[0], &take("pr")[0]);
    assert_eq!((o.0, t.0), (7, 7));
    assert_eq!(plugin(&o.1), plugin(&t.1));
    let content = PrCurvePluginData::decode(plugin(&t.1).1).unwrap();
    assert_eq!(content.num_thresholds, 4);
    assert_eq!(tensor(&o.1), tensor(&t.1));
    assert_eq!(dims(tensor(&o.1)), [6, 4]);

    // Histogram of values: the same statistics and TensorFlow's edges.
    let (o, t) = (&get("weights")[0], &take("weights")[0]);
    assert_eq!((o.0, t.0), (8, 8));
    let (Some(Kind::Histo(oh)), Some(Kind::Histo(th))) = (&o.1.value, &t.1.value) else {
        panic!("weights: not histograms")
    };
    assert_eq!((oh.min, oh.max, oh.num), (th.min, th.max, th.num));
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * a.abs().max(b.abs());
    assert!(close(oh.sum, th.sum), "{} against {}", oh.sum, th.sum);
    assert!(close(oh.sum_squares, th.sum_squares));
    let edges = gradscope_tensorboard::histogram::default_edges();
    for limit in &th.bucket_limit {
        assert!(edges.contains(limit), "{limit} is no TensorFlow edge");
    }
    let below = |h: &gradscope_tensorboard::proto::HistogramProto, edge: f64| -> f64 {
        let n = h.bucket_limit.iter().take_while(|&&l| l <= edge).count();
        h.bucket[..n].iter().sum()
    };
    for &edge in &th.bucket_limit {
        assert_eq!(below(oh, edge), below(th, edge), "values up to {edge}");
    }
    assert_eq!(oh.bucket.iter().sum::<f64>(), th.num);

    // Custom scalars: the same Layout bytes.
    let (o, t) = (
        &get("custom_scalars__config__"),
        &take("custom_scalars__config__"),
    );
    assert_eq!((o.len(), t.len()), (1, 1));
    assert_eq!((o[0].0, t[0].0), (0, 0));
    assert_eq!(plugin(&o[0].1), plugin(&t[0].1));
    assert_eq!(tensor(&o[0].1), tensor(&t[0].1));

    // HParams: the same columns, values and status.
    let (o, t) = (
        &get("_hparams_/experiment")[0],
        &take("_hparams_/experiment")[0],
    );
    let (Data::Experiment(oe), Data::Experiment(te)) = (hparams_data(&o.1), hparams_data(&t.1))
    else {
        panic!("no experiments")
    };
    let columns = |e: &gradscope_tensorboard::proto::hparams::Experiment| {
        let h: Vec<_> = e
            .hparam_infos
            .iter()
            .map(|h| (h.name.clone(), h.r#type))
            .collect();
        let m: Vec<_> = e.metric_infos.iter().map(|m| m.name.clone()).collect();
        (h, m)
    };
    assert_eq!(columns(&oe), columns(&te));
    assert_eq!(columns(&te).0.len(), 4);
    let (o, t) = (
        &get("_hparams_/session_start_info")[0],
        &take("_hparams_/session_start_info")[0],
    );
    let (Data::SessionStartInfo(os), Data::SessionStartInfo(ts)) =
        (hparams_data(&o.1), hparams_data(&t.1))
    else {
        panic!("no session starts")
    };
    assert_eq!(os.hparams, ts.hparams);
    assert_eq!(ts.hparams.len(), 4);
    let (o, t) = (
        &get("_hparams_/session_end_info")[0],
        &take("_hparams_/session_end_info")[0],
    );
    let (Data::SessionEndInfo(oe), Data::SessionEndInfo(te)) =
        (hparams_data(&o.1), hparams_data(&t.1))
    else {
        panic!("no session ends")
    };
    assert_eq!(oe.status, te.status);

    assert!(theirs.is_empty(), "not compared: {:?}", theirs.keys());
}
