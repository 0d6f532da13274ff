//! `LOGDIR/REPORT.md`: the comparison table, what it shows in one
//! paragraph computed from its numbers, and the figures, for reading on a
//! code host or in an editor without TensorBoard. Written at the end of
//! `--scenario all` from the logdir itself, so it describes every run there.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use gradscope_tensorboard::logdir::{Logdir, Run};
use gradscope_tensorboard::storage;

use crate::report::compare::rows;
use crate::report::plot::{self, PLOTS_DIR};
use crate::report::seed_groups;
use crate::table::{legend, render, Format, RunRow};

pub const REPORT_FILE: &str = "REPORT.md";

/// Draws the figures, then writes `LOGDIR/REPORT.md`; returns its path.
/// `written` are runs this process has just written, taken as they are
/// instead of read back (see [`Logdir::load_dir_with`]).
pub fn write_report(logdir_path: &Path, written: Vec<Run>) -> Result<PathBuf> {
    let logdir = Logdir::load_dir_with(logdir_path, written)?;
    let figures = plot::plot(&logdir, &logdir_path.join(PLOTS_DIR))?;
    let text = report(&logdir, &figures);
    let path = logdir_path.join(REPORT_FILE);
    storage::write(&path, text.as_bytes())
        .with_context(|| format!("{}: cannot write the report", path.display()))?;
    Ok(path)
}

/// The report's markdown.
pub fn report(logdir: &Logdir, figures: &plot::Figures) -> String {
    let rows = rows(logdir);
    let mut out = String::new();
    let _ = writeln!(out, "# gradscope report: {}\n", logdir.root.display());
    let _ = writeln!(
        out,
        "## Runs\n\n{}\n{}\n",
        render(&rows, Format::Markdown),
        legend(Format::Markdown)
    );
    let groups = seed_groups::render(&seed_groups::rows(logdir), Format::Markdown);
    if !groups.is_empty() {
        let _ = writeln!(
            out,
            "## Seed groups\n\nMean ± standard deviation across each group's finished \
             seeds; N counts them.\n\n{groups}"
        );
    }
    let _ = writeln!(out, "## What it shows\n\n{}\n", interpretation(&rows));
    let _ = writeln!(out, "## Figures\n");
    for path in &figures.written {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let _ = writeln!(out, "![{}]({PLOTS_DIR}/{name})\n", figure_title(&name));
    }
    for skipped in &figures.skipped {
        let _ = writeln!(out, "- {skipped}");
    }
    let problems: Vec<String> = logdir.damaged_files().filter_map(super::problem).collect();
    if !problems.is_empty() {
        let _ = writeln!(out, "\n## Files not fully read\n");
        for p in problems {
            let _ = writeln!(out, "- {p}");
        }
    }
    out
}

fn figure_title(file: &str) -> &'static str {
    match file {
        plot::ACCURACY => "Training-batch accuracy per run",
        plot::GRAD_FIRST_LAST => "Mean gradient of the first and the last layer per run",
        plot::GRAD_PER_LAYER => "Mean gradient per layer, averaged over the logged steps",
        f if f.starts_with(plot::TIME_GRAD_PREFIX) => {
            "Gradient through time: ||dL/dh_t|| against t, one curve per logged step"
        }
        _ => "figure",
    }
}

/// One paragraph: which run attenuates most and by how much, against the
/// least, and the accuracy that run ends with against the best.
pub fn interpretation(rows: &[RunRow]) -> String {
    let mut graded: Vec<(&RunRow, f64)> = rows
        .iter()
        .filter_map(|r| Some((r, r.attenuation().filter(|a| a.is_finite() && *a > 0.0)?)))
        .collect();
    if graded.is_empty() {
        return "No run logged per-layer gradient statistics (`mean_1`, `mean_2`, ...), \
                so there is no attenuation to compare."
            .into();
    }
    graded.sort_by(|a, b| b.1.total_cmp(&a.1));
    let (most, most_att) = graded[0];
    let mut text = format!(
        "**{}** attenuates most: {}",
        most.name,
        first_vs_last(most, most_att)
    );
    if let Some(&(least, least_att)) = graded.last().filter(|_| graded.len() > 1) {
        let _ = write!(
            text,
            " The least is **{}** at {least_att:.1}x, so the gradient fades {:.1} times more \
             on its way to the input in {} than in {}.",
            least.name,
            most_att / least_att,
            most.name,
            least.name
        );
    }
    let best = rows
        .iter()
        .filter_map(|r| Some((r, r.test_acc?)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    match (most.test_acc, best) {
        (Some(acc), Some((best, best_acc))) if best.name != most.name => {
            let _ = write!(
                text,
                " {} ends at {:.2}% test accuracy, {:.2} points behind the best run, {} ({:.2}%).",
                most.name,
                acc * 100.0,
                (best_acc - acc) * 100.0,
                best.name,
                best_acc * 100.0
            );
        }
        (Some(acc), Some(_)) => {
            let _ = write!(
                text,
                " It still ends with the best test accuracy, {:.2}%.",
                acc * 100.0
            );
        }
        _ => {}
    }
    text
}

fn first_vs_last(row: &RunRow, attenuation: f64) -> String {
    let (first, last) = (row.mean_grad[0], row.mean_grad[row.mean_grad.len() - 1]);
    let relation = if attenuation >= 1.0 {
        format!("{attenuation:.1}x less")
    } else {
        format!("{:.1}x more", 1.0 / attenuation)
    };
    format!(
        "its first layer receives {relation} gradient than its last (mean |grad| {first:.2e} \
         against {last:.2e}, averaged over the logged steps)."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, grads: [f64; 2], test_acc: f64) -> RunRow {
        RunRow {
            name: name.into(),
            loss: None,
            batch_acc: None,
            train_acc: None,
            test_acc: Some(test_acc),
            mean_grad: grads.to_vec(),
            through_time: None,
        }
    }

    #[test]
    fn names_the_most_attenuating_run_and_the_accuracy_gap() {
        let rows = [
            row("relu", [1e-2, 5e-2], 0.9),
            row("sigmoid", [1e-3, 4e-2], 0.375),
            row("leaky_relu", [1e-2, 4e-2], 0.89),
        ];
        let text = interpretation(&rows);
        assert!(text.starts_with("**sigmoid** attenuates most"), "{text}");
        assert!(text.contains("40.0x less"), "{text}");
        assert!(
            text.contains("The least is **leaky_relu** at 4.0x"),
            "{text}"
        );
        assert!(text.contains("fades 10.0 times more"), "{text}");
        assert!(
            text.contains("37.50% test accuracy, 52.50 points behind the best run, relu (90.00%)"),
            "{text}"
        );
    }

    #[test]
    fn one_run_and_no_gradients() {
        let text = interpretation(&[row("only", [2e-2, 1e-2], 0.5)]);
        assert!(text.contains("2.0x more gradient"), "{text}");
        assert!(text.contains("best test accuracy, 50.00%"), "{text}");
        assert!(!text.contains("least"), "{text}");
        let mut bare = row("foreign", [1.0, 1.0], 0.5);
        bare.mean_grad.clear();
        assert!(interpretation(&[bare]).starts_with("No run logged"));
    }
}
