//! Running what the command line asked for: load the data once, train each
//! scenario into its own run folder, print the comparison table, and after
//! several runs (`--scenario all`, or any list) write `LOGDIR/REPORT.md`
//! with its figures.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Result;
use gradscope_tensorboard::logdir::{is_event_file, Logdir, Run};
use gradscope_tensorboard::storage;

pub mod grid_file;
pub mod jobs;
pub mod plan;

use crate::data::Dataset;
use crate::interrupt::{self, Interrupted};
use crate::model::{Activation, Cell, Init, DEFAULT_LEAKY_SLOPE};
use crate::report::seed_groups;
use crate::seeds;
use crate::stats::RunSummary;
use crate::table::diagnosis_text;
use crate::table::vanishing_table;
use crate::train::{defaults, recurrent, train, ConfigError, Scenario, TrainConfig};
pub use plan::{Grid, PlanError, PlannedRun, Shard};

/// `println!` that drops what a closed stdout cannot take instead of
/// panicking: the SIGPIPE that comes with it stops training cleanly (see
/// [`crate::interrupt`]), and the run's files are what counts.
macro_rules! say {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// What to run: the settings, their lists, and where.
#[derive(Debug, Clone)]
pub struct Experiment {
    /// The settings of every run where the grid lists none. With several
    /// runs, `save` gets the run's name added.
    pub config: TrainConfig,
    /// The lists of settings (scenarios among them) and the seeds
    /// ([`plan`]); the default is one run, of `config`.
    pub grid: Grid,
    /// Only this slice of the plan, skipping its runs that finished and
    /// resuming those that did not (as `resume` does); `None`: every run,
    /// and then the seed groups' aggregates and REPORT.md.
    pub shard: Option<Shard>,
    /// Skip the runs that finished, and continue the others from their
    /// checkpoints (from step 0 where there is none), each in its folder.
    pub resume: bool,
    /// How many runs train at once, each on its own thread (at least 1).
    pub jobs: usize,
    /// Where the runs go, one folder each.
    pub logdir: PathBuf,
    /// The folder of the data set's four IDX files.
    pub data_dir: PathBuf,
}

/// Runs the experiment's plan (its shard's slice of it); returns the
/// summaries of the runs trained, in plan order. Calls `after_run` after
/// each run, once all it held but its summary is freed (the binary hands
/// that memory back to the OS there), from the thread that trained it.
///
/// Without a shard, then writes each seed group's aggregate run and, after
/// several runs, REPORT.md; a shard leaves both to `gradscope aggregate`
/// ([`aggregate`]), run once every shard is done.
pub fn run(experiment: &Experiment, after_run: impl Fn() + Sync) -> Result<Vec<RunSummary>> {
    let Experiment {
        config,
        grid,
        shard,
        resume,
        jobs,
        logdir,
        data_dir,
    } = experiment;
    let resuming = *resume || shard.is_some();
    let config = &TrainConfig {
        resume: resuming,
        ..config.clone()
    };
    let all = plan::plan(config, grid)?;
    let names: Vec<String> = all.iter().map(|r| r.name.clone()).collect();
    check_logdir(logdir, &names)?;
    let lstm = (all.iter()).any(|r| r.config.scenario == Scenario::Recurrent(Cell::Lstm));
    if config.recurrent.forget_bias.is_some() && !lstm {
        return Err(ConfigError::ForgetBiasWithoutLstm.into());
    }
    let (total, groups) = (all.len(), seed_groups(&all));
    let mut todo = plan::slice(all, *shard);
    if let Some(shard) = shard {
        say!("Shard {shard}: {} of the plan's {total} runs", todo.len());
    }
    if resuming {
        todo.retain(|run| {
            let done = run_finished(&logdir.join(&run.name));
            if done {
                say!("Skipping {}: it finished already", run.name);
            }
            !done
        });
    }
    let mut runs = Vec::new();
    let mut written = Vec::new();
    if !todo.is_empty() {
        let data = Dataset::load(data_dir)?;
        say!(
            "Data: {} ({} training, {} test images of {}x{})",
            data_dir.display(),
            data.train.len(),
            data.test.len(),
            data.train.rows,
            data.train.cols
        );
        // Every recurrent run's settings checked before the first run trains.
        for run in &todo {
            if let Scenario::Recurrent(_) = run.config.scenario {
                recurrent::check(&run.config, &data)?;
            }
            // And every checkpoint to continue from, read and matched
            // against the flags: a mismatch stops the plan before any run.
            if resuming {
                crate::train::checkpoint::load(&logdir.join(&run.name), &run.config)?;
            }
        }
        // Runs that train at once share one display, and say whose each line is.
        let bars = ((*jobs).min(todo.len()) > 1).then(indicatif::MultiProgress::new);
        let train_one = |run: &PlannedRun| {
            let result = train_run(run, &data, logdir, total, bars.clone());
            after_run();
            result
        };
        for (summary, run) in jobs::run_all(&todo, *jobs, train_one)? {
            runs.push(summary);
            written.extend(run);
        }
        say!("\n{}", vanishing_table(&runs));
        say!("{}", diagnosis_text(&runs));
    } else {
        say!("Nothing to train: every run finished already.");
    }
    if let Some(shard) = shard {
        say!(
            "Shard {shard} done. Once every shard is: gradscope aggregate {} (the seed \
             groups' mean runs and REPORT.md)",
            logdir.display()
        );
    } else {
        summarize_seed_groups(logdir, Some(&groups))?;
        // A comparison (`all`, or any list of runs) gets a report; one run alone doesn't.
        if total > 1 {
            let report = crate::report::report_md::write_report(logdir, written)?;
            say!("Report and figures: {}", report.display());
        }
    }
    say!("View the runs: tensorboard --logdir {}", logdir.display());
    Ok(runs)
}

/// `gradscope aggregate LOGDIR`: writes every seed group's aggregate run
/// from the event files on disk and prints the groups' table, then writes
/// REPORT.md: what training does at its end, for after shards.
pub fn aggregate(logdir: &Path) -> Result<()> {
    let loaded = Logdir::load_dir(logdir)?;
    if seeds::groups(&loaded).is_empty() {
        say!(
            "{}: no seed groups (runs in RUN/seed-K folders) to aggregate",
            logdir.display()
        );
    }
    drop(loaded);
    summarize_seed_groups(logdir, None)?;
    let report = crate::report::report_md::write_report(logdir, Vec::new())?;
    say!("Report and figures: {}", report.display());
    Ok(())
}

/// Writes the aggregate runs of the seed groups `only` (all without it)
/// and prints what each is over and the groups' table.
fn summarize_seed_groups(logdir: &Path, only: Option<&[String]>) -> Result<()> {
    if only.is_some_and(|groups| groups.is_empty()) {
        return Ok(());
    }
    let aggregates = seeds::aggregate_logdir(logdir, only)?;
    if aggregates.is_empty() {
        return Ok(());
    }
    for aggregate in &aggregates {
        match aggregate.seeds.len() {
            0 => say!("{}: no seed finished; no mean run written", aggregate.group),
            _ => say!(
                "{} -> {}",
                aggregate.describe(),
                logdir.join(seeds::mean_run(&aggregate.group)).display()
            ),
        }
    }
    let loaded = Logdir::load_dir(logdir)?;
    say!("\n{}", seed_groups::text(&loaded));
    Ok(())
}

/// The seed groups of a plan, in plan order.
fn seed_groups(runs: &[PlannedRun]) -> Vec<String> {
    let mut groups: Vec<String> = Vec::new();
    for group in runs.iter().filter_map(|r| r.group.as_ref()) {
        if !groups.contains(group) {
            groups.push(group.clone());
        }
    }
    groups
}

/// Trains one planned run into its folder under `logdir`; `runs` is the
/// plan's size (for `--save`'s file names).
fn train_run(
    run: &PlannedRun,
    data: &Dataset,
    logdir: &Path,
    runs: usize,
    progress_bars: Option<indicatif::MultiProgress>,
) -> Result<(RunSummary, Option<Run>)> {
    let name = &run.name;
    if let Some(signal) = interrupt::requested() {
        let message = format!("stopped by {signal} before run {name} started");
        return Err(Interrupted { signal, message }.into());
    }
    // Lines printed while other runs' bars are drawn go above them.
    let say_above = |line: String| match &progress_bars {
        Some(bars) => bars.suspend(|| say!("{line}")),
        None => say!("{line}"),
    };
    let run_dir = logdir.join(name);
    let checkpoint = crate::train::checkpoint::path(&run_dir);
    if run.config.resume && checkpoint.exists() {
        say_above(format!("Resuming {name} from {}", checkpoint.display()));
    } else if run.config.resume && has_event_files(&run_dir) {
        say_above(format!(
            "Note: {} has no checkpoint; {name} starts over, and TensorBoard drops the \
             points of its earlier files.",
            run_dir.display()
        ));
    } else if has_event_files(&run_dir) {
        say_above(format!(
            "Note: {} already holds event files; this run adds a new file beside them \
             and TensorBoard shows both under one run. Use another log directory to keep them apart.",
            run_dir.display()
        ));
    }
    say_above(format!("Running scenario: {name}"));
    let cfg = TrainConfig {
        progress_bars: progress_bars.clone(),
        save: (run.config.save.as_deref()).map(|p| save_path(p, name, runs)),
        ..run.config.clone()
    };
    let (summary, written) = train(name, data, &cfg, &run_dir)?;
    say_above(format!(
        "{name}: test accuracy {:.2}%, written to {}",
        summary.test_acc * 100.0,
        run_dir.display()
    ));
    if let Some(path) = &cfg.save {
        say_above(format!("{name}: final weights saved to {}", path.display()));
    }
    Ok((summary, written))
}

/// Whether the run in `dir` finished: its files end its HParams session
/// with success. A run killed mid-way, stopped or diverged did not.
fn run_finished(dir: &Path) -> bool {
    has_event_files(dir)
        && Logdir::load(dir).is_ok_and(|l| l.runs.iter().any(|r| r.name == "." && r.finished()))
}

/// A recurrent run's folder name: the cell, then the settings that differ
/// from the recurrent defaults (`lstm-pixels14-fb1`, `gru-h128-clip1`).
fn recurrent_run_name(config: &TrainConfig, cell: Cell) -> String {
    let r = &config.recurrent;
    let mut name = cell.name().to_string();
    if r.sequence != defaults::recurrent::SEQUENCE {
        name.push_str(&format!("-{}", r.sequence));
    }
    if r.hidden != defaults::recurrent::HIDDEN {
        name.push_str(&format!("-h{}", r.hidden));
    }
    if r.init != defaults::recurrent::INIT {
        name.push_str(&format!("-{}", r.init));
    }
    if let (Cell::Lstm, Some(bias)) = (cell, r.forget_bias) {
        name.push_str(&format!("-fb{bias}"));
    }
    push_training_settings(&mut name, config);
    name
}

/// The end of every run's folder name: the training settings (not the
/// network's) that differ from the defaults.
fn push_training_settings(name: &mut String, config: &TrainConfig) {
    if config.lr != defaults::LR {
        name.push_str(&format!("-lr{}", config.lr));
    }
    if config.batch_size != defaults::BATCH_SIZE {
        name.push_str(&format!("-b{}", config.batch_size));
    }
    if !config.shuffle {
        name.push_str("-noshuffle");
    }
    if let Some(max_norm) = config.clip_norm {
        name.push_str(&format!("-clip{max_norm}"));
    }
    if config.seed != defaults::SEED {
        name.push_str(&format!("-s{}", config.seed));
    }
}

/// A run's folder name: the scenario, then every setting that differs from
/// the defaults (`sigmoid`, `sigmoid-residual-l20`, `relu-he-normal-lr0.01`),
/// so runs of different configurations never share a folder. The run length
/// (iterations, how often it logs) is not part of the configuration: a
/// longer run of the same network shares its folder.
pub fn run_name(config: &TrainConfig) -> String {
    let activation = match config.scenario {
        Scenario::Recurrent(cell) => return recurrent_run_name(config, cell),
        Scenario::Mlp { activation, .. } => activation,
    };
    let mut name = config.scenario.name();
    let slope = config.leaky_slope;
    if activation == Activation::LeakyRelu && slope != DEFAULT_LEAKY_SLOPE {
        name.push_str(&format!("-slope{slope}"));
    }
    if config.layers != defaults::LAYERS {
        name.push_str(&format!("-l{}", config.layers));
    }
    if config.hidden != defaults::HIDDEN {
        name.push_str(&format!("-h{}", config.hidden));
    }
    if config.init_from.is_some() {
        name.push_str("-from-checkpoint");
    } else if config.init != Init::GlorotUniform {
        name.push_str(&format!("-{}", config.init));
    }
    push_training_settings(&mut name, config);
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
    // A seed run's name has a folder in it: `relu/seed-2` -> `relu-seed-2`.
    let run = run.replace('/', "-");
    let name = match path.extension() {
        Some(ext) => format!("{stem}-{run}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{run}"),
    };
    path.with_file_name(name)
}

/// Why the log directory cannot hold the runs, found before any training.
#[derive(Debug)]
#[non_exhaustive]
pub enum LogdirError {
    /// It does not exist and cannot be created.
    Create {
        logdir: PathBuf,
        source: std::io::Error,
    },
    /// It is something other than a directory.
    NotADirectory { logdir: PathBuf },
    /// Something other than a directory has a run's folder name.
    RunInTheWay {
        logdir: PathBuf,
        run: String,
        path: PathBuf,
    },
}

impl fmt::Display for LogdirError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogdirError::Create { logdir, .. } => {
                write!(f, "log directory {}: cannot create it", logdir.display())
            }
            LogdirError::NotADirectory { logdir } => {
                write!(f, "log directory {} is not a directory", logdir.display())
            }
            LogdirError::RunInTheWay { logdir, run, path } => write!(
                f,
                "log directory {}: {} is in the way of run {run}: not a directory",
                logdir.display(),
                path.display()
            ),
        }
    }
}

impl std::error::Error for LogdirError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LogdirError::Create { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Fails before any training if the logdir cannot hold the runs `names`.
/// A logdir in object storage is reached once, to check the bucket and
/// credentials (see [`storage`]).
fn check_logdir(logdir: &Path, names: &[String]) -> Result<(), LogdirError> {
    let logdir_buf = || logdir.to_path_buf();
    storage::create_dir_all(logdir).map_err(|source| LogdirError::Create {
        logdir: logdir_buf(),
        source,
    })?;
    if !storage::is_dir(logdir) {
        return Err(LogdirError::NotADirectory {
            logdir: logdir_buf(),
        });
    }
    for name in names {
        let path = logdir.join(name);
        if storage::is_in_the_way(&path) {
            return Err(LogdirError::RunInTheWay {
                logdir: logdir_buf(),
                run: name.clone(),
                path,
            });
        }
    }
    Ok(())
}

/// Whether `dir` itself (not a folder under it) holds event files.
fn has_event_files(dir: &Path) -> bool {
    storage::list_files(dir)
        .is_ok_and(|files| (files.iter()).any(|f| f.parent() == Some(dir) && is_event_file(f)))
}

#[cfg(test)]
mod tests {
    use super::*;

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
