//! The end-of-experiment table: how much gradient each layer received, and
//! what that cost in accuracy. One set of cells ([`vanishing_cells`]),
//! rendered as plain text for the terminal and as markdown for TensorBoard's
//! Text dashboard.

use std::fmt::Write;

use crate::markdown;
use crate::train::RunSummary;

/// What the columns mean, under either rendering.
const LEGEND: &str =
    "|g| Ln: layer n's mean |gradient| averaged over the logged steps (L1 nearest the input);\n\
     atten.: last layer / first layer; accuracies on the whole train and test sets after training.";

/// The table's header and one row of formatted cells per run: run name,
/// `|g| L1`.. (`-` where a run has fewer layers), attenuation, train and
/// test accuracy.
pub struct VanishingCells {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

pub fn vanishing_cells(runs: &[RunSummary]) -> VanishingCells {
    let layers = runs.iter().map(|r| r.mean_grad.len()).max().unwrap_or(0);
    let mut header = vec!["run".to_string()];
    header.extend((1..=layers).map(|l| format!("|g| L{l}")));
    header.extend(["atten.", "train acc", "test acc"].map(String::from));
    let rows = runs
        .iter()
        .map(|run| {
            let mut row = vec![run.name.clone()];
            row.extend((0..layers).map(|l| match run.mean_grad.get(l) {
                Some(g) => format!("{g:.2e}"),
                None => "-".to_string(),
            }));
            row.push(times(run.attenuation()));
            row.push(format!("{:.2}%", run.train_acc * 100.0));
            row.push(format!("{:.2}%", run.test_acc * 100.0));
            row
        })
        .collect();
    VanishingCells { header, rows }
}

/// A plain-text table, one row per run: the run name left-aligned, numbers
/// right-aligned, each column as wide as its widest cell.
pub fn vanishing_table(runs: &[RunSummary]) -> String {
    let cells = vanishing_cells(runs);
    let lines = || std::iter::once(&cells.header).chain(&cells.rows);
    let widths: Vec<usize> = (0..cells.header.len())
        .map(|c| lines().map(|row| row[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in lines() {
        let _ = write!(out, "{:<w$}", row[0], w = widths[0]);
        for (cell, w) in row.iter().zip(&widths).skip(1) {
            let _ = write!(out, "  {cell:>w$}");
        }
        out.push('\n');
    }
    out.push_str(LEGEND);
    out.push('\n');
    out
}

/// The same table in markdown, as the Text dashboard shows it.
pub fn vanishing_markdown(runs: &[RunSummary]) -> String {
    let cells = vanishing_cells(runs);
    let header: Vec<&str> = cells.header.iter().map(String::as_str).collect();
    let mut out = markdown::table(&header, &cells.rows);
    // Two trailing spaces: a markdown line break between the legend's lines.
    let _ = write!(
        out,
        "\n{}\n",
        LEGEND.replace('|', "\\|").replace('\n', "  \n")
    );
    out
}

/// A ratio as `5.2x`, or `3.5e12x` once it is too large to read in full.
pub fn times(ratio: f64) -> String {
    if ratio.abs() >= 1e4 {
        format!("{ratio:.1e}x")
    } else {
        format!("{ratio:.1}x")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn large_ratios_use_exponents() {
        assert_eq!(super::times(5.23), "5.2x");
        assert_eq!(super::times(3_543_310_994_604.4), "3.5e12x");
    }

    use super::*;

    #[test]
    fn table_has_a_row_per_run_with_attenuation() {
        let run = RunSummary {
            name: "sigmoid".into(),
            mean_grad: vec![1e-4, 3e-3],
            final_loss: 1.0,
            final_batch_acc: 0.5,
            train_acc: 0.5,
            test_acc: 0.25,
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
    fn markdown_has_the_same_cells() {
        let run = RunSummary {
            name: "leaky_relu".into(),
            mean_grad: vec![1e-4, 3e-3],
            final_loss: 1.0,
            final_batch_acc: 0.5,
            train_acc: 0.5,
            test_acc: 0.25,
        };
        let md = vanishing_markdown(std::slice::from_ref(&run));
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(
            lines[0],
            r"| run | \|g\| L1 | \|g\| L2 | atten. | train acc | test acc |"
        );
        assert_eq!(
            lines[2],
            r"| leaky\_relu | 1.00e-4 | 3.00e-3 | 30.0x | 50.00% | 25.00% |"
        );
        assert!(md.contains("atten.: last layer / first layer"), "{md}");
    }
}
