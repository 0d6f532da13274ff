//! The end-of-experiment table: how much gradient each layer received, and
//! what that cost in accuracy.

use std::fmt::Write;

use crate::train::RunSummary;

/// A plain-text table, one row per run.
pub fn vanishing_table(runs: &[RunSummary]) -> String {
    let layers = runs.iter().map(|r| r.mean_grad.len()).max().unwrap_or(0);
    let name_width = runs.iter().map(|r| r.name.len()).max().unwrap_or(0).max(8);
    let mut out = String::new();
    let _ = write!(out, "{:<name_width$}", "run");
    for l in 1..=layers {
        let _ = write!(out, " {:>9}", format!("|g| L{l}"));
    }
    let _ = writeln!(out, " {:>8} {:>9} {:>8}", "atten.", "train acc", "test acc");
    for run in runs {
        let _ = write!(out, "{:<name_width$}", run.name);
        for l in 0..layers {
            match run.mean_grad.get(l) {
                Some(g) => write!(out, " {g:>9.2e}"),
                None => write!(out, " {:>9}", "-"),
            }
            .expect("writing to a String");
        }
        let _ = writeln!(
            out,
            " {:>8} {:>8.2}% {:>7.2}%",
            times(run.attenuation()),
            run.train_acc * 100.0,
            run.test_acc * 100.0
        );
    }
    let _ = writeln!(
        out,
        "|g| Ln: layer n's mean |gradient| averaged over the logged steps (L1 nearest the input);\n\
         atten.: last layer / first layer; accuracies on the whole train and test sets after training."
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
}
