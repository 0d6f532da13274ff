//! Running what the command line asked for: load the data once, train each
//! scenario into its own run folder, print the comparison table, and after
//! several runs (`--scenario all`, or any list) write `LOGDIR/REPORT.md`
//! with its figures.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::cli::{defaults, RunSpec, TrainArgs};
use crate::data::Dataset;
use crate::interrupt::{self, Interrupted};
use crate::model::{Activation, ActivationFn, Init, DEFAULT_LEAKY_SLOPE};
use crate::report::vanishing_table;
use crate::train::{train, RunSummary, TrainConfig};

/// `println!` that drops what a closed stdout cannot take instead of
/// panicking: the SIGPIPE that comes with it stops training cleanly (see
/// [`crate::interrupt`]), and the run's files are what counts.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// Runs every scenario of `args`; returns their summaries.
pub fn run(args: &TrainArgs) -> Result<Vec<RunSummary>> {
    let specs = args.runs();
    let names: Vec<String> = specs.iter().map(|spec| run_name(args, spec)).collect();
    check_logdir(&args.logdir, &names)?;
    let data_dir = args.data_dir();
    let data = Dataset::load(&data_dir)?;
    say!(
        "Data: {} ({} training, {} test images of {}x{})",
        data_dir.display(),
        data.train.len(),
        data.test.len(),
        data.train.rows,
        data.train.cols
    );

    let (mut runs, mut written) = (Vec::new(), Vec::new());
    for (spec, name) in specs.iter().zip(names) {
        if let Some(signal) = interrupt::requested() {
            let message = format!("stopped by {signal} before run {name} started");
            return Err(Interrupted { signal, message }.into());
        }
        let run_dir = args.logdir.join(&name);
        if has_event_files(&run_dir) {
            say!(
                "Note: {} already holds event files; this run adds a new file beside them \
                 and TensorBoard shows both under one run. Use another --logdir to keep them apart.",
                run_dir.display()
            );
        }
        say!("Running scenario: {name}");
        let cfg = TrainConfig {
            activation: ActivationFn::new(spec.activation, args.leaky_slope),
            residual: spec.residual,
            dataset: args.dataset.dir_name().to_string(),
            layers: args.layers as usize,
            hidden: args.hidden as usize,
            init: args.init,
            init_from: args.init_from.clone(),
            save: args
                .save
                .as_deref()
                .map(|p| save_path(p, &name, specs.len())),
            shuffle: !args.no_shuffle,
            iterations: args.iterations as usize,
            batch_size: args.batch_size as usize,
            lr: args.lr,
            log_every: args.log_every as usize,
            seed: args.seed,
            progress: !args.no_progress,
        };
        let (summary, run) = train(&name, &data, &cfg, &run_dir)?;
        say!(
            "{name}: test accuracy {:.2}%, written to {}",
            summary.test_acc * 100.0,
            run_dir.display()
        );
        if let Some(path) = &cfg.save {
            say!("{name}: final weights saved to {}", path.display());
        }
        runs.push(summary);
        written.extend(run);
        release_freed_memory();
    }
    say!("\n{}", vanishing_table(&runs));
    // A comparison (`all`, or any list of runs) gets a report; one run alone doesn't.
    if runs.len() > 1 {
        let report = crate::report::markdown::write_report(&args.logdir, written)?;
        say!("Report and figures: {}", report.display());
    }
    say!(
        "View the runs: tensorboard --logdir {}",
        args.logdir.display()
    );
    Ok(runs)
}

/// A run's folder name: the scenario, then every setting that differs from
/// the defaults (`sigmoid`, `sigmoid-residual-l20`, `relu-he-normal-lr0.01`),
/// so runs of different configurations never share a folder. The run length
/// (--iterations, --log-every) is not part of the configuration: a longer
/// run of the same network shares its folder.
pub fn run_name(args: &TrainArgs, spec: &RunSpec) -> String {
    let mut name = spec.activation.name().to_string();
    if spec.residual {
        name.push_str("-residual");
    }
    if spec.activation == Activation::LeakyRelu && args.leaky_slope != DEFAULT_LEAKY_SLOPE {
        name.push_str(&format!("-slope{}", args.leaky_slope));
    }
    if args.layers != defaults::LAYERS {
        name.push_str(&format!("-l{}", args.layers));
    }
    if args.hidden != defaults::HIDDEN {
        name.push_str(&format!("-h{}", args.hidden));
    }
    if args.init_from.is_some() {
        name.push_str("-from-checkpoint");
    } else if args.init != Init::GlorotUniform {
        name.push_str(&format!("-{}", args.init));
    }
    if args.lr != defaults::LR {
        name.push_str(&format!("-lr{}", args.lr));
    }
    if args.batch_size != defaults::BATCH_SIZE {
        name.push_str(&format!("-b{}", args.batch_size));
    }
    if args.no_shuffle {
        name.push_str("-noshuffle");
    }
    if args.seed != defaults::SEED {
        name.push_str(&format!("-s{}", args.seed));
    }
    name
}

/// `--save` for one run of `runs`: the path itself for a single run, else
/// the run's name added before the extension (`w.safetensors` ->
/// `w-relu.safetensors`).
fn save_path(path: &Path, run: &str, runs: usize) -> PathBuf {
    if runs == 1 {
        return path.to_path_buf();
    }
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let name = match path.extension() {
        Some(ext) => format!("{stem}-{run}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{run}"),
    };
    path.with_file_name(name)
}

/// Hands memory that finished runs freed back to the OS. mimalloc, the
/// binary's allocator, keeps freed pages for reuse, including those of each
/// run's exited summary thread; without this, three runs in one process
/// peak about 30 MB higher than one.
fn release_freed_memory() {
    // SAFETY: mi_collect only walks mimalloc's own free lists and heaps; it
    // may be called at any time, from any thread, also when mimalloc is not
    // the global allocator (as in tests), where it finds nothing to do.
    unsafe { libmimalloc_sys::mi_collect(true) }
}

/// Fails before any training if the logdir cannot hold the runs `names`.
fn check_logdir(logdir: &Path, names: &[String]) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn names(args: &[&str]) -> Vec<String> {
        let cli = Cli::try_parse_from(std::iter::once("gradscope").chain(args.iter().copied()));
        let Command::Train(args) = cli.unwrap().command() else {
            panic!("not a training command")
        };
        args.runs().iter().map(|r| run_name(&args, r)).collect()
    }

    #[test]
    fn default_runs_keep_the_article_names() {
        assert_eq!(names(&[]), ["sigmoid", "relu", "leaky_relu"]);
    }

    #[test]
    fn names_say_what_differs() {
        assert_eq!(
            names(&["--scenario", "sigmoid,sigmoid-residual", "--layers", "20"]),
            ["sigmoid-l20", "sigmoid-residual-l20"]
        );
        assert_eq!(
            names(&[
                "--activation",
                "relu",
                "--init",
                "he-normal",
                "--lr",
                "0.01",
                "--seed",
                "7"
            ]),
            ["relu-he-normal-lr0.01-s7"]
        );
        assert_eq!(
            names(&["--scenario", "leaky_relu", "--leaky-slope", "0.01"]),
            ["leaky_relu-slope0.01"]
        );
    }

    #[test]
    fn save_paths_are_per_run_when_there_are_several() {
        let p = Path::new("out/w.safetensors");
        assert_eq!(save_path(p, "relu", 1), PathBuf::from("out/w.safetensors"));
        assert_eq!(
            save_path(p, "relu", 3),
            PathBuf::from("out/w-relu.safetensors")
        );
    }
}
