//! `--save` and `--init-from` through the binary: a checkpoint saved by one
//! run seeds the next, and a mismatched one is refused clearly.

use std::path::Path;
use std::process::Output;

use crate::helpers;

fn gradscope(data: &Path, logdir: &Path, extra: &[&str]) -> Output {
    helpers::gradscope()
        .args([
            "--activation",
            "tanh",
            "--iterations",
            "30",
            "--log-every",
            "10",
        ])
        .arg("--data-dir")
        .arg(data)
        .arg("--logdir")
        .arg(logdir)
        .arg("--no-progress")
        .args(extra)
        .output()
        .unwrap()
}

/// (sum, min, max) of hist_weights_{layer} at step 0 of the only run in `logdir`.
fn first_weights(logdir: &Path, layer: usize) -> (f64, f64, f64) {
    let file = helpers::only_event_file(&helpers::only_run_dir(logdir));
    let histograms = helpers::histograms(&file);
    let tag = format!("hist_weights_{layer}");
    let (_, h) = histograms
        .get(&tag)
        .and_then(|points| points.iter().find(|(step, _)| *step == 0))
        .unwrap_or_else(|| panic!("no {tag} at step 0"));
    (h.sum, h.min, h.max)
}

#[test]
fn a_checkpoint_saved_by_one_run_seeds_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    helpers::write_synthetic(&data, 100, 20);
    let saved = dir.path().join("ckpt/first.safetensors");
    let out = gradscope(
        &data,
        &dir.path().join("a"),
        &["--save", saved.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("final weights saved to"));

    let out = gradscope(
        &data,
        &dir.path().join("b"),
        &["--init-from", saved.to_str().unwrap(), "--seed", "99"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = helpers::only_run_dir(&dir.path().join("b"));
    assert_eq!(run.file_name().unwrap(), "tanh-from-checkpoint-s99");

    // Run b starts exactly where run a ended.
    let device = candle_core::Device::Cpu;
    let ckpt = candle_core::safetensors::load(&saved, &device).unwrap();
    for layer in 1..=6 {
        let w = ckpt[&format!("layer{layer}.weight")]
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let sum: f64 = w.iter().map(|&x| f64::from(x)).sum();
        let min = w.iter().copied().fold(f32::INFINITY, f32::min);
        let max = w.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let (h_sum, h_min, h_max) = first_weights(&dir.path().join("b"), layer);
        assert!(
            (h_sum - sum).abs() < 1e-9 * (1.0 + sum.abs()),
            "layer {layer}: {h_sum} vs {sum}"
        );
        assert_eq!(
            (h_min, h_max),
            (f64::from(min), f64::from(max)),
            "layer {layer}"
        );
    }
}

#[test]
fn a_mismatched_checkpoint_is_refused_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    helpers::write_synthetic(&data, 100, 20);
    let saved = dir.path().join("w.safetensors");
    let out = gradscope(
        &data,
        &dir.path().join("a"),
        &["--save", saved.to_str().unwrap()],
    );
    assert!(out.status.success());
    let out = gradscope(
        &data,
        &dir.path().join("b"),
        &["--init-from", saved.to_str().unwrap(), "--hidden", "12"],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--init-from") && stderr.contains("layer1.weight has shape [10, 784]"),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Iteration"));
}
