//! Running what the command line asked for: load the data once, train each
//! scenario into its own run folder, print the comparison table.

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::cli::TrainArgs;
use crate::data::Dataset;
use crate::interrupt::{self, Interrupted};
use crate::report::vanishing_table;
use crate::train::{train, RunSummary, TrainConfig};

/// Runs every scenario of `args`; returns their summaries.
pub fn run(args: &TrainArgs) -> Result<Vec<RunSummary>> {
    let activations = args.scenario.activations();
    check_logdir(&args.logdir, activations.iter().map(|a| a.name()))?;
    let data_dir = args.data_dir();
    let data = Dataset::load(&data_dir)?;
    println!(
        "Data: {} ({} training, {} test images of {}x{})",
        data_dir.display(),
        data.train.len(),
        data.test.len(),
        data.train.rows,
        data.train.cols
    );

    let mut runs = Vec::new();
    for activation in activations {
        let name = activation.name();
        if let Some(signal) = interrupt::requested() {
            let message = format!("stopped by {signal} before scenario {name} started");
            return Err(Interrupted { signal, message }.into());
        }
        let run_dir = args.logdir.join(name);
        if has_event_files(&run_dir) {
            println!(
                "Note: {} already holds event files; this run adds a new file beside them \
                 and TensorBoard shows both under one run. Use another --logdir to keep them apart.",
                run_dir.display()
            );
        }
        println!("Running scenario: {name}");
        let cfg = TrainConfig {
            activation,
            layers: args.layers as usize,
            hidden: args.hidden as usize,
            iterations: args.iterations as usize,
            batch_size: args.batch_size as usize,
            lr: args.lr,
            log_every: args.log_every as usize,
            seed: args.seed,
            progress: !args.no_progress,
        };
        let summary = train(name, &data, &cfg, &run_dir)?;
        println!(
            "{name}: test accuracy {:.2}%, written to {}",
            summary.test_acc * 100.0,
            run_dir.display()
        );
        runs.push(summary);
    }
    println!("\n{}", vanishing_table(&runs));
    println!(
        "View the runs: tensorboard --logdir {}",
        args.logdir.display()
    );
    Ok(runs)
}

/// Fails before any training if the logdir cannot hold the runs `names`.
fn check_logdir<'a>(logdir: &Path, names: impl Iterator<Item = &'a str>) -> Result<()> {
    std::fs::create_dir_all(logdir).with_context(|| {
        format!(
            "--logdir {}: cannot create the log directory",
            logdir.display()
        )
    })?;
    if !logdir.is_dir() {
        bail!("--logdir {} is not a directory", logdir.display());
    }
    for name in names {
        let run_dir = logdir.join(name);
        if run_dir.exists() && !run_dir.is_dir() {
            bail!(
                "--logdir {}: {} is in the way of run {name}: not a directory",
                logdir.display(),
                run_dir.display()
            );
        }
    }
    Ok(())
}

fn has_event_files(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("events.out.tfevents.")
        })
    })
}
