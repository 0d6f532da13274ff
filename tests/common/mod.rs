//! Small, learnable IDX data sets the tests generate for themselves.

#![allow(dead_code)] // each test binary uses a different part

use std::path::{Path, PathBuf};

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

/// The Python with TensorBoard that the compatibility tests load event files
/// with: GRADSCOPE_PYTHON, else the repository's `.venv`. `None` (the test
/// skips, saying so) only when neither is there; `scripts/test.sh` sets it.
pub fn python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("GRADSCOPE_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/python");
    venv.exists().then_some(venv)
}

/// What TensorBoard's own loader (`scripts/tensorboard_load.py`) finds in
/// `logdir`: `{"runs": {run: {tag: {"plugin", "points"}}}}`.
pub fn tensorboard_load(python: &Path, logdir: &Path) -> serde_json::Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/tensorboard_load.py");
    let loaded = std::process::Command::new(python)
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
