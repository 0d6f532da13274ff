//! `inspect`, `compare`, `plot` and REPORT.md, mostly through the binary:
//! on our own runs, on files cut short or corrupted, on files TensorFlow and
//! tensorboardX wrote (tests/fixtures/foreign), and on a logdir with only
//! the tags older gradscope versions wrote.

use std::path::{Path, PathBuf};
use std::process::Output;

use gradscope::comparison_rows;
use gradscope::Activation;
use gradscope::RunSummary;
use gradscope::{train, TrainConfig};
use gradscope_tensorboard::logdir::Logdir;
use gradscope_tensorboard::summary::{histogram, scalar, summary_event};
use gradscope_tensorboard::EventWriter;

use crate::helpers::{self, only_event_file, run_gradscope};

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn foreign() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/foreign")
}

/// Two short runs (relu, sigmoid) trained on generated data into `logs`.
fn trained_logdir(dir: &Path) -> (PathBuf, Vec<RunSummary>) {
    let data = helpers::synthetic_dataset(&dir.join("data"), 200, 50);
    let logs = dir.join("logs");
    let runs = [Activation::Relu, Activation::Sigmoid]
        .into_iter()
        .map(|activation| {
            let cfg = TrainConfig {
                layers: 3,
                hidden: 8,
                iterations: 41,
                lr: 0.01,
                seed: 5,
                ..helpers::small_config(activation)
            };
            train(
                activation.name(),
                &data,
                &cfg,
                &logs.join(activation.name()),
            )
            .unwrap()
            .0
        })
        .collect();
    (logs, runs)
}

/// Byte offsets at which the file's records start.
fn record_offsets(bytes: &[u8]) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        offsets.push(at);
        let len = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
        at += len + 16;
    }
    offsets
}

/// The whitespace-separated cells of the `tag` row under `run` in an
/// inspect listing.
fn tag_row(listing: &str, run: &str, tag: &str) -> Vec<String> {
    let section = listing
        .split("\nrun ")
        .find(|s| s.lines().next() == Some(run))
        .unwrap_or_else(|| panic!("no run {run} in:\n{listing}"));
    section
        .lines()
        .map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>())
        .find(|cells| cells.first().map(String::as_str) == Some(tag))
        .unwrap_or_else(|| panic!("no tag {tag} in run {run}:\n{listing}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-5 * a.abs().max(b.abs())
}

#[test]
fn inspect_lists_runs_tags_kinds_points_and_last_values() {
    let dir = tempfile::tempdir().unwrap();
    let (logs, runs) = trained_logdir(dir.path());
    let out = run_gradscope(&["inspect", s(&logs)]);
    let listing = stdout(&out);
    assert!(out.status.success(), "{listing}{}", stderr(&out));
    assert!(listing.starts_with(&format!("{}: 2 runs", logs.display())));
    for run in &runs {
        let loss = tag_row(&listing, &run.name, "loss");
        assert_eq!(loss[..5], ["loss", "scalar", "5", "0", "40"], "{listing}");
        assert!(
            close(loss[5].parse().unwrap(), run.final_loss.into()),
            "{loss:?}"
        );
        let test_acc = tag_row(&listing, &run.name, "test_acc");
        assert_eq!(test_acc[..5], ["test_acc", "scalar", "1", "41", "41"]);
        assert!(close(test_acc[5].parse().unwrap(), run.test_acc.into()));
        for l in 1..=3 {
            let hist = tag_row(&listing, &run.name, &format!("histogram_{l}"));
            assert_eq!(hist[1..], ["histogram", "5", "0", "40", "-"]);
        }
    }
}

#[test]
fn inspect_reads_a_file_cut_short_mid_record_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (logs, _) = trained_logdir(dir.path());
    let bytes = std::fs::read(only_event_file(&logs.join("relu"))).unwrap();
    let offsets = record_offsets(&bytes);
    let last = *offsets.last().unwrap();
    // What a writer killed while writing the last record leaves.
    let cut = dir.path().join("events.out.tfevents.cut");
    std::fs::write(&cut, &bytes[..bytes.len() - 7]).unwrap();

    let out = run_gradscope(&["inspect", s(&cut)]);
    let (listing, warnings) = (stdout(&out), stderr(&out));
    assert!(out.status.success(), "{warnings}");
    assert!(
        warnings.contains("warning:")
            && warnings.contains(&format!("byte offset {last}"))
            && warnings.contains("events.out.tfevents.cut"),
        "{warnings}"
    );
    let events = offsets.len() - 1;
    assert!(
        listing.contains(&format!("{events} events (cut short at byte {last})")),
        "{listing}"
    );
    // The lost record held the end-of-training accuracies.
    assert!(!listing.contains("test_acc"), "{listing}");
    assert_eq!(tag_row(&listing, ".", "loss")[2], "5");
}

#[test]
fn inspect_names_a_corrupt_record_by_offset_and_still_lists_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let (logs, _) = trained_logdir(dir.path());
    let path = only_event_file(&logs.join("relu"));
    let mut bytes = std::fs::read(&path).unwrap();
    let third = record_offsets(&bytes)[2];
    bytes[third + 20] ^= 0x55; // inside the third record's payload
    std::fs::write(&path, &bytes).unwrap();

    let out = run_gradscope(&["inspect", s(&logs)]);
    let (listing, errors) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(1), "{errors}");
    assert!(
        errors.contains(&format!(
            "{}: corrupt record at byte offset {third}: payload CRC mismatch",
            path.display()
        )),
        "{errors}"
    );
    assert!(
        errors.contains("1 event file(s) could not be read"),
        "{errors}"
    );
    // The file's first two records (file version, graph) are still listed.
    assert!(
        listing.contains("2 events, then an unreadable record (see below)"),
        "{listing}"
    );
    assert_eq!(tag_row(&listing, "sigmoid", "loss")[2], "5");
}

#[test]
fn inspect_reads_files_written_by_tensorflow_and_tensorboardx() {
    let out = run_gradscope(&["inspect", s(&foreign())]);
    let listing = stdout(&out);
    assert!(out.status.success(), "{listing}{}", stderr(&out));
    assert!(listing.contains(": 4 runs"), "{listing}");
    // TF2: scalars as DT_FLOAT tensor_content, histograms as k x 3 tensors.
    let loss = tag_row(&listing, "tensorflow", "loss");
    assert_eq!(loss[..5], ["loss", "scalar", "5", "0", "40"]);
    assert!(close(loss[5].parse().unwrap(), 1.0 / 41.0), "{loss:?}");
    assert_eq!(tag_row(&listing, "tensorflow", "acc")[5], "0.8");
    assert_eq!(
        tag_row(&listing, "tensorflow", "weights")[1..3],
        ["histogram", "5"]
    );
    assert_eq!(
        tag_row(&listing, "tensorflow", "notes")[1..3],
        ["text", "1"]
    );
    // tensorboardX: simple_value scalars, HistogramProto, text tensors, and
    // add_scalars' nested folders as runs.
    let loss = tag_row(&listing, "tensorboardx", "loss");
    assert!(close(loss[5].parse().unwrap(), 2.0 / 41.0), "{loss:?}");
    assert_eq!(tag_row(&listing, "tensorboardx", "grads")[1], "histogram");
    assert_eq!(
        tag_row(&listing, "tensorboardx", "notes/text_summary")[1],
        "text"
    );
    assert_eq!(
        tag_row(&listing, "tensorboardx/split/train", "split")[5],
        "20"
    );
    assert_eq!(
        tag_row(&listing, "tensorboardx/split/test", "split")[5],
        "10"
    );

    // One file given alone.
    let file = only_event_file(&foreign().join("tensorflow"));
    let out = run_gradscope(&["inspect", s(&file)]);
    assert!(out.status.success());
    assert_eq!(tag_row(&stdout(&out), ".", "acc")[5], "0.8");
}

#[test]
fn bad_paths_fail_cleanly_naming_them() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-logdir");
    for cmd in ["inspect", "compare", "plot"] {
        let out = run_gradscope(&[cmd, s(&missing)]);
        assert_eq!(out.status.code(), Some(1), "{cmd}");
        assert!(
            stderr(&out).contains("no-such-logdir"),
            "{cmd}: {}",
            stderr(&out)
        );
    }
    // A file that is not an event file at all.
    let readme = foreign().join("README.md");
    let out = run_gradscope(&["inspect", s(&readme)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("README.md: corrupt record at byte offset 0"),
        "{}",
        stderr(&out)
    );
    // A folder without event files, and a file where a logdir is needed.
    let out = run_gradscope(&["inspect", s(dir.path())]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no event files found"),
        "{}",
        stderr(&out)
    );
    for cmd in ["compare", "plot"] {
        let out = run_gradscope(&[cmd, s(&readme)]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr(&out).contains("is not a directory"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn compare_in_each_format_matches_the_training_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (logs, runs) = trained_logdir(dir.path());

    let out = run_gradscope(&["compare", s(&logs), "--format", "csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = stdout(&out);
    let lines: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    assert_eq!(
        lines[0],
        [
            "run",
            "loss",
            "batch_acc",
            "train_acc",
            "test_acc",
            "attenuation",
            "mean_grad_1",
            "mean_grad_2",
            "mean_grad_3"
        ]
    );
    assert_eq!(lines.len(), 3, "{csv}");
    // Runs in name order: relu, sigmoid.
    for (cells, run) in lines[1..].iter().zip(&runs) {
        assert_eq!(cells.len(), lines[0].len());
        assert_eq!(cells[0], run.name);
        let num = |i: usize| cells[i].parse::<f64>().unwrap();
        // Logged float32 values come back exactly, printed as float32.
        let logged = |i: usize| cells[i].parse::<f32>().unwrap();
        assert_eq!(logged(1), run.final_loss);
        assert_eq!(logged(2), run.final_batch_acc);
        assert_eq!(logged(3), run.train_acc);
        assert_eq!(logged(4), run.test_acc);
        // The logged means are float32; training averaged the float64s.
        assert!(close(num(5), run.attenuation()), "{csv}");
        for l in 0..3 {
            assert!(close(num(6 + l), run.mean_grad[l]), "{csv}");
        }
    }

    let out = run_gradscope(&["compare", s(&logs), "--format", "markdown"]);
    let md = stdout(&out);
    let rows: Vec<&str> = md.lines().take_while(|l| l.starts_with('|')).collect();
    assert_eq!(rows.len(), 4, "{md}");
    assert!(rows[0].starts_with("| run | \\|g\\| L1 |"), "{md}");
    assert!(rows[2].starts_with("| relu | ") && rows[3].starts_with("| sigmoid | "));
    assert!(rows.iter().all(|r| r.matches(" | ").count() == 8), "{md}");

    let out = run_gradscope(&["compare", s(&logs)]);
    let table = stdout(&out);
    let header: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header[..2], ["run", "|g|"]);
    let relu: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(relu[0], "relu");
    assert_eq!(relu[4], format!("{:.1}x", runs[0].attenuation()));
    assert_eq!(relu[8], format!("{:.2}%", runs[0].test_acc * 100.0));
}

/// A logdir as gradscope 0.1 (today's main) writes it: loss, acc, mean_i,
/// histograms, test_acc and train_acc, nothing newer. Values are binary
/// fractions so averages come out exact.
fn older_logdir(logs: &Path) {
    let runs: [(&str, [[f32; 3]; 2]); 2] = [
        ("deep", [[0.125, 0.5, 2.0], [0.375, 1.5, 6.0]]),
        ("shallow", [[1.0, 1.0, 2.0], [1.0, 3.0, 2.0]]),
    ];
    for (name, means) in runs {
        let mut w = EventWriter::create(&logs.join(name)).unwrap();
        for (i, layer_means) in means.iter().enumerate() {
            let step = 100 * i as i64;
            let mut values = vec![
                scalar("loss", 2.0 - i as f32),
                scalar("acc", 0.25 * (i + 1) as f32),
            ];
            for (l, &m) in layer_means.iter().enumerate() {
                values.push(scalar(&format!("mean_{}", l + 1), m));
                values.push(histogram(&format!("histogram_{}", l + 1), &[m, -m]).0);
            }
            w.write_event(&summary_event(step, 0.0, values)).unwrap();
        }
        let end = vec![scalar("test_acc", 0.75), scalar("train_acc", 0.875)];
        w.write_event(&summary_event(200, 0.0, end)).unwrap();
        w.close().unwrap();
    }
}

#[test]
fn compare_and_plot_an_older_logdir() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    older_logdir(&logs);
    let out = run_gradscope(&["compare", s(&logs), "--format", "csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = stdout(&out);
    let lines: Vec<&str> = csv.lines().collect();
    // deep: layer means 0.25, 1, 4 -> attenuation 16; shallow: 1, 2, 2 -> 2.
    assert_eq!(lines[1], "deep,1,0.5,0.875,0.75,16,0.25,1,4");
    assert_eq!(lines[2], "shallow,1,0.5,0.875,0.75,2,1,2,2");

    let out = run_gradscope(&["plot", s(&logs)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    assert_eq!(printed.lines().count(), 3, "{printed}");
    check_figures(&logs.join("plots"));
}

/// Every figure is a PNG of the expected size showing the runs' colours.
fn check_figures(plots: &Path) {
    for (name, size) in [
        ("accuracy.png", (960, 600)),
        ("grad_first_last.png", (1280, 560)),
        ("grad_per_layer.png", (960, 600)),
    ] {
        let path = plots.join(name);
        let decoder =
            png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&path).unwrap()));
        let mut reader = decoder.read_info().unwrap();
        let info = reader.info();
        assert_eq!((info.width, info.height), size, "{name}");
        assert_eq!(info.color_type, png::ColorType::Rgb, "{name}");
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        reader.next_frame(&mut pixels).unwrap();
        // The first two runs' colours (palette entries 0 and 1) are drawn.
        for colour in [[31u8, 119, 180], [255, 127, 14]] {
            assert!(
                pixels.chunks(3).any(|p| p == colour),
                "{name} lacks colour {colour:?}"
            );
        }
    }
    assert!(!plots.join("accuracy.png.tmp").exists());
}

#[test]
fn plot_draws_our_runs_and_skips_figures_without_data() {
    let dir = tempfile::tempdir().unwrap();
    let (logs, _) = trained_logdir(dir.path());
    let out = run_gradscope(&["plot", s(&logs)]);
    assert!(out.status.success(), "{}", stderr(&out));
    check_figures(&logs.join("plots"));
    // The plots folder is not a run.
    assert_eq!(Logdir::load(&logs).unwrap().runs.len(), 2);

    // Foreign runs have `acc` but no per-layer gradients.
    let foreign_copy = dir.path().join("foreign");
    let tf = foreign_copy.join("tensorflow");
    std::fs::create_dir_all(&tf).unwrap();
    let file = only_event_file(&foreign().join("tensorflow"));
    std::fs::copy(&file, tf.join(file.file_name().unwrap())).unwrap();
    let out = run_gradscope(&["plot", s(&foreign_copy)]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(foreign_copy.join("plots/accuracy.png").is_file());
    assert!(!foreign_copy.join("plots/grad_per_layer.png").exists());
    assert!(stderr(&out).contains("grad_per_layer.png skipped: no run logged `mean_1`"));
}

#[test]
fn scenario_all_writes_report_md_from_the_numbers() {
    let dir = tempfile::tempdir().unwrap();
    helpers::write_synthetic(&dir.path().join("data"), 100, 50);
    let logs = dir.path().join("logs");
    let out = run_gradscope(&[
        "--data-dir",
        s(&dir.path().join("data")),
        "--logdir",
        s(&logs),
        "--iterations",
        "30",
        "--log-every",
        "10",
        "--no-progress",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("REPORT.md"));
    let report = std::fs::read_to_string(logs.join("REPORT.md")).unwrap();

    let rows = comparison_rows(&Logdir::load(&logs).unwrap());
    for row in &rows {
        let line = report
            .lines()
            // Markdown-escaped, as the table writes it (`leaky\_relu`).
            .find(|l| l.starts_with(&format!("| {} |", row.name.replace('_', "\\_"))))
            .unwrap_or_else(|| panic!("no row for {}:\n{report}", row.name));
        let atten = format!("| {:.1}x |", row.attenuation().unwrap());
        assert!(line.contains(&atten), "{line} lacks {atten}");
    }
    let most = rows
        .iter()
        .max_by(|a, b| {
            a.attenuation()
                .unwrap()
                .total_cmp(&b.attenuation().unwrap())
        })
        .unwrap();
    let claim = format!(
        "**{}** attenuates most: its first layer receives {:.1}x",
        most.name,
        most.attenuation().unwrap()
    );
    assert!(report.contains(&claim), "{report}");
    for figure in ["accuracy.png", "grad_first_last.png", "grad_per_layer.png"] {
        assert!(report.contains(&format!("(plots/{figure})")), "{report}");
        assert!(logs.join("plots").join(figure).is_file());
    }
}
