//! Compatibility with TensorBoard itself: its own loader (the plugin event
//! multiplexer, with its data_compat migration) must find every tag we wrote,
//! at the right steps, with the values we wrote.
//!
//! Needs Python with TensorBoard: `scripts/setup-venv.sh` makes `.venv`, or
//! point GRADSCOPE_PYTHON at an interpreter. Skipped (with a message) only
//! when neither exists and GRADSCOPE_PYTHON is unset; `scripts/test.sh` sets it.

use std::collections::BTreeMap;
use std::path::Path;

use gradscope_tensorboard::custom_scalars;
use gradscope_tensorboard::proto::{event, summary::value::Value, HistogramProto};
use serde_json::Value as Json;

use crate::helpers;

enum Written {
    Scalar(f32),
    Histogram(HistogramProto),
    /// A string tensor: text.
    Text(String),
    /// An hparams record: everything is in its metadata.
    HParams,
    /// Something only its plugin reads (the Custom Scalars layout, images):
    /// the plugin TensorBoard files it under.
    Plugin(&'static str),
}

/// tag -> [(step, value)] as our own reader sees the run's event file.
fn written(run_dir: &Path) -> BTreeMap<String, Vec<(i64, Written)>> {
    let mut tags: BTreeMap<String, Vec<(i64, Written)>> = BTreeMap::new();
    for e in helpers::events(&helpers::only_event_file(run_dir)).events {
        let Some(event::What::Summary(s)) = e.what else {
            continue;
        };
        for v in s.value {
            let w = match v.value {
                Some(Value::SimpleValue(x)) => Written::Scalar(x),
                Some(Value::Histo(h)) => Written::Histogram(h),
                _ if v.tag == custom_scalars::CONFIG_TAG => Written::Plugin("custom_scalars"),
                Some(Value::Image(_)) => Written::Plugin("images"),
                Some(Value::Tensor(t)) if !t.string_val.is_empty() => {
                    Written::Text(String::from_utf8(t.string_val[0].clone()).unwrap())
                }
                Some(Value::Tensor(_)) => Written::HParams,
                other => panic!("unexpected {other:?}"),
            };
            tags.entry(v.tag).or_default().push((e.step, w));
        }
    }
    tags
}

#[test]
fn tensorboard_loads_every_tag_with_our_steps_and_values() {
    let Some(python) = helpers::python() else {
        return; // helpers::python said why
    };
    let dir = tempfile::tempdir().unwrap();
    let logs = helpers::train_all_on_synthetic(dir.path());

    let json = helpers::tensorboard_load(&python, &logs);
    let runs = json["runs"].as_object().unwrap();
    assert_eq!(
        runs.keys().collect::<Vec<_>>(),
        ["leaky_relu", "relu", "sigmoid"]
    );

    let mut expected_tags: Vec<String> = [
        "loss",
        "acc",
        "test_acc",
        "train_acc",
        "attenuation",
        "config",
        "vanishing_gradient",
        "diagnosis",
        "_hparams_/experiment",
        "_hparams_/session_start_info",
        "_hparams_/session_end_info",
        custom_scalars::CONFIG_TAG,
        "first_layer_kernels",
        "gradient_flow",
        // The event's graph_def, as TensorBoard files it.
        "__run_graph__",
    ]
    .map(String::from)
    .to_vec();
    for l in 1..=5 {
        expected_tags.push(format!("activations_{l}"));
    }
    for l in 1..=6 {
        expected_tags.extend([
            format!("update_ratio_{l}"),
            format!("mean_{l}"),
            format!("log10_mean_{l}"),
            format!("histogram_{l}"),
            format!("hist_weights_{l}"),
            format!("log10_abs_grad_{l}"),
            format!("zero_grad_{l}"),
            format!("grad_norm_{l}"),
            format!("adam_m_norm_{l}"),
            format!("adam_v_norm_{l}"),
            format!("update_cosine_{l}"),
        ]);
    }
    expected_tags.sort();

    for (run, tags) in runs {
        let ours = written(&logs.join(run));
        let mut seen: Vec<String> = tags.as_object().unwrap().keys().cloned().collect();
        seen.sort();
        let units = if run == "sigmoid" {
            "saturated_fraction"
        } else {
            "dead_fraction"
        };
        let mut expected_tags = expected_tags.clone();
        expected_tags.extend((1..=5).map(|l| format!("{units}_{l}")));
        expected_tags.sort();
        assert_eq!(seen, expected_tags, "{run}");
        assert_eq!(tags["__run_graph__"]["plugin"], "graphs", "{run}");
        for (tag, ours) in &ours {
            let tb = &tags[tag];
            let points = tb["points"].as_array().unwrap();
            assert_eq!(points.len(), ours.len(), "{run}/{tag}");
            for ((step, w), p) in ours.iter().zip(points) {
                assert_eq!(p[0].as_i64(), Some(*step), "{run}/{tag}");
                match w {
                    Written::Scalar(x) => {
                        assert_eq!(tb["plugin"], "scalars", "{run}/{tag}");
                        assert_eq!(p[1].as_f64().unwrap() as f32, *x, "{run}/{tag}@{step}");
                    }
                    Written::Text(text) => {
                        assert_eq!(tb["plugin"], "text", "{run}/{tag}");
                        assert_eq!(p[1].as_str(), Some(text.as_str()), "{run}/{tag}");
                    }
                    Written::HParams => assert_eq!(tb["plugin"], "hparams", "{run}/{tag}"),
                    Written::Plugin(plugin) => assert_eq!(tb["plugin"], *plugin, "{run}/{tag}"),
                    Written::Histogram(h) => {
                        // TensorBoard's data_compat drops the empty buckets at
                        // both ends, uses min and max as the outer edges and
                        // stores float32.
                        assert_eq!(tb["plugin"], "histograms", "{run}/{tag}");
                        let first = h.bucket.iter().position(|&c| c > 0.0).unwrap();
                        let last = h.bucket.iter().rposition(|&c| c > 0.0).unwrap();
                        let buckets = p[1].as_array().unwrap();
                        let f32_of = |j: &Json| j.as_f64().unwrap() as f32;
                        let counts: Vec<f64> =
                            buckets.iter().map(|b| b[2].as_f64().unwrap()).collect();
                        assert_eq!(counts, h.bucket[first..=last], "{run}/{tag}@{step}");
                        assert_eq!(counts.iter().sum::<f64>(), h.num);
                        assert_eq!(f32_of(&buckets[0][0]), h.min as f32);
                        assert_eq!(f32_of(&buckets[buckets.len() - 1][1]), h.max as f32);
                        for (b, edge) in buckets.iter().skip(1).zip(&h.bucket_limit[first..last]) {
                            assert_eq!(f32_of(&b[0]), *edge as f32, "{run}/{tag}@{step}");
                        }
                    }
                }
            }
        }
        let steps = |tag: &str| -> Vec<i64> {
            tags[tag]["points"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p[0].as_i64().unwrap())
                .collect()
        };
        assert_eq!(steps("loss"), [0, 10, 20, 30, 40], "{run}");
        assert_eq!(steps("hist_weights_6"), [0, 10, 20, 30, 40], "{run}");
        assert_eq!(steps("test_acc"), [41], "{run}");
        assert_eq!(steps("attenuation"), [41], "{run}");
        assert_eq!(steps("config"), [0], "{run}");
        assert_eq!(steps("vanishing_gradient"), [41], "{run}");
        assert_eq!(steps("__run_graph__"), [0], "{run}");
    }
}
