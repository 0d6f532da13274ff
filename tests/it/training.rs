//! A short training run on generated data: loss falls, accuracy rises, and
//! the event file holds every tag at every logged step.

use std::collections::BTreeMap;

use gradscope::tags;
use gradscope::Activation;
use gradscope::{train, TrainConfig};
use gradscope_tensorboard::logdir::Logdir;
use gradscope_tensorboard::proto::hparams::{
    h_params_plugin_data::Data, HParamsPluginData, Status,
};
use gradscope_tensorboard::proto::{event, summary::value::Value, HistogramProto};
use prost::Message;

use crate::helpers;

/// Long enough to learn the synthetic set: 4 layers of 16 at lr 0.01 for
/// 301 iterations, logging every 50.
fn learning_config(activation: Activation) -> TrainConfig {
    TrainConfig {
        layers: 4,
        hidden: 16,
        iterations: 301,
        lr: 0.01,
        log_every: 50,
        seed: 3,
        ..helpers::small_config(activation)
    }
}

#[test]
fn loss_falls_and_every_tag_is_logged_at_every_step() {
    let dir = tempfile::tempdir().unwrap();
    let data = helpers::synthetic_dataset(&dir.path().join("data"), 400, 100);
    let run_dir = dir.path().join("logs/relu");
    let (summary, run) =
        train("relu", &data, &learning_config(Activation::Relu), &run_dir).unwrap();
    assert!(summary.test_acc > 0.8, "test acc {}", summary.test_acc);
    assert_eq!(summary.mean_grad.len(), 4);
    assert!(summary.mean_grad.iter().all(|g| g.is_finite() && *g > 0.0));

    let file = helpers::only_event_file(&run_dir);
    let read = helpers::events(&file);
    assert!(read.truncated_at.is_none());
    assert_eq!(
        read.events[0].what,
        Some(event::What::FileVersion("brain.Event:2".into()))
    );

    // tag -> [(step, value)] of the scalars; histograms checked by count; the
    // dashboards' records (graph, text, hparams) by step; nothing else.
    let scalars = helpers::scalars(&file);
    let histograms = helpers::histograms(&file);
    let mut records: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for e in &read.events[1..] {
        let s = match &e.what {
            Some(event::What::Summary(s)) => s,
            Some(event::What::GraphDef(_)) => {
                records.entry("graph_def".into()).or_default().push(e.step);
                continue;
            }
            _ => panic!("unexpected event {e:?}"),
        };
        for v in &s.value {
            match &v.value {
                // In `scalars` and `histograms`.
                Some(Value::SimpleValue(_) | Value::Histo(_)) => {}
                Some(Value::Tensor(_) | Value::Image(_)) => {
                    records.entry(v.tag.clone()).or_default().push(e.step)
                }
                other => panic!("unexpected value {other:?}"),
            }
        }
    }
    let steps: Vec<i64> = vec![0, 50, 100, 150, 200, 250, 300];
    for tag in ["loss", "acc", "mean_1", "mean_2", "mean_3", "mean_4"] {
        assert_eq!(scalars.steps(tag), steps, "{tag}");
    }
    let sizes = [784 * 16, 16 * 16, 16 * 16, 16 * 10];
    for (l, size) in sizes.iter().enumerate() {
        for prefix in ["histogram_", "hist_weights_"] {
            let tag = format!("{prefix}{}", l + 1);
            let points = &histograms[&tag];
            assert_eq!(points.iter().map(|p| p.0).collect::<Vec<_>>(), steps);
            assert!(points.iter().all(|p| p.1.num == *size as f64), "{tag}");
        }
    }
    assert_eq!(scalars.get("test_acc"), [(301, summary.test_acc)]);
    assert_eq!(
        scalars.get("attenuation"),
        [(301, summary.attenuation() as f32)]
    );
    let expected_records: BTreeMap<String, Vec<i64>> = [
        ("graph_def", 0),
        ("config", 0),
        ("_hparams_/experiment", 0),
        ("_hparams_/session_start_info", 0),
        ("custom_scalars__config__", 0),
        ("vanishing_gradient", 301),
        ("diagnosis", 301),
        ("_hparams_/session_end_info", 301),
    ]
    .into_iter()
    .map(|(tag, step)| (tag.to_string(), vec![step]))
    .chain([
        // The kernels at the first and last diagnosed step (a logged step
        // per 200 iterations); the gradient flow at the first logged step
        // from each multiple of 200 on.
        ("first_layer_kernels".to_string(), vec![0, 200]),
        ("gradient_flow".to_string(), vec![0, 200]),
    ])
    .collect();
    assert_eq!(records, expected_records);
    let loss = scalars.get("loss");
    let (first, last) = (loss[0].1, loss[loss.len() - 1].1);
    assert!(last < first * 0.5, "loss went from {first} to {last}");

    // The run `train` hands the report is the one loading the file gives.
    let loaded = Logdir::load(dir.path().join("logs")).unwrap();
    assert_eq!(loaded.runs, vec![run.expect("a short run is recorded")]);
}

#[test]
fn same_seed_same_run() {
    let dir = tempfile::tempdir().unwrap();
    let data = helpers::synthetic_dataset(&dir.path().join("data"), 200, 50);
    let mut cfg = learning_config(Activation::Sigmoid);
    cfg.iterations = 60;
    let (a, _) = train("a", &data, &cfg, &dir.path().join("a")).unwrap();
    let (b, _) = train("b", &data, &cfg, &dir.path().join("b")).unwrap();
    assert_eq!(a.mean_grad, b.mean_grad);
    assert_eq!(a.test_acc, b.test_acc);
}

#[test]
fn a_diverged_run_ends_its_hparams_session_as_failed() {
    let dir = tempfile::tempdir().unwrap();
    let data = helpers::synthetic_dataset(&dir.path().join("data"), 200, 50);
    let mut cfg = learning_config(Activation::Relu);
    cfg.lr = 1e30;
    let run_dir = dir.path().join("relu");
    let err = train("relu", &data, &cfg, &run_dir)
        .unwrap_err()
        .to_string();
    assert!(err.contains("diverged"), "{err}");

    let events = helpers::events(&helpers::only_event_file(&run_dir)).events;
    let Some(event::What::Summary(s)) = &events.last().unwrap().what else {
        panic!("the last event is not a summary")
    };
    let end = s
        .value
        .iter()
        .find(|v| v.tag == "_hparams_/session_end_info")
        .expect("no session end");
    let content = &end
        .metadata
        .as_ref()
        .unwrap()
        .plugin_data
        .as_ref()
        .unwrap()
        .content;
    let Some(Data::SessionEndInfo(info)) =
        HParamsPluginData::decode(content.as_slice()).unwrap().data
    else {
        panic!("not a session end")
    };
    assert_eq!(info.status, Status::Failure as i32);
    // Beside the failed session: where the divergence began, in words.
    let text = s
        .value
        .iter()
        .find(|v| v.tag == tags::DIVERGENCE)
        .expect("no divergence text");
    let Some(Value::Tensor(t)) = &text.value else {
        panic!("not text")
    };
    let words = String::from_utf8(t.string_val[0].clone()).unwrap();
    assert!(
        words.starts_with("Training diverged at iteration "),
        "{words}"
    );
    assert!(
        err.contains(
            words
                .trim_start_matches("Training diverged at iteration ")
                .trim_end_matches('.')
        ),
        "{err} / {words}"
    );
}

/// At `--log-every 1` the summary thread replays the optimizer instead of
/// being sent the kernels every step: the weights it logs are the same, bit
/// for bit, as those of a run that sends them (`--log-every 2`, same seed).
#[test]
fn every_step_logs_the_same_weights_as_a_run_that_copies_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = helpers::synthetic_dataset(&dir.path().join("data"), 200, 50);
    let weights_by_step = |log_every: usize, run: &str| {
        let mut cfg = learning_config(Activation::Relu);
        cfg.iterations = 60;
        cfg.log_every = log_every;
        let run_dir = dir.path().join(run);
        train(run, &data, &cfg, &run_dir).unwrap();
        let mut logged: BTreeMap<(i64, String), HistogramProto> = BTreeMap::new();
        for (tag, points) in helpers::histograms(&helpers::only_event_file(&run_dir)) {
            if tag.starts_with("hist_weights_") {
                for (step, h) in points {
                    logged.insert((step, tag.clone()), h);
                }
            }
        }
        logged
    };
    let every = weights_by_step(1, "every");
    let copied = weights_by_step(2, "copied");
    assert_eq!(copied.len(), 30 * 4);
    assert_eq!(every.len(), 60 * 4);
    for (key, histogram) in &copied {
        assert_eq!(every.get(key), Some(histogram), "{key:?}");
    }
}

/// The optimizer's side (docs/views.md): with `--clip-norm` each logged
/// step has the global norm before clipping and the fraction of the
/// iterations since the last logged step that were clipped (all of them
/// under a tiny bound, none under a huge one); each layer's `grad_norm_i`
/// is its kernel gradient's norm before clipping, the same whether the
/// step was clipped or not (step 0: same weights, same batch), and the
/// gradient logged in `histogram_i` is the clipped one. Adam's moments and
/// the step's cosine with the negative gradient are logged per layer.
#[test]
fn clipping_and_the_optimizers_step_are_logged() {
    let dir = tempfile::tempdir().unwrap();
    let data = helpers::synthetic_dataset(&dir.path().join("data"), 200, 50);
    let run = |clip_norm: Option<f64>, name: &str| {
        let cfg = TrainConfig {
            iterations: 21,
            log_every: 5,
            clip_norm,
            ..helpers::small_config(Activation::Tanh)
        };
        let run_dir = dir.path().join(name);
        train(name, &data, &cfg, &run_dir).unwrap();
        let file = helpers::only_event_file(&run_dir);
        (helpers::scalars(&file), helpers::histograms(&file))
    };
    let (free, free_hist) = run(None, "free");
    let (tight, tight_hist) = run(Some(1e-4), "tight");
    let (loose, _) = run(Some(1e9), "loose");
    let logged = [0, 5, 10, 15, 20];
    assert!(free.get(tags::CLIPPED_FRACTION).is_empty());
    assert!(free.get(tags::GLOBAL_GRAD_NORM).is_empty());
    for (scalars, fraction) in [(&tight, 1.0), (&loose, 0.0)] {
        assert_eq!(scalars.steps(tags::CLIPPED_FRACTION), logged);
        assert!(scalars
            .get(tags::CLIPPED_FRACTION)
            .iter()
            .all(|&(_, f)| f == fraction));
    }
    let global = tight.get(tags::GLOBAL_GRAD_NORM)[0].1;
    assert_eq!(global, loose.get(tags::GLOBAL_GRAD_NORM)[0].1);
    let mut squares = 0.0;
    for layer in 1..=6 {
        let tag = tags::GRAD_NORM.tag(layer);
        assert_eq!(free.steps(&tag), logged, "{tag}");
        let (clipped, unclipped) = (tight.get(&tag)[0].1, free.get(&tag)[0].1);
        assert!(
            (clipped - unclipped).abs() <= 1e-5 * unclipped,
            "{tag}: {clipped} vs {unclipped}"
        );
        squares += f64::from(unclipped).powi(2);
        // The histogram holds the clipped gradient: its norm is about 1e-4
        // of the global norm's share.
        let clipped_hist = &tight_hist[&tags::grad_histogram(layer)][0].1;
        let free_norm = free_hist[&tags::grad_histogram(layer)][0]
            .1
            .sum_squares
            .sqrt();
        let ratio = clipped_hist.sum_squares.sqrt() / free_norm;
        assert!(
            (ratio - 1e-4 / f64::from(global)).abs() < 1e-3 * ratio,
            "{tag}: {ratio}"
        );
        // At the diagnosed steps: here step 0 (the next would be 200).
        for family in [tags::ADAM_M_NORM, tags::ADAM_V_NORM, tags::UPDATE_COSINE] {
            let tag = family.tag(layer);
            let points = free.get(&tag);
            assert_eq!(free.steps(&tag), [0], "{tag}");
            assert!(
                points.iter().all(|(_, v)| v.is_finite() && *v > 0.0),
                "{tag}: {points:?}"
            );
        }
        // Adam's first step is lr·sign(g): far from plain descent's 1 on a
        // layer of many weights, far from 0 too.
        let (_, cosine) = free.get(&tags::UPDATE_COSINE.tag(layer))[0];
        assert!((0.2..0.99).contains(&cosine), "layer {layer}: {cosine}");
    }
    // The kernels' share of the global norm (the biases hold the rest).
    assert!(
        squares.sqrt() <= f64::from(global) * (1.0 + 1e-5),
        "{squares} {global}"
    );
}
