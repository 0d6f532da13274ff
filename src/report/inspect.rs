//! `gradscope inspect PATH`: what a logdir or one event file holds, from
//! any TensorBoard writer: runs, their files, and each tag's kind, number of
//! points, first and last step, and last value (scalars).
//!
//! Damaged files do not stop it: a file cut short mid-record (a crashed
//! writer) is read up to the cut with a warning; a file with a corrupt
//! record is named with the record's byte offset, the other files are still
//! listed, and the command then fails.

use std::fmt::Write;
use std::path::Path;

use anyhow::{bail, Result};
use gradscope_tensorboard::logdir::{EventFile, FileStatus, Logdir, Run};

/// The run of `inspect`: the listing on stdout, problems on stderr.
pub fn run(path: &Path) -> Result<()> {
    let logdir = Logdir::load(path)?;
    logdir.require_runs()?;
    let _ = std::io::Write::write_all(&mut std::io::stdout(), listing(&logdir).as_bytes());
    for file in logdir.damaged_files() {
        eprintln!("{}", super::problem(file).unwrap_or_default());
    }
    let failed = logdir.failed_files();
    if failed > 0 {
        bail!("{failed} event file(s) could not be read (see above)");
    }
    Ok(())
}

/// The listing: every run, its files and its tags.
pub fn listing(logdir: &Logdir) -> String {
    let mut out = String::new();
    let runs = logdir.runs.len();
    let _ = writeln!(
        out,
        "{}: {runs} run{}",
        logdir.root.display(),
        if runs == 1 { "" } else { "s" }
    );
    for run in &logdir.runs {
        out.push('\n');
        write_run(&mut out, logdir, run);
    }
    out
}

fn write_run(out: &mut String, logdir: &Logdir, run: &Run) {
    let _ = writeln!(out, "run {}", run.name);
    for file in &run.files {
        let _ = writeln!(out, "  file {}", file_line(logdir, file));
    }
    if run.files.len() > 1 {
        let _ = writeln!(
            out,
            "  ({} files in one folder: TensorBoard shows them as one run; \
             compare and plot keep the last value written at each step)",
            run.files.len()
        );
    }
    if !run.other_events.is_empty() {
        let others: Vec<String> = run
            .other_events
            .iter()
            .map(|(what, n)| format!("{n} {what}"))
            .collect();
        let _ = writeln!(out, "  other events: {}", others.join(", "));
    }
    if run.tags.is_empty() {
        let _ = writeln!(out, "  no summary values");
        return;
    }
    let tag_width = run.tags.keys().map(|t| t.len()).max().unwrap_or(0).max(3);
    let kind_width = run
        .tags
        .values()
        .map(|t| t.kind.to_string().len())
        .max()
        .unwrap_or(0)
        .max(4);
    let _ = writeln!(
        out,
        "  {:<tag_width$}  {:<kind_width$}  {:>6}  {:>10}  {:>10}  {:>12}",
        "tag", "kind", "points", "first step", "last step", "last value"
    );
    for (name, tag) in &run.tags {
        let (first, last) = match (tag.points.first(), tag.points.last()) {
            (Some(f), Some(l)) => (f.step.to_string(), l.step.to_string()),
            _ => ("-".into(), "-".into()),
        };
        let value = tag
            .points
            .last()
            .and_then(|p| p.value)
            .map_or_else(|| "-".to_string(), number);
        let _ = writeln!(
            out,
            "  {name:<tag_width$}  {:<kind_width$}  {:>6}  {first:>10}  {last:>10}  {value:>12}",
            tag.kind.to_string(),
            tag.points.len()
        );
    }
}

/// The file's name (its path when it was given alone), its event count and
/// how it ended.
fn file_line(logdir: &Logdir, file: &EventFile) -> String {
    // A file given alone is named in full; a logdir's by their names.
    let name = if file.path != logdir.root {
        file.path.file_name().map_or_else(
            || file.path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    } else {
        file.path.display().to_string()
    };
    let state = match &file.status {
        FileStatus::Complete => String::new(),
        FileStatus::Truncated { offset } => {
            format!(" (cut short at byte {offset})")
        }
        FileStatus::Failed { .. } => ", then an unreadable record (see below)".into(),
        other => format!(" ({other:?})"),
    };
    format!("{name}: {} events{state}", file.events)
}

/// Six significant digits, or scientific notation for very small or large
/// magnitudes.
fn number(v: f64) -> String {
    let magnitude = v.abs();
    if v == 0.0 || !v.is_finite() {
        return v.to_string();
    }
    if !(1e-4..1e6).contains(&magnitude) {
        return format!("{v:.4e}");
    }
    let decimals = (5 - magnitude.log10().floor() as i32).clamp(0, 9) as usize;
    let text = format!("{v:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_six_significant_digits() {
        assert_eq!(number(0.8), "0.8");
        assert_eq!(number(0.024390243), "0.0243902");
        assert_eq!(number(1234.5678), "1234.57");
        assert_eq!(number(2.0), "2");
        assert_eq!(number(5.79e-5), "5.7900e-5");
        assert_eq!(number(0.0), "0");
        assert_eq!(number(f64::NAN), "NaN");
    }
}
