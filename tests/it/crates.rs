//! The library crates as a stranger meets them: a program outside the
//! workspace that depends on `gradscope-candle` and `gradscope-tensorboard`
//! by path, as `cargo add --path` writes it, compiles, trains a small candle
//! model with a `GradMonitor`, and TensorBoard's own loader reads back what
//! it wrote. And `gradscope-candle` brings none of the app's dependencies.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helpers;

/// The stranger's first program: no casts for steps or counts.
const FIRST_PROGRAM: &str = r#"
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{linear, Optimizer, VarBuilder, VarMap, SGD};
use gradscope_candle::GradMonitor;
use gradscope_tensorboard::SummaryWriter;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let logdir = std::env::args().nth(1).ok_or("usage: first-program LOGDIR")?;
    let device = Device::Cpu;
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
    let (fc1, fc2) = (linear(3, 4, vb.pp("fc1"))?, linear(4, 1, vb.pp("fc2"))?);
    let mut optimizer = SGD::new(varmap.all_vars(), 0.05)?;
    let writer = SummaryWriter::new(&logdir)?;
    let mut monitor = GradMonitor::new(&varmap, writer.clone())?.log_every(5);

    let x = Tensor::new(&[[1f32, 2.0, 3.0], [0.5, -1.0, 2.0]], &device)?;
    let y = Tensor::new(&[[1f32], [0.0]], &device)?;
    let mut seen = Vec::new();
    for step in 0..20usize {
        let loss = (fc2.forward(&fc1.forward(&x)?.tanh()?)? - &y)?.sqr()?.mean_all()?;
        let grads = loss.backward()?;
        monitor.observe(step, &grads)?;
        optimizer.step(&grads)?;
        seen.push(step);
        writer.add_scalar("loss", loss.to_scalar::<f32>()?, step)?;
        writer.add_scalar("examples_seen", 2 * seen.len(), step)?;
    }
    writer.add_histogram("steps", &seen, 19usize)?;
    monitor.close()?;
    Ok(())
}
"#;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A cargo project in `dir` depending on both crates by path; its
/// Cargo.lock is the workspace's, so it builds the same versions offline.
fn write_project(dir: &Path) {
    let krate = |name: &str| repo().join("crates").join(name);
    let manifest = format!(
        r#"[package]
name = "first-program"
version = "0.1.0"
edition = "2021"
publish = false

[dependencies]
candle-core = "0.11"
candle-nn = "0.11"
gradscope-candle = {{ path = "{}" }}
gradscope-tensorboard = {{ path = "{}" }}

[workspace]
"#,
        krate("gradscope-candle").display(),
        krate("gradscope-tensorboard").display()
    );
    std::fs::create_dir_all(dir.join("src")).unwrap();
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(dir.join("src/main.rs"), FIRST_PROGRAM).unwrap();
    std::fs::copy(repo().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Builds the project in `dir` (its own target folder under the
/// workspace's, kept between runs so only the first build is cold) and
/// returns the binary.
fn build(dir: &Path) -> PathBuf {
    let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("outside-workspace");
    let out = cargo()
        .args(["build", "--offline", "--quiet"])
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", &target)
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the program outside the workspace does not build:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    target.join("debug/first-program")
}

#[test]
fn a_program_outside_the_workspace_builds_logs_and_tensorboard_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("first-program");
    write_project(&project);
    let binary = build(&project);
    let logdir = dir.path().join("logs");
    let out = Command::new(&binary).arg(&logdir).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let Some(python) = helpers::python() else {
        return; // helpers::python said why
    };
    let loaded = helpers::tensorboard_load(&python, &logdir);
    let run = &loaded["runs"]["."];
    let steps = |tag: &str| -> Vec<i64> {
        let points = run[tag]["points"]
            .as_array()
            .unwrap_or_else(|| panic!("TensorBoard has no {tag}: {}", helpers::keys(run).len()));
        points.iter().map(|p| p[0].as_i64().unwrap()).collect()
    };
    assert_eq!(steps("loss"), (0..20).collect::<Vec<_>>());
    let seen = &run["examples_seen"]["points"];
    assert_eq!(seen[19][1].as_f64(), Some(40.0), "{seen}");
    for param in ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"] {
        assert_eq!(steps(&format!("grad_mean_abs/{param}")), [0, 5, 10, 15]);
        assert_eq!(run[format!("grad/{param}")]["plugin"], "histograms");
    }
    assert_eq!(steps("group_grad_mean_abs/fc1"), [0, 5, 10, 15]);
    assert_eq!(steps("attenuation"), [19]);
    let histogram = run["steps"]["points"][0][1].as_array().unwrap();
    let count: f64 = histogram.iter().map(|b| b[2].as_f64().unwrap()).sum();
    assert_eq!(count, 20.0, "{histogram:?}");
}

/// A candle user who adds gradscope-candle gets candle, the writer crate
/// and small crates: none of the app's command-line, plotting, progress-bar,
/// allocator or signal dependencies.
#[test]
fn gradscope_candle_brings_none_of_the_apps_dependencies() {
    let tree = crate_tree("gradscope-candle", &[]);
    assert!(tree.iter().any(|p| p == "candle-core"), "{tree:?}");
    for app_only in [
        "clap",
        "plotters",
        "indicatif",
        "mimalloc",
        "libmimalloc-sys",
        "signal-hook",
    ] {
        let found = tree.iter().any(|p| p == app_only);
        assert!(!found, "gradscope-candle depends on {app_only}:\n{tree:?}");
    }
}

/// `cargo tree` of `package`'s normal dependencies, with `features`
/// (none: the default build): the package names.
fn crate_tree(package: &str, features: &[&str]) -> Vec<String> {
    let out = cargo()
        .args(["tree", "--offline", "-p", package, "-e", "normal"])
        .args(features.iter().flat_map(|f| ["--features", f]))
        .args(["--prefix", "none", "--format", "{p}"])
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8(out.stdout).unwrap();
    (tree.lines())
        .filter_map(|l| l.split(' ').next())
        .map(String::from)
        .collect()
}

/// The default build of gradscope-tensorboard has none of the object-store
/// feature's dependencies; the feature brings them, with rustls on ring,
/// not on aws-lc-sys (a C build that needs cmake).
#[test]
fn object_storage_dependencies_come_only_with_the_feature() {
    let storage = [
        "object_store",
        "tokio",
        "reqwest",
        "rustls",
        "ring",
        "hyper",
    ];
    let default = crate_tree("gradscope-tensorboard", &[]);
    for name in storage {
        assert!(
            !default.iter().any(|d| d == name),
            "the default build depends on {name}: {default:?}"
        );
    }
    let with_feature = crate_tree("gradscope-tensorboard", &["object-store"]);
    for name in storage {
        assert!(
            with_feature.iter().any(|d| d == name),
            "{name}: {with_feature:?}"
        );
    }
    for name in ["aws-lc-sys", "aws-lc-rs", "openssl-sys"] {
        assert!(
            !with_feature.iter().any(|d| d == name),
            "{name}: {with_feature:?}"
        );
    }
}
