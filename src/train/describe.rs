//! How a run describes itself to TensorBoard, beyond its training curves:
//!
//! - **Graphs**: the network as a `GraphDef`, once at the start.
//! - **Text**: at step 0 the run's configuration (every flag, the data set
//!   and its size, the gradscope version) as a markdown table under
//!   [`tags::CONFIG`]; at the end its row of the vanishing-gradient table
//!   under [`tags::VANISHING`].
//! - **HParams**: at step 0 the experiment record (the columns) and the
//!   session start (this run's values), at the end the session end. The
//!   metric columns are scalars the training loop logs: `test_acc`, `acc`,
//!   `loss` and `attenuation`.
//! - **Custom Scalars**: at step 0 the dashboard's layout
//!   ([`custom_scalars_layout`]): every layer's gradient on one chart.
//!
//! Everything here is pure: it returns events and summary values, and
//! [`crate::train::train`] writes them. The hyperparameters come from one
//! list, [`hparams()`]: a new one is one entry there, and appears in the
//! HParams columns, each session and the configuration table.

use std::path::Path;

use clap::ValueEnum;
use gradscope_candle::layout::{gradient_flow, FlowTags};
use gradscope_tensorboard::custom_scalars::{Category, Layout};
use gradscope_tensorboard::graph::graph_event;
use gradscope_tensorboard::hparams::{self, HParam, Metric};
use gradscope_tensorboard::proto::hparams::{DatasetType, Status};
use gradscope_tensorboard::proto::GraphDef;
use gradscope_tensorboard::proto::{summary, Event};
use gradscope_tensorboard::summary::{summary_event, text, wall_time_now};

use crate::data::{Dataset, DatasetName};
use crate::model::graph::mlp_graph;
use crate::model::{Activation, Architecture, Cell, Init, RecurrentShape, Shape};
use crate::stats::RunSummary;
use crate::table::{diagnosis_markdown, vanishing_markdown};
use crate::tags;
use crate::train::divergence::Divergence;
use crate::train::origin::Located;
use crate::train::{Scenario, TrainConfig};

/// The experiment's description in the HParams dashboard.
const DESCRIPTION: &str = "gradscope: deep, narrow MLPs trained with different activations, \
     and recurrent networks (tanh RNN, LSTM, GRU) over sequences, and how much gradient reaches \
     each of their layers and time steps";

/// The metric columns of the HParams dashboard: the last value of each of
/// these scalar tags in the run.
pub const METRICS: &[Metric] = &[
    Metric {
        tag: tags::TEST_ACC,
        description: "accuracy on the whole test set after training",
        dataset: DatasetType::DatasetValidation,
    },
    Metric {
        tag: tags::ACC,
        description: "accuracy on the last logged training batch",
        dataset: DatasetType::DatasetTraining,
    },
    Metric {
        tag: tags::LOSS,
        description: "cross-entropy of the last logged training batch",
        dataset: DatasetType::DatasetTraining,
    },
    Metric {
        tag: tags::ATTENUATION,
        description: "last layer's mean |gradient| over the first layer's, \
                      each averaged over the logged steps",
        dataset: DatasetType::DatasetTraining,
    },
];

/// The run's hyperparameters, in column order. The experiment record uses
/// only the names, kinds and choices, which do not depend on `cfg`, so it is
/// the same for every run.
pub fn hparams(cfg: &TrainConfig) -> Vec<(&'static str, HParam)> {
    let datasets = DatasetName::ALL.iter().map(|d| d.dir_name());
    let inits = Init::value_variants().iter().map(|i| i.name());
    // A recurrent run's activation is its cell's tanh; its size and
    // initialisation are the recurrent layer's.
    let (activation, residual, model, layers, hidden, init) = match cfg.scenario {
        Scenario::Mlp {
            activation,
            residual,
        } => (
            activation, residual, "mlp", cfg.layers, cfg.hidden, cfg.init,
        ),
        Scenario::Recurrent(cell) => (
            Activation::Tanh,
            false,
            cell.name(),
            1,
            cfg.recurrent.hidden,
            cfg.recurrent.init,
        ),
    };
    vec![
        (
            "activation",
            HParam::choice(activation.name(), Activation::ALL.iter().map(|a| a.name())),
        ),
        ("residual", HParam::Bool(residual)),
        ("leaky_slope", HParam::Real(cfg.leaky_slope)),
        (
            "init",
            HParam::choice(
                if cfg.init_from.is_some() {
                    "checkpoint"
                } else {
                    init.name()
                },
                inits.chain(["checkpoint"]),
            ),
        ),
        ("layers", HParam::Integer(layers as u64)),
        ("hidden", HParam::Integer(hidden as u64)),
        ("lr", HParam::Real(cfg.lr)),
        ("batch_size", HParam::Integer(cfg.batch_size as u64)),
        ("iterations", HParam::Integer(cfg.iterations as u64)),
        ("seed", HParam::Integer(cfg.seed)),
        ("dataset", HParam::choice(&cfg.dataset, datasets)),
        (
            "model",
            HParam::choice(
                model,
                std::iter::once("mlp").chain(Cell::ALL.iter().map(|c| c.name())),
            ),
        ),
        // 0: no clipping.
        ("clip_norm", HParam::Real(cfg.clip_norm.unwrap_or(0.0))),
    ]
}

/// The HParams session group of a run with `hparams` in `run_dir`: for a
/// seed's run (`RUN/seed-K`, see [`crate::seeds`]) every value but the
/// seed (`activation=relu, residual=false, ...`), so the seeds of one
/// configuration are one row of the dashboard, a session each; for any
/// other run none (`""`: the run is its own group, named after its folder).
pub fn session_group(hparams: &[(&str, HParam)], run_dir: &Path) -> String {
    let folder = run_dir.file_name().unwrap_or_default().to_string_lossy();
    if !crate::seeds::is_seed_folder(&folder) {
        return String::new();
    }
    let values: Vec<String> = (hparams.iter())
        .filter(|(name, _)| *name != "seed")
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    values.join(", ")
}

/// The configuration table: the hyperparameters, then the other settings
/// and where the data came from.
pub fn config_markdown(cfg: &TrainConfig, data: &Dataset, shape: &Shape, run_dir: &Path) -> String {
    let network: Vec<String> = std::iter::once(shape.inputs)
        .chain(shape.layer_sizes().iter().map(|&(_, out)| out))
        .map(|n| n.to_string())
        .collect();
    config_table(cfg, data, network.join(" -> "), Vec::new(), run_dir)
}

/// The configuration table of a recurrent run over sequences of `steps`.
pub fn recurrent_config_markdown(
    cfg: &TrainConfig,
    data: &Dataset,
    shape: &RecurrentShape,
    steps: usize,
    run_dir: &Path,
) -> String {
    let RecurrentShape {
        cell,
        inputs,
        hidden,
        outputs,
    } = *shape;
    let network = format!("{steps} steps of {inputs} -> {cell} {hidden} -> {outputs}");
    let forget_bias = match (cell, cfg.recurrent.forget_bias) {
        (Cell::Lstm, Some(b)) => b.to_string(),
        (Cell::Lstm, None) => "as initialised".to_string(),
        _ => "-".to_string(),
    };
    let rows = vec![
        ("sequence", cfg.recurrent.sequence.to_string()),
        ("forget_bias", forget_bias),
    ];
    config_table(cfg, data, network, rows, run_dir)
}

fn config_table(
    cfg: &TrainConfig,
    data: &Dataset,
    network: String,
    model_rows: Vec<(&str, String)>,
    run_dir: &Path,
) -> String {
    let mut rows: Vec<Vec<String>> = hparams(cfg)
        .into_iter()
        .map(|(name, value)| vec![name.to_string(), value.to_string()])
        .collect();
    rows.extend(model_rows.into_iter().map(|(k, v)| vec![k.to_string(), v]));
    let extra = [
        ("log_every", cfg.log_every.to_string()),
        ("no_progress", (!cfg.progress).to_string()),
        ("engine", cfg.engine.to_string()),
        ("device", cfg.device.to_string()),
        ("network", network),
        ("data_dir", data.dir.display().to_string()),
        ("train_images", data.train.len().to_string()),
        ("test_images", data.test.len().to_string()),
        (
            "image_size",
            format!("{}x{}", data.train.rows, data.train.cols),
        ),
        ("run_dir", run_dir.display().to_string()),
        ("gradscope_version", env!("CARGO_PKG_VERSION").to_string()),
    ];
    rows.extend(extra.map(|(k, v)| vec![k.to_string(), v]));
    crate::markdown::table(&["setting", "value"], &rows)
}

/// What an MLP run writes before its first step: its graph, its
/// configuration and its HParams experiment and session-start records.
pub fn mlp_start_events(
    cfg: &TrainConfig,
    data: &Dataset,
    arch: &Architecture,
    run_dir: &Path,
) -> Vec<Event> {
    let config = config_markdown(cfg, data, &arch.shape, run_dir);
    let graph = mlp_graph(&arch.shape, arch.activation, arch.residual);
    start_events(cfg, run_dir, config, custom_scalars_layout(), Some(graph))
}

/// What a recurrent run writes before its first step: its configuration
/// and its HParams records (no graph).
pub fn recurrent_start_events(
    cfg: &TrainConfig,
    data: &Dataset,
    shape: &RecurrentShape,
    steps: usize,
    run_dir: &Path,
) -> Vec<Event> {
    let config = recurrent_config_markdown(cfg, data, shape, steps, run_dir);
    start_events(
        cfg,
        run_dir,
        config,
        recurrent_custom_scalars_layout(),
        None,
    )
}

fn start_events(
    cfg: &TrainConfig,
    run_dir: &Path,
    config: String,
    layout: Layout,
    graph: Option<GraphDef>,
) -> Vec<Event> {
    let wall_time = wall_time_now();
    let hparams = hparams(cfg);
    let group = session_group(&hparams, run_dir);
    let values = vec![
        text(tags::CONFIG, &config),
        hparams::experiment(DESCRIPTION, &hparams, METRICS),
        hparams::session_start_in_group(&hparams, &group, wall_time),
        layout.to_value(),
    ];
    let graph = graph.map(|g| graph_event(0, wall_time, &g));
    graph
        .into_iter()
        .chain([summary_event(0, wall_time, values)])
        .collect()
}

/// The Custom Scalars dashboard's charts, the same in every run (the
/// dashboard merges the runs' layouts, so each run may carry it): all
/// layers' mean |grad| on one chart, as log10 (the dashboard has no log
/// scale, and the layers' values span decades) and as is; the per-layer
/// diagnostics, one chart per kind; the loss and the batch accuracy. Each
/// chart finds its tags by a regular expression from [`tags`].
pub fn custom_scalars_layout() -> Layout {
    let gradients = gradient_flow(
        "layer",
        &FlowTags {
            log10_mean_grad: tags::LOG10_MEAN_GRAD.regex(),
            mean_grad: tags::MEAN_GRAD.regex(),
            update_ratio: tags::UPDATE_RATIO.regex(),
        },
    );
    let units = Category::new("units: dead and saturated, per layer")
        .multiline(
            "dead fraction per layer (ReLU family)",
            [tags::DEAD_FRACTION.regex()],
        )
        .multiline(
            "saturated fraction per layer (sigmoid, tanh)",
            [tags::SATURATED_FRACTION.regex()],
        );
    let training = Category::new("training batch")
        .multiline("loss", [tags::exactly(tags::LOSS)])
        .multiline("accuracy", [tags::exactly(tags::ACC)]);
    Layout::new()
        .category(gradients)
        .category(units)
        .category(training)
}

/// A recurrent run's Custom Scalars charts: the gradient through time at
/// the first, last and a few fixed time steps on one chart, and the ratio
/// of the last to the first, beside the charts every run has (the
/// dashboard skips charts another run already brought).
pub fn recurrent_custom_scalars_layout() -> Layout {
    let through_time = Category::new("gradient through time (recurrent runs)")
        .multiline(
            "||dL/dh_t|| at t = 1, T/4, T/2, 3T/4, T",
            [tags::time_grad_points_regex()],
        )
        .multiline(
            "||dL/dh_T|| / ||dL/dh_1||",
            [tags::exactly(tags::TIME_ATTENUATION)],
        );
    let mut layout = custom_scalars_layout();
    layout.categories.insert(0, through_time);
    layout
}

/// What a finished run adds to its last event: its vanishing-gradient
/// table, its diagnosis and the session end.
pub fn finish_values(summary: &RunSummary, wall_time: f64) -> Vec<summary::Value> {
    vec![
        text(
            tags::VANISHING,
            &vanishing_markdown(std::slice::from_ref(summary)),
        ),
        text(tags::DIAGNOSIS, &diagnosis_markdown(summary)),
        hparams::session_end(Status::Success, wall_time),
    ]
}

/// What a run that stopped early (diverged) writes last.
pub fn failure_values(wall_time: f64) -> Vec<summary::Value> {
    vec![hparams::session_end(Status::Failure, wall_time)]
}

/// What a diverged run adds to its last event, beside its session's
/// failure (the HParams session end holds a status and no words): the
/// [`tags::DIVERGENCE`] text, what diverged at iteration `at` and where it
/// began.
pub fn divergence_values(at: usize, cause: &Divergence, origin: &Located) -> Vec<summary::Value> {
    let markdown = format!("Training diverged at iteration {at}: {cause}; {origin}.");
    vec![text(tags::DIVERGENCE, &markdown)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Split;
    use gradscope_tensorboard::proto::{event, summary::value::Value};
    use prost::Message;

    fn mlp_events(cfg: &TrainConfig, run_dir: &str) -> Vec<Event> {
        let arch = crate::train::mlp::architecture(cfg, shape().inputs).unwrap();
        mlp_start_events(cfg, &data(), &arch, Path::new(run_dir))
    }

    fn config(activation: Activation, lr: f64) -> TrainConfig {
        TrainConfig {
            layers: 3,
            hidden: 8,
            iterations: 50,
            batch_size: 4,
            lr,
            log_every: 10,
            seed: 7,
            ..TrainConfig::article(activation)
        }
    }

    fn data() -> Dataset {
        let split = |n: usize| Split {
            pixels: vec![0; n * 4],
            labels: vec![0; n],
            rows: 2,
            cols: 2,
        };
        Dataset {
            dir: "data/x_y".into(),
            train: split(12),
            test: split(5),
        }
    }

    fn shape() -> Shape {
        Shape {
            inputs: 4,
            hidden: 8,
            outputs: 10,
            layers: 3,
        }
    }

    fn summary_values(e: &Event) -> &[summary::Value] {
        match &e.what {
            Some(event::What::Summary(s)) => &s.value,
            other => panic!("not a summary: {other:?}"),
        }
    }

    #[test]
    fn every_required_hparam_once() {
        let names: Vec<&str> = hparams(&config(Activation::Relu, 0.1))
            .iter()
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(
            names,
            [
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
                "clip_norm"
            ]
        );
    }

    #[test]
    fn the_experiment_record_is_the_same_for_every_run() {
        let record = |cfg: &TrainConfig| {
            let events = mlp_events(cfg, "logs/x");
            summary_values(&events[1])
                .iter()
                .find(|v| v.tag == hparams::EXPERIMENT_TAG)
                .unwrap()
                .encode_to_vec()
        };
        let sigmoid = record(&config(Activation::Sigmoid, 0.001));
        assert_eq!(sigmoid, record(&config(Activation::Relu, 0.5)));
        assert_eq!(sigmoid, record(&config(Activation::LeakyRelu, 0.001)));
    }

    #[test]
    fn start_events_are_the_graph_then_text_and_hparams_at_step_0() {
        let events = mlp_events(&config(Activation::Sigmoid, 0.001), "logs/sigmoid");
        assert!(matches!(events[0].what, Some(event::What::GraphDef(_))));
        assert!(events.iter().all(|e| e.step == 0));
        let tags: Vec<&str> = summary_values(&events[1])
            .iter()
            .map(|v| v.tag.as_str())
            .collect();
        assert_eq!(
            tags,
            [
                tags::CONFIG,
                hparams::EXPERIMENT_TAG,
                hparams::SESSION_START_INFO_TAG,
                gradscope_tensorboard::custom_scalars::CONFIG_TAG,
            ]
        );
    }

    #[test]
    fn config_table_has_every_setting_and_the_data() {
        let md = config_markdown(
            &config(Activation::LeakyRelu, 0.001),
            &data(),
            &shape(),
            Path::new("logs/leaky_relu"),
        );
        for row in [
            r"| activation | leaky\_relu |",
            "| layers | 3 |",
            "| hidden | 8 |",
            "| lr | 0.001 |",
            r"| batch\_size | 4 |",
            "| iterations | 50 |",
            "| seed | 7 |",
            "| dataset | mnist |",
            r"| log\_every | 10 |",
            r"| no\_progress | true |",
            "| network | 4 -> 8 -> 8 -> 10 |",
            r"| data\_dir | data/x\_y |",
            r"| train\_images | 12 |",
            r"| test\_images | 5 |",
            r"| image\_size | 2x2 |",
            r"| run\_dir | logs/leaky\_relu |",
        ] {
            assert!(md.lines().any(|l| l == row), "no {row:?} in\n{md}");
        }
        let version = format!(r"| gradscope\_version | {} |", env!("CARGO_PKG_VERSION"));
        assert!(md.lines().any(|l| l == version), "{md}");
    }

    #[test]
    fn seeds_share_a_session_group_named_by_all_but_the_seed() {
        let hparams = hparams(&config(Activation::Relu, 0.1));
        assert_eq!(session_group(&hparams, Path::new("logs/relu")), "");
        let group = session_group(&hparams, Path::new("logs/relu/seed-7"));
        assert!(
            group.starts_with("activation=relu, residual=false"),
            "{group}"
        );
        assert!(
            group.contains("lr=0.1") && !group.contains("seed"),
            "{group}"
        );
    }

    #[test]
    fn finish_is_the_vanishing_table_the_diagnosis_then_success() {
        let run = RunSummary {
            name: "relu".into(),
            mean_grad: vec![0.01, 0.04],
            final_loss: 0.3,
            final_batch_acc: 0.9,
            train_acc: 0.9,
            test_acc: 0.8,
            units: None,
            time_attenuation: None,
        };
        let values = finish_values(&run, 2.0);
        assert_eq!(values[0].tag, tags::VANISHING);
        let Some(Value::Tensor(t)) = &values[0].value else {
            panic!("not text")
        };
        let md = String::from_utf8(t.string_val[0].clone()).unwrap();
        assert!(
            md.contains("| relu | 1.00e-2 | 4.00e-2 | 4.0x | 0.300 | 90.00% | 90.00% | 80.00% |"),
            "{md}"
        );
        assert_eq!(values[1].tag, tags::DIAGNOSIS);
        let Some(Value::Tensor(t)) = &values[1].value else {
            panic!("not text")
        };
        let md = String::from_utf8(t.string_val[0].clone()).unwrap();
        assert!(
            md.starts_with("- relu: no layer's gradient vanishes"),
            "{md}"
        );
        assert_eq!(values[2].tag, hparams::SESSION_END_INFO_TAG);
        assert_eq!(failure_values(2.0)[0].tag, hparams::SESSION_END_INFO_TAG);
    }
}
