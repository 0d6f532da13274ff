//! Every dashboard, as TensorBoard's own server serves it: a fresh
//! `--scenario all` logdir, `tensorboard --logdir` on 127.0.0.1, and its HTTP
//! data API (what the web frontend fetches) asked for each dashboard, with
//! both of its loaders: `--load_fast=false` (the Python multiplexer) and
//! `--load_fast=true` (the Rust tensorboard-data-server from the pip
//! package).
//!
//! Needs Python with TensorBoard, as the `tensorboard` tests do, and is
//! skipped with a message under the same rule.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{json, Value as Json};

use crate::helpers::{self, Server};

const RUNS: [&str; 3] = ["leaky_relu", "relu", "sigmoid"];

/// What the runs hold, read back with our own reader: run -> scalar tag ->
/// last (step, value).
fn last_scalars(logdir: &Path) -> BTreeMap<String, BTreeMap<String, (i64, f32)>> {
    let mut runs = BTreeMap::new();
    for run in RUNS {
        let file = helpers::only_event_file(&logdir.join(run));
        let last = helpers::scalars(&file)
            .series
            .into_iter()
            .map(|(tag, points)| (tag, *points.last().unwrap()))
            .collect();
        runs.insert(run.to_string(), last);
    }
    runs
}

fn set<'a>(items: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    items.into_iter().map(String::from).collect()
}

use crate::helpers::keys;

fn strings(j: &Json) -> BTreeSet<String> {
    j.as_array()
        .unwrap_or_else(|| panic!("not an array: {j}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

const HPARAMS: [&str; 13] = [
    "activation",
    "residual",
    "leaky_slope",
    "init",
    "layers",
    "hidden",
    "lr",
    "batch_size",
    "iterations",
    "seed",
    "dataset",
    "model",
    "clip_norm",
];
const METRICS: [&str; 4] = ["test_acc", "acc", "loss", "attenuation"];

fn check_every_dashboard(server: &Server, logdir: &Path) {
    let plugins = server.get("/data/plugins_listing");
    for plugin in [
        "scalars",
        "histograms",
        "distributions",
        "text",
        "hparams",
        "graphs",
    ] {
        assert_eq!(
            plugins[plugin]["enabled"],
            json!(true),
            "{plugin} is not active: {plugins}"
        );
    }

    let layers = 1..=6;
    let mut scalar_tags = set(["loss", "acc", "test_acc", "train_acc", "attenuation"]);
    scalar_tags.extend(layers.clone().map(|l| format!("mean_{l}")));
    scalar_tags.extend(layers.clone().map(|l| format!("log10_mean_{l}")));
    scalar_tags.extend(layers.clone().map(|l| format!("update_ratio_{l}")));
    scalar_tags.extend(layers.clone().map(|l| format!("zero_grad_{l}")));
    for family in ["grad_norm", "adam_m_norm", "adam_v_norm", "update_cosine"] {
        scalar_tags.extend(layers.clone().map(|l| format!("{family}_{l}")));
    }
    let mut histogram_tags: BTreeSet<String> = layers
        .flat_map(|l| {
            [
                format!("histogram_{l}"),
                format!("hist_weights_{l}"),
                format!("log10_abs_grad_{l}"),
            ]
        })
        .collect();
    histogram_tags.extend((1..=5).map(|l| format!("activations_{l}")));
    let scalars = server.get("/data/plugin/scalars/tags");
    let histograms = server.get("/data/plugin/histograms/tags");
    let distributions = server.get("/data/plugin/distributions/tags");
    let text = server.get("/data/plugin/text/tags");
    let graphs = server.get("/data/plugin/graphs/info");
    for tags in [&scalars, &histograms, &distributions, &text, &graphs] {
        assert_eq!(keys(tags), set(RUNS), "{tags}");
    }
    for run in RUNS {
        // The hidden layers' unit diagnostic: dead units for the ReLU
        // family, saturated ones for sigmoid.
        let units = if run == "sigmoid" {
            "saturated_fraction"
        } else {
            "dead_fraction"
        };
        let mut scalar_tags = scalar_tags.clone();
        scalar_tags.extend((1..=5).map(|l| format!("{units}_{l}")));
        assert_eq!(keys(&scalars[run]), scalar_tags, "{run}");
        assert_eq!(keys(&histograms[run]), histogram_tags, "{run}");
        assert_eq!(keys(&distributions[run]), histogram_tags, "{run}");
        assert_eq!(
            strings(&text[run]),
            set(["config", "vanishing_gradient", "diagnosis"]),
            "{run}"
        );
        assert_eq!(graphs[run]["run_graph"], json!(true), "{run}: {graphs}");
    }

    // The text renders as markdown tables.
    let config = server.get("/data/plugin/text/text?run=relu&tag=config");
    assert_eq!(config[0]["step"], json!(0));
    let html = config[0]["text"].as_str().unwrap();
    for cell in [
        "<td>activation</td>",
        "<td>relu</td>",
        "<td>iterations</td>",
        "<td>41</td>",
    ] {
        assert!(html.contains(cell), "config lacks {cell}: {html}");
    }
    let vanishing = server.get("/data/plugin/text/text?run=sigmoid&tag=vanishing_gradient");
    assert_eq!(vanishing[0]["step"], json!(41));
    let html = vanishing[0]["text"].as_str().unwrap();
    for cell in ["<th>|g| L1</th>", "<th>atten.</th>", "<td>sigmoid</td>"] {
        assert!(html.contains(cell), "vanishing table lacks {cell}: {html}");
    }

    // The graph is the MLP, layer by layer.
    for run in RUNS {
        let pbtxt = server.get_text(&format!("/data/plugin/graphs/graph?run={run}"));
        let op = match run {
            "sigmoid" => "Sigmoid",
            "relu" => "Relu",
            _ => "LeakyRelu",
        };
        for node in [
            "name: \"input\"".to_string(),
            "name: \"layer1/MatMul\"".into(),
            "name: \"layer6/BiasAdd\"".into(),
            format!("name: \"layer5/{op}\""),
            "name: \"loss/Mean\"".into(),
        ] {
            assert!(pbtxt.contains(&node), "{run}: graph lacks {node}");
        }
    }

    // HParams: what the dashboard's frontend asks for.
    let experiment = server.post(
        "/data/plugin/hparams/experiment",
        &json!({"experimentName": "", "hparamsLimit": 1000}),
    );
    let infos = experiment["hparamInfos"].as_array().unwrap();
    let names: BTreeSet<String> = infos
        .iter()
        .map(|h| h["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, set(HPARAMS), "{experiment}");
    let activation = infos.iter().find(|h| h["name"] == "activation").unwrap();
    assert_eq!(activation["type"], "DATA_TYPE_STRING");
    assert_eq!(
        strings(&activation["domainDiscrete"]),
        set([
            "sigmoid",
            "relu",
            "leaky_relu",
            "tanh",
            "elu",
            "selu",
            "gelu",
            "softplus",
            "linear"
        ])
    );
    let lr = infos.iter().find(|h| h["name"] == "lr").unwrap();
    assert_eq!(lr["type"], "DATA_TYPE_FLOAT64");
    let metrics: Vec<&str> = experiment["metricInfos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"]["tag"].as_str().unwrap())
        .collect();
    assert_eq!(metrics, METRICS, "{experiment}");

    let mut columns: Vec<Json> = HPARAMS
        .iter()
        .map(|h| json!({"hparam": h, "includeInResult": true}))
        .collect();
    columns.extend(
        METRICS
            .iter()
            .map(|m| json!({"metric": {"group": "", "tag": m}, "includeInResult": true})),
    );
    let groups = server.post(
        "/data/plugin/hparams/session_groups",
        &json!({
            "experimentName": "",
            "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"],
            "colParams": columns,
            "startIndex": 0,
            "sliceSize": 100,
        }),
    );
    let groups = groups["sessionGroups"].as_array().unwrap();
    assert_eq!(groups.len(), 3, "{groups:?}");
    let written = last_scalars(logdir);
    for group in groups {
        let run = group["name"].as_str().unwrap();
        assert!(RUNS.contains(&run), "unexpected session group {run}");
        let expected = json!({
            "activation": run, "layers": 6.0, "hidden": 10.0, "lr": 0.001,
            "batch_size": 30.0, "iterations": 41.0, "seed": 1.0, "dataset": "mnist",
            "residual": false, "leaky_slope": 0.2, "init": "glorot-uniform",
            "model": "mlp", "clip_norm": 0.0,
        });
        assert_eq!(group["hparams"], expected, "{run}");
        let sessions = group["sessions"].as_array().unwrap();
        assert_eq!(sessions.len(), 1, "{run}");
        assert_eq!(sessions[0]["name"], run);
        assert_eq!(sessions[0]["status"], "STATUS_SUCCESS", "{run}");
        let values = sessions[0]["metricValues"].as_array().unwrap();
        let got: BTreeMap<&str, (i64, f32)> = values
            .iter()
            .map(|v| {
                (
                    v["name"]["tag"].as_str().unwrap(),
                    (
                        v["trainingStep"].as_i64().unwrap(),
                        v["value"].as_f64().unwrap() as f32,
                    ),
                )
            })
            .collect();
        let want: BTreeMap<&str, (i64, f32)> =
            METRICS.iter().map(|m| (*m, written[run][*m])).collect();
        assert_eq!(got, want, "{run}");
        assert_eq!(want["test_acc"].0, 41);
        assert_eq!(want["loss"].0, 40);
    }
}

#[test]
fn tensorboard_serves_every_dashboard_with_both_loaders() {
    let Some(python) = helpers::python() else {
        return; // helpers::python said why
    };
    let dir = tempfile::tempdir().unwrap();
    let logs = helpers::train_all_on_synthetic(dir.path());
    for load_fast in [false, true] {
        let log = dir
            .path()
            .join(format!("tensorboard-load_fast={load_fast}.log"));
        eprintln!("TensorBoard with --load_fast={load_fast}");
        let mut server = Server::start(&python, &logs, load_fast, log);
        server.wait_until_loaded(|tags| {
            RUNS.iter()
                .all(|run| tags[run].get("attenuation").is_some())
        });
        check_every_dashboard(&server, &logs);
        drop(server);
    }
}
