//! Seeds, grids, `--jobs` and `--shard` through the binary, on small
//! synthetic data sets: the runs each writes, their aggregates, shards
//! through GNU parallel, and bad input refused before any run starts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use gradscope::tags;
use gradscope_tensorboard::logdir::{Kind, Logdir};

use crate::helpers;

/// Tiny runs: 12 iterations logging every 4.
const TINY: [&str; 4] = ["--iterations", "12", "--log-every", "4"];

fn data(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    helpers::write_synthetic(&data, 100, 30);
    data
}

/// Trains `args` (plus the tiny sizes and no progress bar) on `data` into
/// `logs`; fails the test unless it succeeds.
fn train(data: &Path, logs: &Path, args: &[&str]) -> String {
    let out = helpers::run_gradscope(
        &[
            args,
            &TINY,
            &["--no-progress", "--data-dir", s(data), "--logdir", s(logs)],
        ]
        .concat(),
    );
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    stdout(&out)
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every run's scalars, by run and tag, with the scalars' values.
fn scalars(logs: &Path) -> BTreeMap<String, BTreeMap<String, Vec<(i64, f64)>>> {
    let logdir = Logdir::load(logs).unwrap();
    (logdir.runs.iter())
        .map(|run| {
            let tags = (run.tags.iter())
                .filter(|(_, t)| t.kind == Kind::Scalar)
                .map(|(tag, _)| (tag.clone(), run.scalars(tag)))
                .collect();
            (run.name.clone(), tags)
        })
        .collect()
}

fn event_file_count(logs: &Path) -> usize {
    let logdir = Logdir::load(logs).unwrap();
    logdir.runs.iter().map(|r| r.files.len()).sum()
}

#[test]
fn five_seeds_of_all_write_15_seed_runs_3_means_and_compare_shows_mean_std() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let out = train(
        &data(dir.path()),
        &logs,
        &["--scenario", "all", "--seeds", "5"],
    );
    let logdir = Logdir::load(&logs).unwrap();
    let names: Vec<&str> = logdir.runs.iter().map(|r| r.name.as_str()).collect();
    let seed_runs = names.iter().filter(|n| n.contains("/seed-")).count();
    let means: Vec<&&str> = names.iter().filter(|n| n.ends_with("/mean")).collect();
    assert_eq!(seed_runs, 15, "{names:?}");
    assert_eq!(means, [&"leaky_relu/mean", &"relu/mean", &"sigmoid/mean"]);
    for run in logdir.runs.iter().filter(|r| r.name.ends_with("/mean")) {
        assert_eq!(run.last_scalar(tags::SEED_COUNT), Some(5.0), "{}", run.name);
        for tag in [tags::LOSS, &tags::mean_grad(1), tags::TEST_ACC] {
            assert!(!run.scalars(tag).is_empty(), "{} lacks {tag}", run.name);
            assert!(!run.scalars(&tags::std_of(tag)).is_empty());
        }
    }
    // The mean run's loss is the mean of the seeds' at each step.
    let seeds: Vec<_> = (1..=5)
        .map(|k| {
            let run = logdir
                .runs
                .iter()
                .find(|r| r.name == format!("relu/seed-{k}"));
            run.unwrap().scalars(tags::LOSS)
        })
        .collect();
    let mean = logdir.runs.iter().find(|r| r.name == "relu/mean").unwrap();
    for (i, &(step, value)) in mean.scalars(tags::LOSS).iter().enumerate() {
        let expected = seeds.iter().map(|s| s[i].1).sum::<f64>() / 5.0;
        assert_eq!(seeds[0][i].0, step);
        assert!((value - expected).abs() < 1e-5, "{value} vs {expected}");
    }
    assert!(
        out.contains("sigmoid vs relu: sigmoid's attenuation larger than relu's"),
        "{out}"
    );

    let compare = helpers::run_gradscope(&["compare", s(&logs)]);
    assert!(compare.status.success(), "{}", stderr(&compare));
    let text = stdout(&compare);
    let relu = text
        .lines()
        .find(|l| l.starts_with("relu "))
        .unwrap_or_default();
    assert!(relu.contains(" 5 ") && relu.contains('±'), "{text}");
    let report = std::fs::read_to_string(logs.join("REPORT.md")).unwrap();
    assert!(
        report.contains("## Seed groups") && report.contains("| relu | 5 |"),
        "{report}"
    );
}

#[test]
fn a_seed_killed_mid_way_is_left_out_of_the_aggregate() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    train(
        &data(dir.path()),
        &logs,
        &["--scenario", "relu", "--seeds", "3"],
    );
    // What `kill -9` leaves: the file cut short, no session end.
    let file = helpers::only_event_file(&logs.join("relu/seed-2"));
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();

    let out = helpers::run_gradscope(&["aggregate", s(&logs)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("relu: mean and std over 2 seed(s) (1, 3); left out, not finished: 2"),
        "{text}"
    );
    assert!(text.contains("2 (left out: 2)"), "{text}");
    let logdir = Logdir::load(&logs).unwrap();
    let run = |name: &str| logdir.runs.iter().find(|r| r.name == name).unwrap();
    assert_eq!(run("relu/mean").last_scalar(tags::SEED_COUNT), Some(2.0));
    let (one, three) = (run("relu/seed-1"), run("relu/seed-3"));
    let expected = (one.last_scalar(tags::TEST_ACC).unwrap()
        + three.last_scalar(tags::TEST_ACC).unwrap())
        / 2.0;
    let got = run("relu/mean").last_scalar(tags::TEST_ACC).unwrap();
    assert!((got - expected).abs() < 1e-6, "{got} vs {expected}");
}

#[test]
fn jobs_2_writes_the_same_runs_and_numbers_as_jobs_1() {
    let dir = tempfile::tempdir().unwrap();
    let data = data(dir.path());
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    let args = ["--scenario", "sigmoid,relu", "--seeds", "2"];
    train(&data, &one, &[&args[..], &["--jobs", "1"]].concat());
    let out = train(&data, &two, &[&args[..], &["--jobs", "2"]].concat());
    assert_eq!(scalars(&one), scalars(&two));
    assert_eq!(scalars(&one).len(), 6);
    // Lines are printed whole, not cut into by the other job's, each
    // saying whose it is.
    let lines: Vec<&str> = out.lines().filter(|l| l.contains("Iteration")).collect();
    assert_eq!(lines.len(), 4 * 3, "{out}");
    let runs = [
        "sigmoid/seed-1",
        "sigmoid/seed-2",
        "relu/seed-1",
        "relu/seed-2",
    ];
    for line in lines {
        let (run, rest) = line.split_once(": ").unwrap();
        assert!(
            runs.contains(&run) && rest.starts_with("Iteration "),
            "{line:?}"
        );
        assert_eq!(line.matches("Iteration").count(), 1, "{line:?}");
        assert!(line.ends_with('%'), "{line:?}");
    }
}

/// The grid of the shard test: 2 scenarios x 2 widths x 2 seeds.
const GRID: [&str; 6] = [
    "--scenario",
    "sigmoid,relu",
    "--hidden",
    "8,12",
    "--seeds",
    "2",
];

#[test]
fn shards_through_gnu_parallel_equal_the_unsharded_run_and_a_rerun_trains_nothing() {
    let version = Command::new("parallel").arg("--version").output();
    let gnu = version.is_ok_and(|v| String::from_utf8_lossy(&v.stdout).contains("GNU parallel"));
    if !gnu {
        // scripts/test.sh requires it (scripts/setup-system.sh installs it).
        assert!(
            std::env::var_os("GRADSCOPE_REQUIRE_MNIST").is_none(),
            "GNU parallel is missing: scripts/setup-system.sh installs it (apt-get install parallel)"
        );
        eprintln!("skipped: GNU parallel is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = data(dir.path());
    let (whole, sharded) = (dir.path().join("whole"), dir.path().join("sharded"));
    train(&data, &whole, &GRID);

    let mut command = vec![helpers::GRADSCOPE.to_string()];
    command.extend(GRID.iter().chain(&TINY).map(|a| a.to_string()));
    command.extend(
        [
            "--no-progress",
            "--data-dir",
            s(&data),
            "--logdir",
            s(&sharded),
        ]
        .map(String::from),
    );
    command.extend(["--shard".into(), "{}/3".into()]);
    let out = Command::new("parallel")
        .args(["--will-cite", "--halt", "now,fail=1"])
        .args(&command)
        .args([":::", "1", "2", "3"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let aggregated = helpers::run_gradscope(&["aggregate", s(&sharded)]);
    assert!(aggregated.status.success(), "{}", stderr(&aggregated));

    let (a, b) = (scalars(&whole), scalars(&sharded));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    assert_eq!(a.len(), 8 + 4, "8 seed runs and 4 means: {:?}", a.keys());
    assert_eq!(a, b);

    // A finished shard, run again, trains nothing and writes no file.
    let files = event_file_count(&sharded);
    let again = Command::new(&command[0])
        .args(command[1..].iter().map(|a| a.replace("{}", "2")))
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", stderr(&again));
    let text = stdout(&again);
    assert!(text.contains("Nothing to train"), "{text}");
    assert_eq!(text.matches("Skipping ").count(), 3, "{text}");
    assert_eq!(event_file_count(&sharded), files);
}

#[test]
fn bad_sweep_input_is_refused_naming_the_flag_before_any_run() {
    let dir = tempfile::tempdir().unwrap();
    let data = data(dir.path());
    let grid = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_string()
    };
    let unknown = grid(
        "unknown.grid",
        "# a grid\nlayers = 3, 4\nlearning-rate = 0.1\n",
    );
    let twice = grid("twice.grid", "layers = 3\nlayers = 4\n");
    let bad_value = grid("bad.grid", "\nhidden = 8, x\n");
    let cases: Vec<(Vec<&str>, Vec<String>)> = vec![
        (vec!["--shard", "3/2"], vec!["--shard".into(), "3/2".into()]),
        (
            vec!["--shard", "0/2"],
            vec!["--shard".into(), "1 <= I <= N".into()],
        ),
        (vec!["--shard", "x"], vec!["--shard".into(), "I/N".into()]),
        (
            vec!["--seeds", "0"],
            vec!["--seeds".into(), "at least 1".into()],
        ),
        (
            vec!["--seeds", "1,2,1"],
            vec!["--seeds".into(), "twice".into()],
        ),
        (
            vec!["--seeds", "3", "--seed", "2"],
            vec!["--seed".into(), "cannot be used with".into()],
        ),
        (vec!["--jobs", "0"], vec!["--jobs".into()]),
        (
            vec!["--layers", "3,3"],
            vec!["twice".into(), "--layers".into(), "sigmoid-l3".into()],
        ),
        (
            vec!["--grid", &unknown],
            vec![format!("{unknown}:3"), "learning-rate".into()],
        ),
        (
            vec!["--grid", &twice],
            vec![format!("{twice}:2"), "twice".into()],
        ),
        (
            vec!["--grid", &bad_value],
            vec![format!("{bad_value}:2"), "--hidden".into()],
        ),
    ];
    for (args, expect) in cases {
        let logs = dir.path().join("logs");
        let out = helpers::run_gradscope(
            &[
                &args[..],
                &[
                    "--scenario",
                    "sigmoid",
                    "--no-progress",
                    "--data-dir",
                    s(&data),
                    "--logdir",
                    s(&logs),
                ],
            ]
            .concat(),
        );
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?} should fail");
        for e in &expect {
            assert!(err.contains(e.as_str()), "{args:?}: no {e:?} in {err}");
        }
        assert!(!logs.exists(), "{args:?}: wrote {}", logs.display());
    }
}

/// TensorBoard's own server, with both loaders: the seeds of a
/// configuration are one HParams session group of two sessions, the
/// aggregate run's layout has a margin chart per tag, and the band's edges
/// it serves are mean ∓ std of the seeds' values.
#[test]
fn tensorboard_groups_the_seeds_and_serves_the_mean_with_its_band() {
    let Some(python) = helpers::python() else {
        return; // helpers::python said why
    };
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    train(
        &data(dir.path()),
        &logs,
        &["--scenario", "sigmoid,relu", "--seeds", "2"],
    );
    let ours = scalars(&logs);
    for load_fast in [false, true] {
        let log = dir.path().join(format!("tensorboard-{load_fast}.log"));
        let mut server = helpers::Server::start(&python, &logs, load_fast, log);
        server.wait_until_loaded(|tags| {
            ["relu/mean", "sigmoid/mean", "relu/seed-2", "sigmoid/seed-2"]
                .iter()
                .all(|run| tags[run].get("attenuation").is_some())
        });

        let layout = server.get("/data/plugin/custom_scalars/layout");
        let category = &layout["category"][0];
        assert_eq!(category["title"], "mean ± std across seeds", "{layout}");
        let loss = (category["chart"].as_array().unwrap().iter())
            .find(|c| c["title"] == "loss")
            .unwrap_or_else(|| panic!("no loss chart: {layout}"));
        assert_eq!(
            loss["margin"]["series"][0],
            serde_json::json!({"value": "loss", "lower": "loss/lower", "upper": "loss/upper"})
        );

        let upper = server.get("/data/plugin/scalars/scalars?run=relu/mean&tag=loss/upper");
        let served: Vec<(i64, f64)> = (upper.as_array().unwrap().iter())
            .map(|p| (p[1].as_i64().unwrap(), p[2].as_f64().unwrap()))
            .collect();
        let seeds = [&ours["relu/seed-1"]["loss"], &ours["relu/seed-2"]["loss"]];
        assert_eq!(served.len(), seeds[0].len());
        for (i, &(step, value)) in served.iter().enumerate() {
            let (a, b) = (seeds[0][i].1, seeds[1][i].1);
            let (mean, std) = gradscope::mean_std(&[a, b]).unwrap();
            assert_eq!(step, seeds[0][i].0);
            assert!(
                (value - (mean + std)).abs() < 1e-5,
                "{value} vs {}",
                mean + std
            );
        }

        let groups = server.post(
            "/data/plugin/hparams/session_groups",
            &serde_json::json!({
                "experimentName": "",
                "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"],
                "colParams": [{"hparam": "activation", "includeInResult": true},
                              {"hparam": "seed", "includeInResult": true}],
                "startIndex": 0,
                "sliceSize": 100,
            }),
        );
        let groups = groups["sessionGroups"].as_array().unwrap();
        let mut sessions: Vec<Vec<String>> = (groups.iter())
            .map(|g| {
                let mut names: Vec<String> = (g["sessions"].as_array().unwrap().iter())
                    .map(|s| s["name"].as_str().unwrap().to_string())
                    .collect();
                names.sort();
                names
            })
            .collect();
        sessions.sort();
        assert_eq!(
            sessions,
            [
                ["relu/seed-1", "relu/seed-2"],
                ["sigmoid/seed-1", "sigmoid/seed-2"]
            ],
            "load_fast={load_fast}: {groups:?}"
        );
    }
}
