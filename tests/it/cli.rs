//! The binary on bad input: a clear error naming the file or flag, a
//! non-zero exit, never a panic.

use std::io::Write;
use std::path::Path;
use std::process::Output;

use gradscope::{encode_idx as encode, IMAGES_MAGIC, LABELS_MAGIC};
use gradscope::{write_split, Split};

use crate::helpers;

/// The binary with `args` and `--no-progress`.
fn gradscope(args: &[&str]) -> Output {
    helpers::run_gradscope(&[args, &["--no-progress"]].concat())
}

fn assert_clean_failure(out: &Output, expect: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "should fail: {stderr}");
    assert!(!stderr.contains("panicked"), "panicked: {stderr}");
    for e in expect {
        assert!(stderr.contains(e), "stderr lacks {e:?}: {stderr}");
    }
}

fn run_on(data: &Path, logdir: &Path) -> Output {
    gradscope(&[
        "--scenario",
        "relu",
        "--iterations",
        "5",
        "--data-dir",
        data.to_str().unwrap(),
        "--logdir",
        logdir.to_str().unwrap(),
    ])
}

#[test]
fn missing_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_on(&dir.path().join("no-such-dir"), &dir.path().join("logs"));
    assert_eq!(out.status.code(), Some(1));
    assert_clean_failure(&out, &["no-such-dir", "fetch-data.sh"]);
}

#[test]
fn broken_data_files_are_named() {
    let cases: &[(&str, &[u8], &str)] = &[
        ("train-images-idx3-ubyte", b"", "too short"),
        ("t10k-labels-idx1-ubyte", b"", "too short"),
        (
            "train-images-idx3-ubyte",
            &[0, 0, 8, 1, 0, 0, 0, 1, 0],
            "wrong magic",
        ),
        (
            "train-images-idx3-ubyte",
            &[0, 0, 8, 3, 0, 0, 0, 9],
            "truncated header",
        ),
        (
            "train-labels-idx1-ubyte",
            &[0, 0, 8, 1, 0, 0, 0, 9, 1],
            "truncated",
        ),
        (
            "t10k-labels-idx1-ubyte",
            &[0, 0, 8, 1, 0, 0, 0, 50, 1],
            "truncated",
        ),
    ];
    for (file, bytes, problem) in cases {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        helpers::write_synthetic(&data, 100, 50);
        std::fs::write(data.join(file), bytes).unwrap();
        let out = run_on(&data, &dir.path().join("logs"));
        assert_clean_failure(&out, &[file, problem]);
    }
}

/// Data sets that are wrong in ways a single file's header cannot show.
#[test]
fn inconsistent_data_sets_are_named() {
    let labels = |n: usize| (0..n).map(|i| (i % 10) as u8).collect::<Vec<u8>>();
    let mut label_10 = labels(100);
    label_10[42] = 10;
    let cases: [(&str, Vec<u8>, &[&str]); 3] = [
        (
            "train-labels-idx1-ubyte",
            encode(LABELS_MAGIC, &[99], &labels(99)),
            &[
                "holds 100 images",
                "train-labels-idx1-ubyte holds 99 labels",
            ],
        ),
        (
            "train-labels-idx1-ubyte",
            encode(LABELS_MAGIC, &[100], &label_10),
            &[
                "train-labels-idx1-ubyte",
                "label 10 at index 42 is outside 0-9",
            ],
        ),
        (
            "t10k-images-idx3-ubyte",
            encode(IMAGES_MAGIC, &[50, 14, 14], &[0; 50 * 14 * 14]),
            &["training images are 28x28 but test images are 14x14"],
        ),
    ];
    for (file, bytes, expect) in cases {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        helpers::write_synthetic(&data, 100, 50);
        std::fs::write(data.join(file), bytes).unwrap();
        let out = run_on(&data, &dir.path().join("logs"));
        assert_clean_failure(&out, expect);
    }
}

#[test]
fn zero_images_and_a_missing_file_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    helpers::write_synthetic(&data, 100, 50);
    std::fs::write(
        data.join("train-images-idx3-ubyte"),
        encode(IMAGES_MAGIC, &[0, 28, 28], &[]),
    )
    .unwrap();
    std::fs::write(
        data.join("train-labels-idx1-ubyte"),
        encode(LABELS_MAGIC, &[0], &[]),
    )
    .unwrap();
    let out = run_on(&data, &dir.path().join("logs"));
    assert_clean_failure(&out, &["train-images-idx3-ubyte", "no images"]);

    helpers::write_synthetic(&data, 100, 50);
    std::fs::remove_file(data.join("t10k-images-idx3-ubyte")).unwrap();
    let out = run_on(&data, &dir.path().join("logs"));
    assert_clean_failure(&out, &["missing t10k-images-idx3-ubyte", "fetch-data.sh"]);
}

#[test]
fn images_of_any_size_train_when_both_splits_agree() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let split = |n: usize| Split {
        pixels: (0..n * 14 * 14).map(|i| (i * 7 % 256) as u8).collect(),
        labels: (0..n).map(|i| (i % 10) as u8).collect(),
        rows: 14,
        cols: 14,
    };
    write_split(&data, false, &split(60)).unwrap();
    write_split(&data, true, &split(20)).unwrap();
    let out = run_on(&data, &dir.path().join("logs"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("images of 14x14"), "{stdout}");
}

#[test]
fn truncated_gzip_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    helpers::write_synthetic(&data, 100, 50);
    let labels = data.join("train-labels-idx1-ubyte");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&std::fs::read(&labels).unwrap()).unwrap();
    let gz = gz.finish().unwrap();
    std::fs::remove_file(&labels).unwrap();
    std::fs::write(data.join("train-labels-idx1-ubyte.gz"), &gz[..gz.len() / 2]).unwrap();
    let out = run_on(&data, &dir.path().join("logs"));
    assert_clean_failure(
        &out,
        &["train-labels-idx1-ubyte.gz", "not a valid gzip file"],
    );
}

#[test]
fn gz_that_is_not_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    helpers::write_synthetic(&data, 100, 50);
    let labels = data.join("t10k-labels-idx1-ubyte");
    std::fs::rename(&labels, data.join("t10k-labels-idx1-ubyte.gz")).unwrap();
    let out = run_on(&data, &dir.path().join("logs"));
    assert_clean_failure(&out, &["t10k-labels-idx1-ubyte.gz", "gzip"]);
}

#[test]
fn logdir_that_is_a_file_fails_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    helpers::write_synthetic(&data, 100, 50);
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"keep me").unwrap();
    for logdir in [file.clone(), file.join("under")] {
        let out = run_on(&data, &logdir);
        assert_clean_failure(&out, &["--logdir", "a-file"]);
        assert!(!String::from_utf8_lossy(&out.stdout).contains("Iteration"));
    }
    assert_eq!(std::fs::read(&file).unwrap(), b"keep me");
}

#[test]
fn batch_larger_than_the_data_set() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    helpers::write_synthetic(&data, 20, 10);
    let out = gradscope(&[
        "--data-dir",
        data.to_str().unwrap(),
        "--logdir",
        dir.path().join("logs").to_str().unwrap(),
        "--batch-size",
        "21",
    ]);
    assert_clean_failure(&out, &["--batch-size 21", "20 images"]);
}

#[test]
fn a_rerun_keeps_the_earlier_files() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    helpers::write_synthetic(&data, 100, 50);
    let logs = dir.path().join("logs");
    assert!(run_on(&data, &logs).status.success());
    let first = helpers::only_event_file(&logs.join("relu"));
    let first_bytes = std::fs::read(&first).unwrap();
    let out = run_on(&data, &logs);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("already holds event files"));
    assert_eq!(std::fs::read_dir(logs.join("relu")).unwrap().count(), 2);
    assert_eq!(std::fs::read(&first).unwrap(), first_bytes);
}

#[test]
fn prints_the_iteration_lines_and_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    helpers::write_synthetic(&data, 100, 50);
    let out = gradscope(&[
        "--data-dir",
        data.to_str().unwrap(),
        "--logdir",
        dir.path().join("logs").to_str().unwrap(),
        "--iterations",
        "20",
        "--log-every",
        "10",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("Iteration 10 of 20, loss: "), "{stdout}");
    // With --jobs above 1 (the default on 4 cores and more), a run's lines
    // start with its name.
    let re_line = stdout
        .lines()
        .find(|l| l.contains("Iteration 0 of 20"))
        .unwrap();
    assert!(re_line.ends_with('%') && re_line.contains("train accuracy: "));
    for run in ["sigmoid", "relu", "leaky_relu"] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(run) && l.contains('x')),
            "{stdout}"
        );
        assert!(dir.path().join("logs").join(run).is_dir());
    }
}

#[test]
fn bad_flags_exit_2_naming_the_flag() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["--layers", "0"], &["--layers"]),
        (&["--hidden", "0"], &["--hidden"]),
        (&["--batch-size", "0"], &["--batch-size"]),
        (&["--iterations", "0"], &["--iterations"]),
        (&["--log-every", "0"], &["--log-every"]),
        (&["--lr", "0"], &["--lr", "positive, finite"]),
        (&["--lr", "-0.5"], &["--lr", "positive, finite"]),
        (&["--lr", "NaN"], &["--lr", "positive, finite"]),
        (&["--lr", "inf"], &["--lr", "positive, finite"]),
        (&["--lr", "fast"], &["--lr", "not a number"]),
        (
            &["--scenario", "swish"],
            &["--scenario", "sigmoid", "relu", "leaky_relu", "all"],
        ),
        (
            &["--activation", "swish"],
            &["--activation", "sigmoid", "relu", "leaky_relu"],
        ),
        (
            &["--dataset", "cifar"],
            &["--dataset", "mnist", "fashion-mnist"],
        ),
        (&["--engine", "torch"], &["--engine", "fused, candle-nn"]),
        (&["--device", "gpu"], &["--device", "cpu, cuda, cuda:N"]),
    ];
    for (args, expect) in cases {
        let out = gradscope(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_clean_failure(&out, expect);
    }
}

/// A device the run cannot use is refused before training, naming the
/// flags: the fused engine off the CPU, a GPU in a build without CUDA.
#[test]
fn a_device_the_engine_cannot_use_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    helpers::write_synthetic(&data, 100, 50);
    let logs = dir.path().join("logs");
    let run = |engine: &str| {
        gradscope(&[
            "--scenario",
            "relu",
            "--engine",
            engine,
            "--device",
            "cuda:1",
            "--data-dir",
            data.to_str().unwrap(),
            "--logdir",
            logs.to_str().unwrap(),
        ])
    };
    let out = run("fused");
    assert_eq!(out.status.code(), Some(1));
    assert_clean_failure(&out, &["--engine fused with --device cuda:1", "CPU only"]);
    if !candle_core::utils::cuda_is_available() {
        let out = run("candle-nn");
        assert_eq!(out.status.code(), Some(1));
        assert_clean_failure(&out, &["--device cuda:1", "--features cuda"]);
    }
}

/// The candle-nn engine trains the same network to the same figures as
/// the fused one, on the CPU.
#[test]
fn the_candle_nn_engine_trains_like_the_fused_one() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    helpers::write_synthetic(&data, 200, 50);
    let losses = |engine: &str| {
        let logs = dir.path().join(engine);
        let out = gradscope(&[
            "--scenario",
            "relu",
            "--iterations",
            "30",
            "--engine",
            engine,
            "--data-dir",
            data.to_str().unwrap(),
            "--logdir",
            logs.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let file = helpers::only_event_file(&logs.join("relu"));
        helpers::scalars(&file).get("loss").to_vec()
    };
    let (fused, standard) = (losses("fused"), losses("candle-nn"));
    assert_eq!(fused.len(), standard.len());
    for ((step, a), (_, b)) in fused.iter().zip(&standard) {
        assert!(
            (a - b).abs() <= 1e-3 * a.abs().max(1.0),
            "step {step}: {a} against {b}"
        );
    }
}

#[test]
fn a_network_too_large_for_memory_is_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    helpers::write_synthetic(&data, 100, 50);
    let out = gradscope(&[
        "--hidden",
        "1000000",
        "--layers",
        "3",
        "--data-dir",
        data.to_str().unwrap(),
        "--logdir",
        dir.path().join("logs").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_clean_failure(&out, &["--layers 3 and --hidden 1000000", "parameters"]);
}

#[test]
fn a_logdir_that_cannot_be_created_fails_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    helpers::write_synthetic(&data, 100, 50);
    // Tests run as root, so permissions stop nothing; /proc refuses new
    // folders to everyone.
    let out = run_on(&data, Path::new("/proc/gradscope-test/logs"));
    assert_clean_failure(
        &out,
        &["--logdir /proc/gradscope-test/logs", "cannot create"],
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Iteration"));
}

#[test]
fn a_file_where_a_run_folder_goes_fails_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    helpers::write_synthetic(&data, 100, 50);
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::write(logs.join("leaky_relu"), b"keep me").unwrap();
    let out = gradscope(&[
        "--iterations",
        "5",
        "--data-dir",
        data.to_str().unwrap(),
        "--logdir",
        logs.to_str().unwrap(),
    ]);
    assert_clean_failure(&out, &["leaky_relu", "not a directory"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("Iteration"), "trained first: {stdout}");
    assert_eq!(std::fs::read(logs.join("leaky_relu")).unwrap(), b"keep me");
}

#[test]
fn divergence_is_reported_with_its_iteration_and_what_was_logged_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    helpers::write_synthetic(&data, 300, 50);
    let logs = dir.path().join("logs");
    let out = gradscope(&[
        "--scenario",
        "relu",
        "--lr",
        "1e6",
        "--iterations",
        "1000",
        "--log-every",
        "5",
        "--data-dir",
        data.to_str().unwrap(),
        "--logdir",
        logs.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_clean_failure(&out, &["relu-lr1000000: training diverged at iteration "]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let at: i64 = stderr
        .split("diverged at iteration ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{stderr}"));

    // Every logged step up to the divergence is there, the last one being
    // the divergence itself, with its non-finite loss.
    let file = helpers::only_event_file(&helpers::only_run_dir(&logs));
    let scalars = helpers::scalars(&file);
    assert_eq!(scalars.truncated_at, None);
    let losses = scalars.get("loss");
    let steps = scalars.steps("loss");
    let mut expected: Vec<i64> = (0..at).filter(|s| s % 5 == 0).collect();
    expected.push(at);
    expected.dedup();
    assert_eq!(steps, expected);
    let loss = losses.last().unwrap().1;
    let gradient_named = stderr.contains("the gradient of layer ");
    assert!(!loss.is_finite() || gradient_named, "{stderr}");
    // Where it began, re-run on the host: a layer's value at that iteration.
    assert!(
        stderr.contains("; the first non-finite value: layer "),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(" pass at iteration {at} (")),
        "{stderr}"
    );
}
