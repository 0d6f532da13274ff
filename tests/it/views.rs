//! The views of gradient flow (docs/views.md), as TensorBoard's own server
//! serves them for a fresh `--scenario all` logdir: the Custom Scalars
//! layout and its charts' data, the images, the per-layer diagnostics,
//! the log10 |grad| histograms and the diagnosis.
//!
//! Needs Python with TensorBoard, and is skipped with a message under the
//! same rule as the other TensorBoard tests.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{json, Value as Json};

use gradscope::tags;
use gradscope::Activation;
use gradscope::{train, TrainConfig};

use crate::helpers::{self, Server};

const RUNS: [&str; 3] = ["leaky_relu", "relu", "sigmoid"];
const LAYERS: usize = 6;

/// Every chart of the layout, as (category, chart title, its regexes).
fn charts(layout: &Json) -> Vec<(String, String, Vec<String>)> {
    let mut out = Vec::new();
    for category in layout["category"].as_array().expect("categories") {
        let title = category["title"].as_str().unwrap().to_string();
        for chart in category["chart"].as_array().expect("charts") {
            let tags = chart["multiline"]["tag"]
                .as_array()
                .unwrap_or_else(|| panic!("not a multiline chart: {chart}"))
                .iter()
                .map(|t| t.as_str().unwrap().to_string())
                .collect();
            out.push((
                title.clone(),
                chart["title"].as_str().unwrap().to_string(),
                tags,
            ));
        }
    }
    out
}

/// The chart's data for `run`: tag -> steps, from the dashboard's own
/// endpoint, which applies the chart's regular expression.
fn chart_data(server: &Server, run: &str, regex: &str) -> Json {
    let path = format!(
        "/data/plugin/custom_scalars/scalars?run={run}&tag={}",
        helpers::http::percent_encode(regex)
    );
    let data = server.get(&path);
    assert_eq!(data["regex_valid"], json!(true), "{regex}: {data}");
    data["tag_to_events"].clone()
}

fn check_custom_scalars(server: &Server) {
    let plugins = server.get("/data/plugins_listing");
    assert_eq!(
        plugins["custom_scalars"]["enabled"],
        json!(true),
        "{plugins}"
    );
    let layout = server.get("/data/plugin/custom_scalars/layout");
    let charts = charts(&layout);
    let regexes: BTreeSet<&str> = charts
        .iter()
        .flat_map(|(_, _, tags)| tags.iter().map(String::as_str))
        .collect();
    let gradient_regex = tags::LOG10_MEAN_GRAD.regex();
    for want in [
        gradient_regex.as_str(),
        &tags::MEAN_GRAD.regex(),
        &tags::exactly(tags::LOSS),
        &tags::exactly(tags::ACC),
    ] {
        assert!(regexes.contains(want), "no chart of {want}: {layout}");
    }
    // The runs' identical layouts are merged into one: no chart twice.
    let titles: BTreeSet<_> = charts.iter().map(|(c, t, _)| (c, t)).collect();
    assert_eq!(titles.len(), charts.len(), "{layout}");

    // All layers' gradients come back from the one chart, at every logged
    // step, with the values the Scalars dashboard has for mean_i.
    let logged: Vec<i64> = (0..=800).step_by(200).collect();
    for run in RUNS {
        let data = chart_data(server, run, &gradient_regex);
        let tags: BTreeSet<String> = data.as_object().unwrap().keys().cloned().collect();
        let want: BTreeSet<String> = (1..=LAYERS).map(|l| tags::LOG10_MEAN_GRAD.tag(l)).collect();
        assert_eq!(tags, want, "{run}");
        for layer in 1..=LAYERS {
            let events = data[tags::LOG10_MEAN_GRAD.tag(layer)].as_array().unwrap();
            let steps: Vec<i64> = events.iter().map(|e| e[1].as_i64().unwrap()).collect();
            assert_eq!(steps, logged, "{run} layer {layer}");
            let plain = server.get(&format!(
                "/data/plugin/scalars/scalars?run={run}&tag={}",
                tags::MEAN_GRAD.tag(layer)
            ));
            for (log10, plain) in events.iter().zip(plain.as_array().unwrap()) {
                let (log10, plain) = (log10[2].as_f64().unwrap(), plain[2].as_f64().unwrap());
                assert!(
                    (log10 - plain.log10()).abs() < 1e-4,
                    "{run} layer {layer}: {log10} vs log10 {plain}"
                );
            }
        }
        let loss = chart_data(server, run, &tags::exactly(tags::LOSS));
        assert_eq!(loss.as_object().unwrap().len(), 1, "{run}: {loss}");
        assert_eq!(loss[tags::LOSS].as_array().unwrap().len(), logged.len());
    }
}

/// The Images dashboard lists the kernels (first and last diagnosed step)
/// and the gradient flow (the first logged step from each multiple of 200:
/// step 0 of these 41-iteration runs); the per-layer diagnostics are
/// scalars and histograms; the diagnosis is text.
fn check_images_and_diagnostics(server: &Server) {
    let plugins = server.get("/data/plugins_listing");
    assert_eq!(plugins["images"]["enabled"], json!(true), "{plugins}");
    let images = server.get("/data/plugin/images/tags");
    let scalars = server.get("/data/plugin/scalars/tags");
    let histograms = server.get("/data/plugin/histograms/tags");
    for run in RUNS {
        let listed: BTreeSet<String> = images[run].as_object().unwrap().keys().cloned().collect();
        let want: BTreeSet<String> = [tags::FIRST_LAYER_KERNELS, tags::GRADIENT_FLOW]
            .map(String::from)
            .into();
        assert_eq!(listed, want, "{run}: {images}");
        for (tag, steps) in [
            (tags::FIRST_LAYER_KERNELS, vec![0, 800]),
            (tags::GRADIENT_FLOW, vec![0, 200, 400, 600, 800]),
        ] {
            let list = server.get(&format!(
                "/data/plugin/images/images?run={run}&tag={tag}&sample=0"
            ));
            let got: Vec<i64> = list
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["step"].as_i64().unwrap())
                .collect();
            assert_eq!(got, steps, "{run}/{tag}: {list}");
            // The picture itself is served as a PNG.
            let query = list[0]["query"].as_str().unwrap();
            let png = server.get_text(&format!("/data/plugin/images/individualImage?{query}"));
            assert!(png.contains("PNG") && png.contains("IHDR"), "{run}/{tag}");
        }
        let units = if run == "sigmoid" {
            tags::SATURATED_FRACTION
        } else {
            tags::DEAD_FRACTION
        };
        for layer in 1..=LAYERS {
            let mut want = vec![tags::UPDATE_RATIO.tag(layer)];
            if layer < LAYERS {
                want.push(units.tag(layer));
                assert!(
                    histograms[run].get(tags::ACTIVATIONS.tag(layer)).is_some(),
                    "{run}: no activations_{layer}: {histograms}"
                );
            }
            for tag in want {
                let points =
                    server.get(&format!("/data/plugin/scalars/scalars?run={run}&tag={tag}"));
                let steps: Vec<i64> = points
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p[1].as_i64().unwrap())
                    .collect();
                assert_eq!(steps, [0, 200, 400, 600, 800], "{run}/{tag}");
                assert!(scalars[run].get(&tag).is_some());
            }
        }
        let diagnosis = server.get(&format!(
            "/data/plugin/text/text?run={run}&tag={}",
            tags::DIAGNOSIS
        ));
        let html = diagnosis[0]["text"].as_str().unwrap();
        assert!(html.contains(&format!("{run}: ")), "{html}");
        assert!(html.contains("<li>"), "a list: {html}");
    }
}

/// The mean of a histogram as TensorBoard serves it: `[[left, right,
/// count], ...]`, each bucket at its middle.
fn bucket_mean(buckets: &Json) -> f64 {
    let (mut sum, mut count) = (0.0, 0.0);
    for b in buckets.as_array().expect("buckets") {
        let (left, right, n) = (b[0].as_f64(), b[1].as_f64(), b[2].as_f64());
        let (left, right, n) = (left.unwrap(), right.unwrap(), n.unwrap());
        sum += n * (left + right) / 2.0;
        count += n;
    }
    assert!(count > 0.0, "an empty histogram: {buckets}");
    sum / count
}

/// The log10 |grad| histograms (docs/views.md) are listed in both the
/// Histograms and the Distributions dashboards for every layer, at every
/// logged step; in the sigmoid run, whose gradient shrinks layer after
/// layer, layer 1's sits at least a decade below layer 6's at every step
/// (where the linear `histogram_i` puts both on zero); and each layer's
/// exact zeros are counted in a scalar at the same steps.
fn check_log_magnitudes(server: &Server) {
    let histograms = server.get("/data/plugin/histograms/tags");
    let distributions = server.get("/data/plugin/distributions/tags");
    let logged = [0, 200, 400, 600, 800];
    for run in RUNS {
        for layer in 1..=LAYERS {
            let tag = tags::LOG10_ABS_GRAD.tag(layer);
            assert!(histograms[run].get(&tag).is_some(), "{run}: {histograms}");
            assert!(
                distributions[run].get(&tag).is_some(),
                "{run}: {distributions}"
            );
            let zeros = server.get(&format!(
                "/data/plugin/scalars/scalars?run={run}&tag={}",
                tags::ZERO_GRAD.tag(layer)
            ));
            let steps: Vec<i64> = zeros
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p[1].as_i64().unwrap())
                .collect();
            assert_eq!(steps, logged, "{run}/zero_grad_{layer}");
        }
    }
    let means = |layer: usize| -> Vec<(i64, f64)> {
        let path = format!(
            "/data/plugin/histograms/histograms?run=sigmoid&tag={}",
            tags::LOG10_ABS_GRAD.tag(layer)
        );
        let points = server.get(&path);
        points
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[1].as_i64().unwrap(), bucket_mean(&p[2])))
            .collect()
    };
    let (first, last) = (means(1), means(LAYERS));
    let steps: Vec<i64> = first.iter().map(|&(s, _)| s).collect();
    assert_eq!(steps, logged);
    for ((step, first), (_, last)) in first.iter().zip(&last) {
        // Decades, and plausible ones for a gradient: not zero, not huge.
        assert!(
            (-12.0..0.0).contains(first),
            "step {step}: layer 1 at {first}"
        );
        assert!(
            last - first >= 1.0,
            "step {step}: layer 1 at 1e{first:.2}, layer {LAYERS} at 1e{last:.2}"
        );
    }
}

fn served(logs: &Path, dir: &Path, load_fast: bool) -> Server {
    let python = helpers::python().expect("checked by the caller");
    let log = dir.join(format!("tensorboard-views-{load_fast}.log"));
    let mut server = Server::start(&python, logs, load_fast, log);
    server.wait_until_loaded(|tags| {
        RUNS.iter()
            .all(|run| tags[run].get(tags::ATTENUATION).is_some())
    });
    server
}

#[test]
fn tensorboard_serves_the_views_of_gradient_flow() {
    if helpers::python().is_none() {
        return; // helpers::python said why
    }
    let dir = tempfile::tempdir().unwrap();
    // Logged as by default, every 200 iterations: each logged step diagnosed.
    let logs = helpers::train_all_on_synthetic_for(dir.path(), 801, 200);
    for load_fast in [false, true] {
        eprintln!("TensorBoard with --load_fast={load_fast}");
        let server = served(&logs, dir.path(), load_fast);
        check_custom_scalars(&server);
        check_images_and_diagnostics(&server);
        check_log_magnitudes(&server);
    }
}

/// The update ratio is the optimizer's actual step whether every step is
/// logged or every `DIAGNOSE_EVERY`th: both give the same values, and the
/// per-layer diagnostics are logged once per `DIAGNOSE_EVERY` iterations
/// either way. So do the optimizer's moments and the step's cosine.
#[test]
fn update_ratios_agree_at_every_logging_rate() {
    const EVERY: usize = gradscope::DIAGNOSE_EVERY;
    let dir = tempfile::tempdir().unwrap();
    let data = helpers::synthetic_dataset(&dir.path().join("data"), 200, 50);
    let ratios = |log_every: usize, activation: Activation| {
        let cfg = TrainConfig {
            log_every,
            iterations: 3 * EVERY + 1,
            ..helpers::small_config(activation)
        };
        let run_dir = dir.path().join(format!("{activation}-{log_every}"));
        train("run", &data, &cfg, &run_dir).unwrap();
        helpers::scalars(&helpers::only_event_file(&run_dir))
    };
    for activation in [Activation::Relu, Activation::Tanh] {
        let every = ratios(1, activation);
        let tenth = ratios(EVERY, activation);
        let units = match activation {
            Activation::Relu => tags::DEAD_FRACTION,
            _ => tags::SATURATED_FRACTION,
        };
        for layer in 1..=LAYERS {
            let tag = tags::UPDATE_RATIO.tag(layer);
            // Every step logged: diagnosed once per EVERY iterations.
            assert_eq!(
                every.steps(&tag),
                [0, EVERY, 2 * EVERY, 3 * EVERY].map(|s| s as i64),
                "{tag}"
            );
            assert_eq!(every.get(&tag), tenth.get(&tag), "{activation} {tag}");
            // The optimizer's step, measured by the replica at every step or
            // by the optimizer itself at the logged ones: the same values.
            for family in [tags::ADAM_M_NORM, tags::ADAM_V_NORM, tags::UPDATE_COSINE] {
                let tag = family.tag(layer);
                let measured = tenth.get(&tag);
                assert_eq!(
                    tenth.steps(&tag),
                    [0, EVERY as i64, 2 * EVERY as i64, 3 * EVERY as i64]
                );
                assert_eq!(every.get(&tag), measured, "{activation} {tag}");
            }
            // Adam's first step moves each weight by about lr: a ratio far
            // below 1 and far above nothing.
            let (_, first) = tenth.get(&tag)[0];
            assert!((-5.0..-1.0).contains(&first), "{activation} {tag}: {first}");
            if layer < LAYERS {
                let fractions = tenth.get(&units.tag(layer));
                assert_eq!(fractions.len(), 4, "{activation} layer {layer}");
                assert!(fractions.iter().all(|(_, f)| (0.0..=1.0).contains(f)));
            }
        }
        assert!(
            tenth.get(&units.tag(LAYERS)).is_empty(),
            "the output layer has no activation"
        );
    }
}
