//! What the tests share: the binary, small learnable IDX data sets they write
//! for themselves, a standard short training configuration, the run folders
//! and event files a run leaves and the scalars and histograms in them (read
//! with the library's own reader), the Python with TensorBoard or PyTorch they
//! check against, and (in [`http`] and [`tensorboard_server`]) TensorBoard's
//! server and a tiny HTTP client for it.
//!
//! The library paths the tests use most (the event reader and its protobuf
//! types, the data set, the training configuration) are imported here.

pub mod http;
#[cfg(feature = "object-store")]
pub mod moto;
mod tensorboard_server;

#[cfg(feature = "object-store")]
pub use moto::Moto;
#[cfg(feature = "object-store")]
pub use tensorboard_server::free_port;
pub use tensorboard_server::Server;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gradscope::Activation;
use gradscope::TrainConfig;
use gradscope::{write_split, Dataset, Split};
use gradscope_tensorboard::proto::{event, summary::value::Value, HistogramProto};
use gradscope_tensorboard::{read_events, ReadEvents};

// ---------------------------------------------------------------------------
// The binary

/// The `gradscope` binary Cargo built for these tests.
pub const GRADSCOPE: &str = env!("CARGO_BIN_EXE_gradscope");

/// A command for the binary, to add arguments to.
pub fn gradscope() -> Command {
    Command::new(GRADSCOPE)
}

/// Runs the binary with `args` and waits for it; fails the test if it
/// panicked, whatever its exit status.
pub fn run_gradscope(args: &[&str]) -> Output {
    let out = gradscope().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "panicked: {stderr}");
    out
}

/// Runs the binary's `--scenario all` for 41 iterations, logging every 10,
/// on a synthetic data set written into `dir/data`; returns the logdir
/// (`dir/logs`, holding `sigmoid`, `relu` and `leaky_relu`).
pub fn train_all_on_synthetic(dir: &Path) -> PathBuf {
    train_all_on_synthetic_for(dir, 41, 10)
}

/// [`train_all_on_synthetic`] for `iterations`, logging every `log_every`.
pub fn train_all_on_synthetic_for(dir: &Path, iterations: usize, log_every: usize) -> PathBuf {
    let data = dir.join("data");
    write_synthetic(&data, 200, 50);
    let logs = dir.join("logs");
    let out = gradscope()
        .args(["--scenario", "all"])
        .args(["--iterations", &iterations.to_string()])
        .args(["--log-every", &log_every.to_string()])
        .arg("--data-dir")
        .arg(&data)
        .arg("--logdir")
        .arg(&logs)
        .arg("--no-progress")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    logs
}

// ---------------------------------------------------------------------------
// Synthetic data and a short training run on it

/// 28x28 images where class k is a bright band across rows 2k+2..2k+5,
/// over deterministic noise. Easy to learn, so loss must fall quickly.
pub fn synthetic_split(n: usize, seed: u64) -> Split {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as u32
    };
    let mut pixels = Vec::with_capacity(n * 784);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let label = (i % 10) as u8;
        labels.push(label);
        for row in 0..28 {
            for _col in 0..28 {
                let band = (2 * label as usize + 2..2 * label as usize + 5).contains(&row);
                let noise = (next() % 60) as u8;
                pixels.push(if band { 190 + noise } else { noise });
            }
        }
    }
    Split {
        pixels,
        labels,
        rows: 28,
        cols: 28,
    }
}

/// Writes a synthetic data set (`train` training and `test` test images)
/// into `dir`.
pub fn write_synthetic(dir: &Path, train: usize, test: usize) {
    write_split(dir, false, &synthetic_split(train, 1)).unwrap();
    write_split(dir, true, &synthetic_split(test, 2)).unwrap();
}

/// Writes a synthetic data set into `dir` and loads it, as the library's
/// `train` takes it.
pub fn synthetic_dataset(dir: &Path, train: usize, test: usize) -> Dataset {
    write_synthetic(dir, train, test);
    Dataset::load(dir).unwrap()
}

/// The standard short run on synthetic data: the article's network (6
/// layers of 10, Glorot uniform, Adam at 1e-3, seed 1) for 40 iterations of
/// 20, logging every 10. Tests change fields with `..`.
pub fn small_config(activation: Activation) -> TrainConfig {
    TrainConfig {
        iterations: 40,
        batch_size: 20,
        log_every: 10,
        ..TrainConfig::article(activation)
    }
}

// ---------------------------------------------------------------------------
// Run folders and event files

/// Whether `path` is an event file by TensorBoard's rule: a file with
/// `tfevents` in its name (ours are `events.out.tfevents.*`).
fn is_event_file(path: &Path) -> bool {
    path.is_file()
        && path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().contains("tfevents"))
}

/// The event files in `dir`, sorted by name.
pub fn event_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| is_event_file(p))
        .collect();
    files.sort();
    files
}

/// The one entry in `dir` (a run folder), which must be an event file,
/// besides the checkpoint of a run that did not finish
/// (`checkpoint.safetensors`, see `resume.rs`).
pub fn only_event_file(dir: &Path) -> PathBuf {
    let entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| !p.ends_with("checkpoint.safetensors"))
        .collect();
    assert_eq!(entries.len(), 1, "{}: {entries:?}", dir.display());
    let file = entries.into_iter().next().unwrap();
    assert!(
        is_event_file(&file),
        "not an event file: {}",
        file.display()
    );
    file
}

/// The one run folder in `logdir` (run folders are named after the
/// configuration, e.g. `relu-l3-h8`).
pub fn only_run_dir(logdir: &Path) -> PathBuf {
    let dirs: Vec<PathBuf> = std::fs::read_dir(logdir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(dirs.len(), 1, "{dirs:?}");
    dirs.into_iter().next().unwrap()
}

/// Every event in `file`, read with the library's reader, and where a
/// truncated last record starts; fails the test when the file cannot be
/// read.
pub fn events(file: &Path) -> ReadEvents {
    read_events(file).unwrap_or_else(|e| panic!("{e}"))
}

/// The scalar (`simple_value`) series of an event file.
pub struct Scalars {
    /// tag -> [(step, value)], in file order.
    pub series: BTreeMap<String, Vec<(i64, f32)>>,
    /// Where a truncated last record starts, as the reader reports it.
    pub truncated_at: Option<u64>,
}

impl Scalars {
    /// The points of `tag`; none when the file has no such scalar.
    pub fn get(&self, tag: &str) -> &[(i64, f32)] {
        self.series.get(tag).map_or(&[], Vec::as_slice)
    }

    /// The steps at which `tag` was logged.
    pub fn steps(&self, tag: &str) -> Vec<i64> {
        self.get(tag).iter().map(|&(step, _)| step).collect()
    }
}

/// The scalars of the event file `file`: tag -> [(step, value)].
pub fn scalars(file: &Path) -> Scalars {
    let read = events(file);
    let mut series: BTreeMap<String, Vec<(i64, f32)>> = BTreeMap::new();
    for e in &read.events {
        let Some(event::What::Summary(s)) = &e.what else {
            continue;
        };
        for v in &s.value {
            if let Some(Value::SimpleValue(x)) = v.value {
                series.entry(v.tag.clone()).or_default().push((e.step, x));
            }
        }
    }
    Scalars {
        series,
        truncated_at: read.truncated_at,
    }
}

/// The histograms of the event file `file`: tag -> [(step, histogram)].
pub fn histograms(file: &Path) -> BTreeMap<String, Vec<(i64, HistogramProto)>> {
    let mut series: BTreeMap<String, Vec<(i64, HistogramProto)>> = BTreeMap::new();
    for e in events(file).events {
        let Some(event::What::Summary(s)) = e.what else {
            continue;
        };
        for v in s.value {
            if let Some(Value::Histo(h)) = v.value {
                series.entry(v.tag).or_default().push((e.step, h));
            }
        }
    }
    series
}

// ---------------------------------------------------------------------------
// Python: TensorBoard and PyTorch

/// GRADSCOPE_PYTHON, which the tests needing Python must then find usable
/// (`true`), else the repository's `.venv` (`scripts/setup-venv.sh`), which
/// they may skip without (`false`).
fn configured_python() -> (PathBuf, bool) {
    match std::env::var_os("GRADSCOPE_PYTHON") {
        Some(p) => (PathBuf::from(p), true),
        None => (
            Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python"),
            false,
        ),
    }
}

/// The Python interpreter with TensorBoard: GRADSCOPE_PYTHON, else the
/// repository's `.venv`; `None` when neither is there, and the TensorBoard
/// tests then skip with a message.
pub fn python() -> Option<PathBuf> {
    let (python, required) = configured_python();
    let found = (required || python.exists()).then_some(python);
    if found.is_none() {
        eprintln!(
            "SKIPPED: no TensorBoard venv; run scripts/setup-venv.sh or set GRADSCOPE_PYTHON"
        );
    }
    found
}

/// The Python interpreter with torch and safetensors, found as [`python`]
/// finds it; `None` when GRADSCOPE_PYTHON is unset and `.venv` is missing or
/// lacks them. With GRADSCOPE_PYTHON set, an interpreter that cannot import
/// them fails the test.
pub fn python_with_torch() -> Option<PathBuf> {
    let (python, required) = configured_python();
    let has_torch = Command::new(&python)
        .args(["-c", "import torch, safetensors"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_torch && required {
        panic!(
            "{} cannot import torch and safetensors; run scripts/setup-venv.sh",
            python.display()
        );
    }
    has_torch.then_some(python)
}

/// The Python interpreter with moto's S3 server and boto3 (TensorBoard's
/// S3 client), found as [`python`] finds it; `None` (the object-storage
/// tests skip, saying so) when they are missing and nothing requires them.
/// With GRADSCOPE_PYTHON or GRADSCOPE_REQUIRE_MNIST set (scripts/test.sh
/// sets both), missing ones fail the test.
#[cfg(feature = "object-store")]
pub fn python_with_moto() -> Option<PathBuf> {
    let (python, required) = configured_python();
    let required = required || std::env::var_os("GRADSCOPE_REQUIRE_MNIST").is_some();
    let has_moto = Command::new(&python)
        .args(["-c", "import moto.server, boto3, tensorboard"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_moto {
        assert!(
            !required,
            "{} cannot import moto.server, boto3 and tensorboard; run scripts/setup-venv.sh",
            python.display()
        );
        eprintln!("SKIPPED: no moto[server] and boto3 in the venv; run scripts/setup-venv.sh");
    }
    has_moto.then_some(python)
}

/// The keys of a JSON object (a TensorBoard HTTP answer), sorted.
pub fn keys(j: &serde_json::Value) -> std::collections::BTreeSet<String> {
    j.as_object()
        .unwrap_or_else(|| panic!("not an object: {j}"))
        .keys()
        .cloned()
        .collect()
}

/// What TensorBoard's own loader (`scripts/tensorboard_load.py`) finds in
/// `logdir`: `{"runs": {run: {tag: {"plugin", "points"}}}}`.
pub fn tensorboard_load(python: &Path, logdir: &Path) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/tensorboard_load.py");
    let loaded = Command::new(python)
        .arg(script)
        .arg(logdir)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", python.display()));
    assert!(
        loaded.status.success(),
        "TensorBoard's loader failed: {}",
        String::from_utf8_lossy(&loaded.stderr)
    );
    serde_json::from_slice(&loaded.stdout).unwrap()
}
