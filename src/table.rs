//! The comparison table: how much gradient each layer received, and what
//! that cost in accuracy, one row per run.
//!
//! One table, three renderings ([`Format`]): aligned text for the terminal
//! (the end of training and `gradscope compare`), CSV for other tools, and
//! markdown for REPORT.md. Rows come from a finished training run
//! ([`RunRow::from`] a [`RunSummary`]) or from a logdir
//! (`gradscope compare`). The diagnosis in words, printed after it, is
//! [`diagnosis_text`].

use std::fmt::Write;

use crate::stats::{self, RunSummary};

/// How to render the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns for the terminal.
    Table,
    /// Comma-separated, full precision, empty cells for missing values.
    Csv,
    /// A GitHub-flavoured markdown table.
    Markdown,
}

/// One run's numbers; `None` where the run did not log the value.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub name: String,
    /// The last logged training-batch loss (`loss`).
    pub loss: Option<f64>,
    /// The last logged training-batch accuracy (`acc`).
    pub batch_acc: Option<f64>,
    /// Accuracy on the whole training set after training (`train_acc`).
    pub train_acc: Option<f64>,
    /// Accuracy on the test set after training (`test_acc`).
    pub test_acc: Option<f64>,
    /// Each layer's mean |grad| averaged over the logged steps, input first.
    pub mean_grad: Vec<f64>,
    /// A recurrent run's gradient lost through time
    /// ([`stats::time_attenuation`]); `None` for the MLP.
    pub through_time: Option<f64>,
}

impl RunRow {
    /// Last layer's averaged mean |grad| over the first layer's
    /// ([`stats::attenuation`]); `None` without gradient statistics.
    pub fn attenuation(&self) -> Option<f64> {
        (!self.mean_grad.is_empty()).then(|| stats::attenuation(&self.mean_grad))
    }
}

impl From<&RunSummary> for RunRow {
    fn from(run: &RunSummary) -> RunRow {
        RunRow {
            name: run.name.clone(),
            loss: Some(run.final_loss.into()),
            batch_acc: Some(run.final_batch_acc.into()),
            train_acc: Some(run.train_acc.into()),
            test_acc: Some(run.test_acc.into()),
            mean_grad: run.mean_grad.clone(),
            through_time: run.time_attenuation,
        }
    }
}

/// The end-of-training table for finished runs.
pub fn vanishing_table(runs: &[RunSummary]) -> String {
    let rows: Vec<RunRow> = runs.iter().map(RunRow::from).collect();
    render(&rows, Format::Table)
}

/// The same table in markdown, as TensorBoard's Text dashboard shows it.
pub fn vanishing_markdown(runs: &[RunSummary]) -> String {
    let rows: Vec<RunRow> = runs.iter().map(RunRow::from).collect();
    format!(
        "{}
{}",
        render(&rows, Format::Markdown),
        legend(Format::Markdown)
    )
}

/// A ratio as `5.2x`, or `3.5e12x` once it is too large to read in full.
pub fn times(ratio: f64) -> String {
    if ratio.abs() >= 1e4 {
        format!("{ratio:.1e}x")
    } else {
        format!("{ratio:.1}x")
    }
}

/// What the columns mean, for under a table.
pub const LEGEND: &str = "|g| Ln: layer n's mean |gradient| averaged over the logged steps \
(L1 nearest the input); atten.: last layer / first layer;\n\
loss, batch acc: the last logged training batch; train acc, test acc: the whole training and \
test sets after training.";

/// What the `through time` column means, under tables that have it.
pub const THROUGH_TIME_LEGEND: &str = "through time (recurrent runs): the median over the logged \
steps of ||dL/dh_T|| / ||dL/dh_1||: how much weaker the gradient is at the first time step.";

/// [`LEGEND`] as `format` needs it (pipes escaped for markdown; CSV has
/// no room for one).
pub fn legend(format: Format) -> String {
    let legend = format!("{LEGEND}\n{THROUGH_TIME_LEGEND}");
    match format {
        Format::Table => legend,
        Format::Csv => String::new(),
        Format::Markdown => legend.replace('|', "\\|"),
    }
}

fn has_through_time(rows: &[RunRow]) -> bool {
    rows.iter().any(|r| r.through_time.is_some())
}

/// Renders `rows` in `format`. Runs with fewer layers get empty cells.
pub fn render(rows: &[RunRow], format: Format) -> String {
    match format {
        Format::Table => text(rows),
        Format::Csv => csv(rows),
        Format::Markdown => markdown(rows),
    }
}

fn layer_count(rows: &[RunRow]) -> usize {
    rows.iter().map(|r| r.mean_grad.len()).max().unwrap_or(0)
}

/// Display cells for one row: the |g| columns, then atten., loss, batch
/// acc, train acc, test acc.
fn cells(row: &RunRow, layers: usize, through_time: bool) -> Vec<String> {
    let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let percent = |v: Option<f64>| or_dash(v.map(|v| format!("{:.2}%", v * 100.0)));
    let mut cells: Vec<String> = (0..layers)
        .map(|l| or_dash(row.mean_grad.get(l).map(|g| format!("{g:.2e}"))))
        .collect();
    cells.push(or_dash(row.attenuation().map(times)));
    if through_time {
        cells.push(or_dash(row.through_time.map(times)));
    }
    cells.push(or_dash(row.loss.map(|v| format!("{v:.3}"))));
    cells.extend([row.batch_acc, row.train_acc, row.test_acc].map(percent));
    cells
}

fn headers(layers: usize, through_time: bool) -> Vec<String> {
    let mut h: Vec<String> = (1..=layers).map(|l| format!("|g| L{l}")).collect();
    h.push("atten.".into());
    if through_time {
        h.push("through time".into());
    }
    h.extend(["loss", "batch acc", "train acc", "test acc"].map(String::from));
    h
}

fn text(rows: &[RunRow]) -> String {
    let layers = layer_count(rows);
    let through_time = has_through_time(rows);
    let name_width = rows.iter().map(|r| r.name.len()).max().unwrap_or(0).max(8);
    let headers = headers(layers, through_time);
    let widths: Vec<usize> = headers.iter().map(|h| h.len().max(9)).collect();
    let mut out = String::new();
    let mut line = |name: &str, cells: &[String]| {
        let _ = write!(out, "{name:<name_width$}");
        for (cell, width) in cells.iter().zip(&widths) {
            let _ = write!(out, " {cell:>width$}");
        }
        out.push('\n');
    };
    line("run", &headers);
    for row in rows {
        line(&row.name, &cells(row, layers, through_time));
    }
    let _ = writeln!(out, "{LEGEND}");
    if through_time {
        let _ = writeln!(out, "{THROUGH_TIME_LEGEND}");
    }
    out
}

fn markdown(rows: &[RunRow]) -> String {
    let layers = layer_count(rows);
    let through_time = has_through_time(rows);
    let mut headers = vec!["run".to_string()];
    headers.extend(self::headers(layers, through_time));
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            let mut line = vec![row.name.clone()];
            line.extend(cells(row, layers, through_time));
            line
        })
        .collect();
    crate::markdown::table(&headers, &body)
}

/// Full precision and plain numbers (accuracies as fractions), for tools.
fn csv(rows: &[RunRow]) -> String {
    let layers = layer_count(rows);
    let through_time = has_through_time(rows);
    let mut out = String::from("run,loss,batch_acc,train_acc,test_acc,attenuation");
    if through_time {
        out.push_str(",time_attenuation");
    }
    for l in 1..=layers {
        let _ = write!(out, ",mean_grad_{l}");
    }
    out.push('\n');
    let number = |v: Option<f64>| v.map(shortest).unwrap_or_default();
    for row in rows {
        out.push_str(&csv_field(&row.name));
        for v in [
            row.loss,
            row.batch_acc,
            row.train_acc,
            row.test_acc,
            row.attenuation(),
        ] {
            let _ = write!(out, ",{}", number(v));
        }
        if through_time {
            let _ = write!(out, ",{}", number(row.through_time));
        }
        for l in 0..layers {
            let _ = write!(out, ",{}", number(row.mean_grad.get(l).copied()));
        }
        out.push('\n');
    }
    out
}

/// The shortest text that reads back as `v`. Values logged as float32
/// print as float32 (0.9, not 0.8999999761581421).
fn shortest(v: f64) -> String {
    let single = v as f32;
    if f64::from(single) == v {
        single.to_string()
    } else {
        v.to_string()
    }
}

/// RFC 4180 quoting, for run names with commas, quotes or line breaks.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// The diagnoses of `runs` for the terminal, one finding a line.
pub fn diagnosis_text(runs: &[RunSummary]) -> String {
    let mut text = String::new();
    for run in runs {
        for line in run.diagnosis().lines(&run.name) {
            text.push_str(&line);
            text.push('\n');
        }
    }
    text
}

/// A run's diagnosis for the Text dashboard: a markdown list.
pub fn diagnosis_markdown(run: &RunSummary) -> String {
    run.diagnosis()
        .lines(&run.name)
        .iter()
        .map(|line| format!("- {}\n", crate::markdown::escape(line)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_ratios_use_exponents() {
        assert_eq!(times(5.23), "5.2x");
        assert_eq!(times(3_543_310_994_604.4), "3.5e12x");
    }

    fn sigmoid() -> RunRow {
        RunRow {
            name: "sigmoid".into(),
            loss: Some(1.5),
            batch_acc: Some(0.4),
            train_acc: Some(0.5),
            test_acc: Some(0.25),
            mean_grad: vec![1e-4, 3e-3],
            through_time: None,
        }
    }

    #[test]
    fn table_has_a_row_per_run_with_attenuation() {
        let run = RunSummary {
            name: "sigmoid".into(),
            mean_grad: vec![1e-4, 3e-3],
            final_loss: 1.0,
            final_batch_acc: 0.5,
            train_acc: 0.5,
            test_acc: 0.25,
            units: None,
            time_attenuation: None,
        };
        let table = vanishing_table(&[run]);
        let row = table.lines().nth(1).unwrap();
        assert!(row.starts_with("sigmoid"), "{table}");
        assert!(
            row.contains("1.00e-4") && row.contains("3.00e-3"),
            "{table}"
        );
        assert!(row.contains("30.0x") && row.contains("25.00%"), "{table}");
    }

    #[test]
    fn missing_values_and_layers_are_dashes() {
        let bare = RunRow {
            name: "foreign".into(),
            loss: Some(0.5),
            batch_acc: None,
            train_acc: None,
            test_acc: None,
            mean_grad: vec![],
            through_time: None,
        };
        let table = render(&[sigmoid(), bare], Format::Table);
        let row: Vec<&str> = table.lines().nth(2).unwrap().split_whitespace().collect();
        assert_eq!(row, ["foreign", "-", "-", "-", "0.500", "-", "-", "-"]);
    }

    #[test]
    fn recurrent_runs_add_the_through_time_column() {
        let lstm = RunRow {
            name: "lstm".into(),
            through_time: Some(1.2e6),
            ..sigmoid()
        };
        let table = render(&[sigmoid(), lstm], Format::Table);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].contains("atten. through time"), "{table}");
        assert!(lines[1].contains(" - "), "{table}");
        assert!(lines[2].contains("1.2e6x"), "{table}");
        assert!(table.contains("||dL/dh_T|| / ||dL/dh_1||"), "{table}");
        let plain = render(&[sigmoid()], Format::Table);
        assert!(!plain.contains("through time"), "{plain}");
    }

    #[test]
    fn csv_columns_and_quoting() {
        // Binary fractions, so the full-precision numbers print exactly.
        let exact = RunRow {
            mean_grad: vec![0.125, 4.0],
            ..sigmoid()
        };
        let mut odd = exact.clone();
        odd.name = "a,\"b\"".into();
        odd.mean_grad.pop();
        let csv = render(&[exact, odd], Format::Csv);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "run,loss,batch_acc,train_acc,test_acc,attenuation,mean_grad_1,mean_grad_2"
        );
        assert_eq!(lines[1], "sigmoid,1.5,0.4,0.5,0.25,32,0.125,4");
        assert_eq!(shortest(f64::from(0.9f32)), "0.9");
        assert_eq!(shortest(0.1), "0.1");
        assert_eq!(shortest(1.0 / 3.0), (1.0f64 / 3.0).to_string());
        assert_eq!(lines[2], "\"a,\"\"b\"\"\",1.5,0.4,0.5,0.25,1,0.125,");
    }

    #[test]
    fn markdown_escapes_pipes() {
        let md = render(&[sigmoid()], Format::Markdown);
        let lines: Vec<&str> = md.lines().collect();
        assert!(
            lines[0].starts_with("| run | \\|g\\| L1 | \\|g\\| L2 | atten."),
            "{md}"
        );
        assert_eq!(
            lines[1],
            "| --- | --- | --- | --- | --- | --- | --- | --- |"
        );
        assert!(
            lines[2].starts_with("| sigmoid | 1.00e-4 | 3.00e-3 | 30.0x |"),
            "{md}"
        );
        assert_eq!(lines.len(), 3);
    }
}
