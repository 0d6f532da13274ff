//! What several tests share: small, learnable IDX data sets they generate
//! for themselves, the Python with TensorBoard they check against, and (in
//! [`http`]) a tiny HTTP client for TensorBoard's server.

pub mod http;

use std::path::{Path, PathBuf};
use std::process::Command;

use gradscope::data::{write_split, Split};

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

/// Writes a synthetic data set (train and test) into `dir`.
pub fn write_synthetic(dir: &Path, train: usize, test: usize) {
    write_split(dir, false, &synthetic_split(train, 1)).unwrap();
    write_split(dir, true, &synthetic_split(test, 2)).unwrap();
}

/// The Python interpreter with TensorBoard: GRADSCOPE_PYTHON, else the
/// repository's `.venv` (`scripts/setup-venv.sh`); `None` when neither is
/// there, and the TensorBoard tests then skip with a message.
pub fn python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("GRADSCOPE_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    let found = venv.exists().then_some(venv);
    if found.is_none() {
        eprintln!(
            "SKIPPED: no TensorBoard venv; run scripts/setup-venv.sh or set GRADSCOPE_PYTHON"
        );
    }
    found
}

/// Runs the binary's `--scenario all` for 41 iterations, logging every 10,
/// on a synthetic data set written into `dir/data`; returns the logdir
/// (`dir/logs`, holding `sigmoid`, `relu` and `leaky_relu`).
pub fn train_all_on_synthetic(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    write_synthetic(&data, 200, 50);
    let logs = dir.join("logs");
    let out = Command::new(env!("CARGO_BIN_EXE_gradscope"))
        .args([
            "--scenario",
            "all",
            "--iterations",
            "41",
            "--log-every",
            "10",
        ])
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

/// The event files in `dir`, sorted by name.
pub fn event_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("events.out.tfevents."))
        })
        .collect();
    files.sort();
    files
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

/// The training log of an event file: `(step, loss)` of every event that
/// carries a `loss` scalar, and where a truncated last record starts.
pub fn logged_losses(file: &Path) -> (Vec<(i64, f32)>, Option<u64>) {
    use gradscope::proto::{event, summary::value::Value};
    let read = gradscope::summary::read_events(file).unwrap_or_else(|e| panic!("{e}"));
    let losses = read
        .events
        .iter()
        .filter_map(|e| match &e.what {
            Some(event::What::Summary(s)) => s.value.iter().find_map(|v| match v.value {
                Some(Value::SimpleValue(x)) if v.tag == "loss" => Some((e.step, x)),
                _ => None,
            }),
            _ => None,
        })
        .collect();
    (losses, read.truncated_at)
}
