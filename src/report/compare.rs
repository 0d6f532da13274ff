//! `gradscope compare LOGDIR`: the comparison table, built from what the
//! runs' event files hold rather than from a training run in memory.
//!
//! It needs only the tags every gradscope version has written (`loss`,
//! `acc`, `train_acc`, `test_acc`, `mean_1` ... `mean_N`); the attenuation
//! is computed from the `mean_i` series exactly as training computes it
//! ([`GradStats`] over the logged steps, then
//! [`crate::stats::attenuation`]), so
//! logdirs from older versions compare too. Other runs (from other
//! programs) get a row with whatever of these they have.

use anyhow::{bail, Result};
use std::io::Write;

use gradscope_tensorboard::logdir::{Logdir, Run};

use crate::report::seed_groups;
use crate::stats::GradStats;
use crate::table::{legend, render, Format, RunRow};
use crate::tags;

/// One row per run of `logdir`, in run-name order.
pub fn rows(logdir: &Logdir) -> Vec<RunRow> {
    logdir.runs.iter().map(row).collect()
}

/// A run's row: last values of its scalars and its averaged gradients.
pub fn row(run: &Run) -> RunRow {
    RunRow {
        name: run.name.clone(),
        loss: run.last_scalar(tags::LOSS),
        batch_acc: run.last_scalar(tags::ACC),
        train_acc: run.last_scalar(tags::TRAIN_ACC),
        test_acc: run.last_scalar(tags::TEST_ACC),
        mean_grad: averaged_mean_grad(run),
        through_time: through_time(run),
    }
}

/// A recurrent run's [`crate::stats::time_attenuation`] from its logged
/// `time_attenuation` scalars; `None` for other runs.
pub fn through_time(run: &Run) -> Option<f64> {
    let ratios: Vec<f64> = run
        .scalars(tags::TIME_ATTENUATION)
        .into_iter()
        .map(|p| p.1)
        .collect();
    (!ratios.is_empty()).then(|| crate::stats::time_attenuation(&ratios))
}

/// Each layer's `mean_i` averaged over the logged steps, input first.
///
/// Layers are `mean_1`, `mean_2`, ... up to the first missing one. A step
/// counts when every layer has a value there (training logs them together).
pub fn averaged_mean_grad(run: &Run) -> Vec<f64> {
    let series: Vec<Vec<(i64, f64)>> = (1..)
        .map(|l| run.scalars(&tags::mean_grad(l)))
        .take_while(|s| !s.is_empty())
        .collect();
    let Some(first) = series.first() else {
        return Vec::new();
    };
    let mut grads = GradStats::new(series.len());
    let mut at_step = Vec::with_capacity(series.len());
    for &(step, _) in first {
        at_step.clear();
        for layer in &series {
            match layer.binary_search_by_key(&step, |&(s, _)| s) {
                Ok(i) => at_step.push(layer[i].1),
                Err(_) => break,
            }
        }
        if at_step.len() == series.len() {
            grads.record(&at_step);
        }
    }
    grads.averages()
}

/// The run of `compare`: prints the table, warns about damaged files, and
/// fails (after printing) if some file could not be read.
pub fn run(path: &std::path::Path, format: Format) -> Result<()> {
    let logdir = Logdir::load_dir(path)?;
    for file in logdir.damaged_files() {
        eprintln!("{}", super::problem(file).unwrap_or_default());
    }
    let _ = write!(std::io::stdout(), "{}", render(&rows(&logdir), format));
    if format == Format::Markdown {
        let _ = writeln!(std::io::stdout(), "\n{}", legend(format));
    }
    let groups = seed_groups::render(&seed_groups::rows(&logdir), format);
    if !groups.is_empty() {
        let _ = write!(std::io::stdout(), "\n{groups}");
    }
    let failed = logdir.failed_files();
    if failed > 0 {
        bail!("{failed} event file(s) could not be read; their runs are incomplete above");
    }
    Ok(())
}
