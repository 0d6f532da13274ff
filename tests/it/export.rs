//! `gradscope export`: read back by pandas with the right types and the
//! values TensorBoard's own loader finds in the same logdir; filters, bad
//! regexes, `--output`, non-finite values and other writers' files.

use std::path::Path;
use std::process::{Command, Output};

use gradscope_tensorboard::summary::{scalar, summary_event};
use gradscope_tensorboard::EventWriter;

use crate::helpers::{self, run_gradscope, train_all_on_synthetic_for};

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "export failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The Python with TensorBoard, which must also have pandas.
fn python_with_pandas() -> Option<std::path::PathBuf> {
    let python = helpers::python()?;
    let has = Command::new(&python)
        .args(["-c", "import pandas"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        has,
        "{} cannot import pandas; run scripts/setup-venv.sh",
        python.display()
    );
    Some(python)
}

/// Runs `script` with `args`; fails the test with its stderr if it fails.
fn python_check(python: &Path, script: &str, args: &[&str]) -> String {
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pandas check failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const CHECK_AGAINST_TENSORBOARD: &str = r#"
import json, subprocess, sys
import numpy as np
import pandas as pd
csv, jsonl, buckets, loader, logdir, parquet, parquet_buckets = sys.argv[1:8]
# TensorBoard's loader read here, not through serde_json, whose parsing of
# floats is not exact to the last bit.
loaded = subprocess.run([sys.executable, loader, logdir], check=True, capture_output=True)
tb = json.loads(loaded.stdout)["runs"]
frames = {
    "csv": pd.read_csv(csv, float_precision="round_trip"),
    "jsonl": pd.read_json(jsonl, lines=True, convert_dates=False, precise_float=True),
}
if parquet != "none":
    import pyarrow as pa
    import pyarrow.parquet as pq
    table = pq.read_table(parquet)
    types = {f.name: f.type for f in table.schema}
    assert all(types[c] == pa.string() for c in ["run", "tag", "kind"]), types
    assert types["step"] == pa.int64(), types
    numbers = ["wall_time", "value", "count", "min", "max", "mean", "p10", "p50", "p90"]
    assert all(types[c] == pa.float64() for c in numbers), types
    assert table.schema.field("value").nullable and not table.schema.field("step").nullable
    frames["parquet"] = table.to_pandas()
    # The same rows as the CSV, to the bit (nulls where CSV cells are empty).
    pd.testing.assert_frame_equal(frames["parquet"], frames["csv"], check_exact=True)
scalars = histograms = 0
for name, df in frames.items():
    assert str(df["step"].dtype) == "int64", (name, df.dtypes)
    for column in ["wall_time", "value", "count", "min", "max", "mean", "p10", "p50", "p90"]:
        assert str(df[column].dtype) == "float64", (name, column, df.dtypes)
    assert set(df["kind"]) == {"scalar", "histogram"}, set(df["kind"])
    for run, tags in tb.items():
        for tag, data in tags.items():
            rows = df[(df["run"] == run) & (df["tag"] == tag)]
            if data["plugin"] == "scalars":
                assert list(rows["kind"]) == ["scalar"] * len(rows), (run, tag)
                got = [[int(s), float(v)] for s, v in zip(rows["step"], rows["value"])]
                assert got == data["points"], (name, run, tag, got[:3], data["points"][:3])
                scalars += 1
            elif data["plugin"] == "histograms":
                assert list(rows["step"]) == [p[0] for p in data["points"]], (run, tag)
                histograms += 1
    h = df[df["kind"] == "histogram"]
    assert len(h) > 0
    ordered = ((h["min"] <= h["p10"]) & (h["p10"] <= h["p50"]) & (h["p50"] <= h["p90"])
               & (h["p90"] <= h["max"]))
    assert ordered.all(), h[~ordered].head().to_string()
assert scalars > 0 and histograms > 0, (scalars, histograms)

# Buckets: TensorBoard's (whose loader rounds the HistogramProto form's
# edges to f32; export keeps f64), and the summary count is their sum.
b = pd.read_csv(buckets, float_precision="round_trip")
for column in ["left", "right", "count"]:
    assert str(b[column].dtype) == "float64", b.dtypes
for run, tags in tb.items():
    for tag, data in tags.items():
        if data["plugin"] != "histograms":
            continue
        rows = b[(b["run"] == run) & (b["tag"] == tag)]
        got = []
        for step, group in rows.groupby("step", sort=False):
            got.append([int(step), [[float(np.float32(l)), float(np.float32(r)), float(c)]
                       for l, r, c in zip(group["left"], group["right"], group["count"])]])
        assert got == data["points"], (run, tag, got[:1], data["points"][:1])
sums = b[b["kind"] == "histogram"].groupby(["run", "tag", "step"])["count"].sum()
summary = frames["csv"][frames["csv"]["kind"] == "histogram"].set_index(["run", "tag", "step"])["count"]
assert len(summary) == len(sums) > 0
assert (summary.sort_index() == sums.sort_index()).all()
if parquet_buckets != "none":
    pb = pq.read_table(parquet_buckets).to_pandas()
    pd.testing.assert_frame_equal(pb, b, check_exact=True)
print(scalars, histograms)
"#;

#[test]
fn export_matches_tensorboards_loader_through_pandas() {
    let Some(python) = python_with_pandas() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let logs = train_all_on_synthetic_for(dir.path(), 21, 10);
    let csv = dir.path().join("points.csv");
    ok(run_gradscope(&["export", s(&logs), "--output", s(&csv)]));
    let jsonl = dir.path().join("points.jsonl");
    std::fs::write(
        &jsonl,
        ok(run_gradscope(&["export", s(&logs), "--format", "jsonl"])),
    )
    .unwrap();
    let buckets = dir.path().join("buckets.csv");
    let args = ["export", s(&logs), "--histograms", "buckets"];
    std::fs::write(&buckets, ok(run_gradscope(&args))).unwrap();
    // With the `parquet` feature, the same exports as Parquet files.
    let (parquet, parquet_buckets) = if cfg!(feature = "parquet") {
        let (points, buckets) = (dir.path().join("p.parquet"), dir.path().join("b.parquet"));
        let args = [
            "export",
            s(&logs),
            "--format",
            "parquet",
            "--output",
            s(&points),
        ];
        ok(run_gradscope(&args));
        let args = ["--histograms", "buckets", "--output", s(&buckets)];
        ok(run_gradscope(
            &[&["export", s(&logs), "--format", "parquet"], &args[..]].concat(),
        ));
        (points, buckets)
    } else {
        ("none".into(), "none".into())
    };
    // scripts/tensorboard_load.py, as helpers::tensorboard_load runs it.
    let loader = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/tensorboard_load.py");
    let counted = python_check(
        &python,
        CHECK_AGAINST_TENSORBOARD,
        &[
            s(&csv),
            s(&jsonl),
            s(&buckets),
            s(&loader),
            s(&logs),
            s(&parquet),
            s(&parquet_buckets),
        ],
    );
    println!("scalar and histogram tags checked: {counted}");
}

/// Parquet goes to a file: without `--output` it is a flag error; in a
/// build without the `parquet` feature, a clear error and no file.
#[test]
fn parquet_needs_an_output_file_and_the_feature() {
    let dir = tempfile::tempdir().unwrap();
    let logs = train_all_on_synthetic_for(dir.path(), 11, 10);
    let out = run_gradscope(&["export", s(&logs), "--format", "parquet"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--output"));
    let file = dir.path().join("p.parquet");
    let out = run_gradscope(&["export", s(&logs), "--format", "parquet", "-o", s(&file)]);
    if cfg!(feature = "parquet") {
        ok(out);
        assert_eq!(&std::fs::read(&file).unwrap()[..4], b"PAR1");
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("--features parquet"), "{stderr}");
        assert!(!file.exists());
    }
}

#[test]
fn non_finite_values_read_back_as_floats() {
    let Some(python) = python_with_pandas() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let mut w = EventWriter::create(&logs.join("odd, \"run\"")).unwrap();
    for (step, v) in [
        (0, f32::NAN),
        (1, f32::INFINITY),
        (2, f32::NEG_INFINITY),
        (3, 0.1),
    ] {
        w.write_event(&summary_event(step, 1.5, vec![scalar("loss", v)]))
            .unwrap();
    }
    w.close().unwrap();
    let csv = ok(run_gradscope(&["export", s(&logs)]));
    assert!(
        csv.contains("\"odd, \"\"run\"\"\",loss,scalar,0,1.5,nan,"),
        "{csv}"
    );
    assert!(csv.contains(",-inf,"), "{csv}");
    let jsonl = ok(run_gradscope(&["export", s(&logs), "--format", "jsonl"]));
    assert!(jsonl.contains("\"value\":\"NaN\""), "{jsonl}");
    assert!(jsonl.contains("\"value\":\"Infinity\""), "{jsonl}");
    assert!(jsonl.contains("\"value\":\"-Infinity\""), "{jsonl}");
    let (csv_path, jsonl_path) = (dir.path().join("a.csv"), dir.path().join("a.jsonl"));
    std::fs::write(&csv_path, csv).unwrap();
    std::fs::write(&jsonl_path, jsonl).unwrap();
    let script = r#"
import math, sys
import pandas as pd
expected = ["nan", "inf", "-inf", repr(float.fromhex("0x1.99999ap-4"))]
c = pd.read_csv(sys.argv[1], float_precision="round_trip")
assert str(c["value"].dtype) == "float64", c.dtypes
assert [repr(v) for v in c["value"]] == expected, list(c["value"])
assert list(c["run"]) == ['odd, "run"'] * 4
j = pd.read_json(sys.argv[2], lines=True, convert_dates=False, precise_float=True)
values = j["value"].astype(float)
assert [repr(v) for v in values] == expected, list(values)
"#;
    python_check(&python, script, &[s(&csv_path), s(&jsonl_path)]);
}

#[test]
fn tags_and_runs_select_by_regex() {
    let dir = tempfile::tempdir().unwrap();
    let logs = train_all_on_synthetic_for(dir.path(), 11, 10);
    let all = ok(run_gradscope(&["export", s(&logs)]));
    let runs_of = |csv: &str| -> std::collections::BTreeSet<String> {
        csv.lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap().to_string())
            .collect()
    };
    assert_eq!(runs_of(&all).len(), 3, "{all}");
    let relus = ok(run_gradscope(&["export", s(&logs), "--runs", "relu$"]));
    let expected: std::collections::BTreeSet<String> =
        ["leaky_relu", "relu"].map(String::from).into();
    assert_eq!(runs_of(&relus), expected);
    let loss = ok(run_gradscope(&["export", s(&logs), "--tags", "^loss$"]));
    let lines: Vec<&str> = loss.lines().collect();
    assert!(lines.len() > 3, "{loss}");
    assert!(lines[1..]
        .iter()
        .all(|l| l.split(',').nth(1) == Some("loss")));
    assert!(lines.len() < all.lines().count());
    // Nothing matches: the header only, and a warning.
    let none = run_gradscope(&["export", s(&logs), "--runs", "^nothing$"]);
    assert!(String::from_utf8_lossy(&none.stderr).contains("no points"));
    assert_eq!(ok(none).lines().count(), 1);
}

#[test]
fn a_bad_regex_names_its_flag() {
    for flag in ["--tags", "--runs"] {
        let out = run_gradscope(&["export", "logs", flag, "loss("]);
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag), "{err}");
        assert!(err.contains("regular expression"), "{err}");
    }
}

#[test]
fn output_replaces_the_file_whole_and_stdout_stays_empty() {
    let dir = tempfile::tempdir().unwrap();
    let logs = train_all_on_synthetic_for(dir.path(), 11, 10);
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let file = out_dir.join("points.jsonl");
    std::fs::write(&file, "an older, longer export\n".repeat(10_000)).unwrap();
    let out = run_gradscope(&["export", s(&logs), "-o", s(&file), "--format", "jsonl"]);
    assert_eq!(ok(out), "");
    let written = std::fs::read_to_string(&file).unwrap();
    let expected = ok(run_gradscope(&["export", s(&logs), "--format", "jsonl"]));
    assert_eq!(written, expected);
    assert!(written.lines().all(|l| l.starts_with("{\"run\":")));
    // No temporary file is left beside it.
    assert_eq!(std::fs::read_dir(&out_dir).unwrap().count(), 1);
    // A folder that does not exist: an error, and no file.
    let missing = out_dir.join("missing/points.csv");
    let out = run_gradscope(&["export", s(&logs), "-o", s(&missing)]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing/points.csv"));
}

#[test]
fn other_writers_files_export() {
    let foreign = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/foreign");
    for format in ["csv", "jsonl"] {
        for histograms in ["summary", "buckets"] {
            let out = run_gradscope(&[
                "export",
                s(&foreign),
                "--format",
                format,
                "--histograms",
                histograms,
            ]);
            let err = String::from_utf8_lossy(&out.stderr).into_owned();
            let text = ok(out);
            // TensorFlow's tensor histograms and tensorboardX's protos.
            assert!(
                text.contains("tensorflow") && text.contains("split/train"),
                "{text}"
            );
            assert!(text.contains("histogram"), "{text}");
            assert!(err.contains("left out") && err.contains("text"), "{err}");
        }
    }
}

#[test]
fn a_closed_stdout_ends_it_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let logs = train_all_on_synthetic_for(dir.path(), 11, 10);
    let mut child = helpers::gradscope()
        .args(["export", s(&logs), "--histograms", "buckets"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Closed before the first row is written: every write then fails.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(out.status.success(), "{err}");
}
