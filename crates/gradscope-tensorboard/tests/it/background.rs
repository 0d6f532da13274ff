//! A [`SummaryWriter`] built with `background(capacity)`: the file it
//! writes is the one the calls' own thread would write (wall times aside),
//! in the order of the calls, from several threads; bad input is still the
//! call's own error; dropping the last handle loses nothing; TensorBoard's
//! own loader reads the file.
//!
//! The TensorBoard test needs Python with TensorBoard: `GRADSCOPE_PYTHON`,
//! else the repository's `.venv` (`scripts/setup-venv.sh`); without either
//! it is skipped with a message.

use std::collections::BTreeMap;
use std::path::Path;

use gradscope_tensorboard::custom_scalars::{Category, Layout};
use gradscope_tensorboard::graph::{Graph, Node};
use gradscope_tensorboard::image::Image;
use gradscope_tensorboard::pr_curve::PrCounts;
use gradscope_tensorboard::proto::{event, DataType, Event};
use gradscope_tensorboard::summary::{scalar, summary_event, RawHistogram};
use gradscope_tensorboard::{prost::Message, read_events, SummaryError, SummaryWriter};

use crate::helpers::{run_python, tensorboard_python};

/// Calls of every kind that goes through the event file, in a fixed order.
fn write_every_kind(w: &SummaryWriter) -> Result<(), SummaryError> {
    let weights: Vec<f32> = (0..5000)
        .map(|i| ((i * 37 % 1000) as f32 - 500.0) / 300.0)
        .collect();
    let wide: Vec<f64> = weights.iter().map(|&x| f64::from(x) * 1e3).collect();
    let gray: Vec<u8> = (0..28 * 28).map(|i| (i % 256) as u8).collect();
    let rgb: Vec<f32> = (0..4 * 5 * 3).map(|i| i as f32 / 60.0).collect();
    let batch: Vec<u8> = (0..3 * 3 * 6 * 7).map(|i| (i * 7 % 256) as u8).collect();
    w.add_custom_scalars(&Layout::new().category(Category::new("c").multiline("m", ["^a"])))?;
    for step in 0..20usize {
        w.add_scalar("loss", 1.0 / (step as f64 + 1.0), step)?;
        w.add_scalars("acc", [("train", 0.5), ("test", step as f64)], step)?;
        w.add_histogram("w_slice", &weights[step..], step)?;
        w.add_histogram("w_vec", weights[..1000 + step].to_vec(), step)?;
        w.add_histogram("w_f64", &wide, step)?;
        w.add_histogram("w_f64_vec", wide.clone(), step)?;
        w.add_histogram("w_nan", [f32::NAN, step as f32, f32::INFINITY], step)?;
        w.add_histogram("ids", &[3u8, 1, 4, 1, 5][..], step)?;
        w.add_histogram("abs", weights.iter().map(|x| x.abs()), step)?;
        w.add_histogram("range", 0..step, step)?;
        w.add_text("notes", &format!("step **{step}**"), step)?;
    }
    w.add_histogram_raw(
        "raw",
        &RawHistogram {
            min: 0.0,
            max: 3.0,
            num: 6.0,
            sum: 9.0,
            sum_squares: 19.0,
            bucket_limits: &[1.0, 2.0, 3.0],
            bucket_counts: &[2.0, 2.0, 2.0],
        },
        3,
    )?;
    w.add_image("gray", &Image::hwc(&gray, 28, 28, 1), 5)?;
    w.add_image("rgb", &Image::hwc(&rgb, 4, 5, 3), 5)?;
    w.add_images("batch", &Image::nchw(&batch, 3, 3, 6, 7), 5)?;
    w.add_figure("figure", &[200u8; 6 * 8 * 3], 6, 8, 5)?;
    w.add_pr_curve("pr", &[true, false, true], &[0.9, 0.2, 0.4], 6)?;
    w.add_pr_curve_raw(
        "pr_raw",
        &PrCounts {
            true_positives: &[2.0, 1.0],
            false_positives: &[1.0, 0.0],
            true_negatives: &[0.0, 1.0],
            false_negatives: &[0.0, 1.0],
            precision: &[0.667, 1.0],
            recall: &[1.0, 0.5],
        },
        6,
    )?;
    w.add_audio("tone", &[0.0, 0.5, -0.5, 1.0], 8000, 7)?;
    let mut graph = Graph::new();
    graph
        .add(Node::placeholder("x", DataType::DtFloat, &[-1, 4]))
        .add(Node::new("relu", "Relu").inputs(&["x"]));
    w.add_graph(&graph)?;
    w.add_event(&summary_event(-3, 1.5e9, vec![scalar("made", 1.0)]))?;
    w.add_scalar("negative", f64::NAN, -8)?;
    Ok(())
}

/// The events of `path` encoded again with wall time 0: equal for two
/// files that differ only in when they were written.
fn without_wall_times(path: &Path) -> Vec<Vec<u8>> {
    let read = read_events(path).unwrap();
    assert!(read.truncated_at.is_none(), "{}: cut short", path.display());
    read.events
        .into_iter()
        .map(|e| {
            Event {
                wall_time: 0.0,
                ..e
            }
            .encode_to_vec()
        })
        .collect()
}

#[test]
fn the_same_calls_write_the_same_events_in_both_modes() {
    let dir = tempfile::tempdir().unwrap();
    let sync = SummaryWriter::new(dir.path().join("sync")).unwrap();
    write_every_kind(&sync).unwrap();
    sync.close().unwrap();
    for capacity in [0, 1, 1024] {
        let background = SummaryWriter::builder(dir.path().join(format!("bg{capacity}")))
            .background(capacity)
            .build()
            .unwrap();
        write_every_kind(&background).unwrap();
        background.close().unwrap();
        let (want, got) = (
            without_wall_times(sync.file_path()),
            without_wall_times(background.file_path()),
        );
        assert_eq!(got.len(), want.len(), "capacity {capacity}: event count");
        for (i, (got, want)) in got.iter().zip(&want).enumerate() {
            assert!(got == want, "capacity {capacity}: event {i} differs");
        }
    }
}

/// `(tag, step)` of each summary value in the file, in file order.
fn tags_and_steps(path: &Path) -> Vec<(String, i64)> {
    read_events(path)
        .unwrap()
        .events
        .into_iter()
        .filter_map(|e| match e.what {
            Some(event::What::Summary(s)) => Some((e.step, s.value)),
            _ => None,
        })
        .flat_map(|(step, values)| values.into_iter().map(move |v| (v.tag, step)))
        .collect()
}

#[test]
fn two_threads_sharing_a_background_writer_keep_the_order_of_their_calls() {
    let dir = tempfile::tempdir().unwrap();
    let writer = SummaryWriter::builder(dir.path())
        .background(3)
        .build()
        .unwrap();
    let threads: Vec<_> = (0..2)
        .map(|thread| {
            let w = writer.clone();
            std::thread::spawn(move || {
                let mut calls = Vec::new();
                for step in 0..300i64 {
                    for k in 0..8 {
                        let tag = format!("t{thread}/tag{k}");
                        match (step + k) % 5 {
                            0 => w.add_histogram(&tag, vec![step as f32; 64], step).map(drop),
                            1 => w.add_histogram(&tag, &[k as f64, 2.0][..], step).map(drop),
                            2 => {
                                w.add_image(&tag, &Image::hwc(&[step as u8; 4][..], 2, 2, 1), step)
                            }
                            3 => w.add_text(&tag, "x", step),
                            _ => w.add_scalar(&tag, k, step),
                        }
                        .unwrap();
                        calls.push((tag, step));
                    }
                }
                calls
            })
        })
        .collect();
    let calls: Vec<Vec<(String, i64)>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    writer.close().unwrap();
    let written = tags_and_steps(writer.file_path());
    assert_eq!(written.len(), 2 * 300 * 8);
    for (thread, calls) in calls.iter().enumerate() {
        let prefix = format!("t{thread}/");
        let mine: Vec<(String, i64)> = written
            .iter()
            .filter(|(tag, _)| tag.starts_with(&prefix))
            .cloned()
            .collect();
        assert!(mine == *calls, "thread {thread}: written out of call order");
    }
}

#[test]
fn dropping_the_last_background_handle_writes_every_queued_call() {
    let dir = tempfile::tempdir().unwrap();
    let writer = SummaryWriter::builder(dir.path())
        .background(10_000)
        .build()
        .unwrap();
    let path = writer.file_path().to_path_buf();
    let other = writer.clone();
    let values: Vec<f32> = (0..10_000).map(|i| i as f32).collect();
    for step in 0..300 {
        other.add_histogram("h", &values, step).unwrap();
        writer.add_scalar("s", step, step).unwrap();
    }
    drop(other);
    drop(writer);
    let written = tags_and_steps(&path);
    let want: Vec<(String, i64)> = (0..300)
        .flat_map(|step| [("h".to_string(), step), ("s".to_string(), step)])
        .collect();
    assert!(
        written == want,
        "{} of {} written",
        written.len(),
        want.len()
    );
}

#[test]
fn bad_input_is_the_calls_own_error_in_background_mode() {
    let dir = tempfile::tempdir().unwrap();
    let w = SummaryWriter::builder(dir.path())
        .background(2)
        .build()
        .unwrap();
    let pixels = [0u8; 12];
    let errors = [
        w.add_histogram("", vec![1.0f32], 0).map(drop),
        w.add_histogram("a\n", &[1.0f64][..], 0).map(drop),
        w.add_histogram("h", [1.0f32], u64::MAX).map(drop),
        w.add_image("i", &Image::hwc(&pixels[..], 2, 2, 2), 0),
        w.add_image("i", &Image::hwc(&pixels[..], 2, 3, 1), 0),
        w.add_image("i", &Image::nhwc(&pixels[..], 4, 1, 1, 3), 0),
        w.add_image("", &Image::hwc(&pixels[..], 2, 2, 3), 0),
        w.add_images("i", &Image::nhwc(&pixels[..], 0, 1, 1, 3), 0),
        w.add_figure("f", &pixels, 2, 3, 0),
        w.add_scalar("s", 1.0, u128::MAX),
        w.add_text("", "x", 0),
    ];
    for (i, e) in errors.into_iter().enumerate() {
        let e = e.unwrap_err();
        assert!(
            matches!(
                e,
                SummaryError::InvalidTag { .. } | SummaryError::InvalidArgument { .. }
            ),
            "{i}: {e}"
        );
    }
    w.flush().unwrap();
    assert_eq!(tags_and_steps(w.file_path()), [], "nothing written");
}

#[test]
fn tensorboard_loads_a_file_written_in_the_background() {
    let Some(python) = tensorboard_python() else {
        return; // tensorboard_python() said why
    };
    let dir = tempfile::tempdir().unwrap();
    let w = SummaryWriter::builder(dir.path().join("bg"))
        .background(4)
        .build()
        .unwrap();
    for step in 0..50usize {
        w.add_scalar("loss", 1.0 / (step as f64 + 1.0), step)
            .unwrap();
        w.add_histogram("weights", vec![step as f32, 1.0, -1.0], step)
            .unwrap();
        w.add_text("notes", &format!("step {step}"), step).unwrap();
        w.add_image("img", &Image::hwc(&[step as u8; 3][..], 1, 1, 3), step)
            .unwrap();
    }
    drop(w); // the last handle: drains and closes

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/tensorboard_load.py");
    let loaded = run_python(&python, [script.as_os_str(), dir.path().as_os_str()]);
    let json: serde_json::Value = serde_json::from_slice(&loaded).unwrap();
    let tags = json["runs"]["bg"].as_object().expect("the run bg");
    let plugins: BTreeMap<&str, &str> = tags
        .iter()
        .map(|(tag, t)| (tag.as_str(), t["plugin"].as_str().unwrap()))
        .collect();
    assert_eq!(
        plugins,
        BTreeMap::from([
            ("img", "images"),
            ("loss", "scalars"),
            ("notes", "text"),
            ("weights", "histograms")
        ])
    );
    let steps = |tag: &str| -> Vec<i64> {
        tags[tag]["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p[0].as_i64().unwrap())
            .collect()
    };
    let all: Vec<i64> = (0..50).collect();
    for tag in ["img", "loss", "notes", "weights"] {
        assert_eq!(steps(tag), all, "{tag}");
    }
    let loss = &tags["loss"]["points"][9][1];
    assert!((loss.as_f64().unwrap() - 0.1).abs() < 1e-6, "{loss}");
    assert_eq!(tags["notes"]["points"][7][1], "step 7");
    // The three values of step 10 in TensorBoard's buckets: counts sum to 3.
    let buckets = tags["weights"]["points"][10][1].as_array().unwrap();
    let count: f64 = buckets.iter().map(|b| b[2].as_f64().unwrap()).sum();
    assert_eq!(count, 3.0);
}
