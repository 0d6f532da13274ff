//! The binary on bad input: a clear error naming the file or flag, a
//! non-zero exit, never a panic.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn gradscope(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gradscope"))
        .args(args)
        .arg("--no-progress")
        .output()
        .unwrap()
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
        common::write_synthetic(&data, 100, 50);
        std::fs::write(data.join(file), bytes).unwrap();
        let out = run_on(&data, &dir.path().join("logs"));
        assert_clean_failure(&out, &[file, problem]);
    }
}

#[test]
fn gz_that_is_not_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    common::write_synthetic(&data, 100, 50);
    let labels = data.join("t10k-labels-idx1-ubyte");
    std::fs::rename(&labels, data.join("t10k-labels-idx1-ubyte.gz")).unwrap();
    let out = run_on(&data, &dir.path().join("logs"));
    assert_clean_failure(&out, &["t10k-labels-idx1-ubyte.gz", "gzip"]);
}

#[test]
fn logdir_that_is_a_file_fails_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    common::write_synthetic(&data, 100, 50);
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
    common::write_synthetic(&data, 20, 10);
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
    common::write_synthetic(&data, 100, 50);
    let logs = dir.path().join("logs");
    assert!(run_on(&data, &logs).status.success());
    let first: Vec<_> = std::fs::read_dir(logs.join("relu"))
        .unwrap()
        .flatten()
        .collect();
    let first_bytes = std::fs::read(first[0].path()).unwrap();
    let out = run_on(&data, &logs);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("already holds event files"));
    assert_eq!(std::fs::read_dir(logs.join("relu")).unwrap().count(), 2);
    assert_eq!(std::fs::read(first[0].path()).unwrap(), first_bytes);
}

#[test]
fn prints_the_iteration_lines_and_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    common::write_synthetic(&data, 100, 50);
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
    let re_line = stdout
        .lines()
        .find(|l| l.starts_with("Iteration 0 of 20"))
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
