//! The seed groups of a logdir as a table: per group, how many seeds
//! finished (and which did not), and mean ± standard deviation across them
//! of the test accuracy, the attenuation and the last loss; then whether
//! the sigmoid/relu attenuation gap (sigmoid's attenuation larger than
//! relu's) holds in every seed both groups share.
//!
//! Each seed's numbers are computed from its own run as `compare` computes
//! them ([`averaged_mean_grad`], [`stats::attenuation`]), then averaged: the
//! mean of the seeds' attenuations, not the attenuation of a mean curve.

use std::fmt::Write;

use gradscope_tensorboard::logdir::{Logdir, Run};

use crate::model::Activation;
use crate::report::compare::averaged_mean_grad;
use crate::seeds::{groups, SeedGroup};
use crate::stats;
use crate::table::{times, Format};
use crate::tags;

/// One seed group's numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedRow {
    pub group: String,
    /// Seeds that finished and count.
    pub seeds: Vec<u64>,
    /// Seeds left out (did not finish).
    pub left_out: Vec<u64>,
    /// Mean and std across seeds; `None` where no seed logged it.
    pub test_acc: Option<(f64, f64)>,
    pub attenuation: Option<(f64, f64)>,
    pub loss: Option<(f64, f64)>,
    /// Each counted seed's attenuation, in seed order.
    pub attenuations: Vec<(u64, f64)>,
}

fn attenuation(run: &Run) -> Option<f64> {
    let grads = averaged_mean_grad(run);
    (!grads.is_empty()).then(|| stats::attenuation(&grads))
}

fn row(group: &SeedGroup) -> SeedRow {
    let across = |figure: &dyn Fn(&Run) -> Option<f64>| {
        let values: Vec<f64> = group
            .finished
            .iter()
            .filter_map(|(_, r)| figure(r))
            .collect();
        stats::mean_std(&values)
    };
    SeedRow {
        group: group.name.clone(),
        seeds: group.finished.iter().map(|&(s, _)| s).collect(),
        left_out: group.unfinished.clone(),
        test_acc: across(&|r| r.last_scalar(tags::TEST_ACC)),
        attenuation: across(&attenuation),
        loss: across(&|r| r.last_scalar(tags::LOSS)),
        attenuations: (group.finished.iter())
            .filter_map(|&(s, r)| Some((s, attenuation(r)?)))
            .collect(),
    }
}

/// A row per seed group of `logdir`, by group name.
pub fn rows(logdir: &Logdir) -> Vec<SeedRow> {
    groups(logdir).iter().map(row).collect()
}

/// Whether sigmoid attenuates more than relu in each seed, for every pair
/// of groups that differ only in that activation (`sigmoid-l20` and
/// `relu-l20`): a line each.
pub fn gap_lines(rows: &[SeedRow]) -> Vec<String> {
    let (sigmoid, relu) = (Activation::Sigmoid.name(), Activation::Relu.name());
    let mut lines = Vec::new();
    for s in rows {
        let Some(rest) = s.group.strip_prefix(sigmoid) else {
            continue;
        };
        let Some(r) = rows.iter().find(|r| r.group == format!("{relu}{rest}")) else {
            continue;
        };
        let pairs: Vec<(u64, f64, f64)> = (s.attenuations.iter())
            .filter_map(|&(seed, a)| {
                let &(_, b) = r.attenuations.iter().find(|&&(k, _)| k == seed)?;
                Some((seed, a, b))
            })
            .collect();
        if pairs.is_empty() {
            continue;
        }
        let failing: Vec<String> = (pairs.iter())
            .filter(|(_, a, b)| a.partial_cmp(b) != Some(std::cmp::Ordering::Greater))
            .map(|(seed, ..)| seed.to_string())
            .collect();
        let verdict = if failing.is_empty() {
            format!("holds in every seed ({} of {})", pairs.len(), pairs.len())
        } else {
            format!(
                "holds in {} of {} seeds; not in seed(s) {}",
                pairs.len() - failing.len(),
                pairs.len(),
                failing.join(", ")
            )
        };
        lines.push(format!(
            "{} vs {}: sigmoid's attenuation larger than relu's {verdict}",
            s.group, r.group
        ));
    }
    lines
}

fn plus_minus(v: Option<(f64, f64)>, show: impl Fn(f64) -> String) -> String {
    match v {
        Some((mean, std)) => format!("{} ± {}", show(mean), show(std)),
        None => "-".into(),
    }
}

fn cells(row: &SeedRow) -> Vec<String> {
    let percent = |v: f64| format!("{:.2}%", v * 100.0);
    let mut n = row.seeds.len().to_string();
    if !row.left_out.is_empty() {
        let left: Vec<String> = row.left_out.iter().map(u64::to_string).collect();
        n.push_str(&format!(" (left out: {})", left.join(", ")));
    }
    vec![
        row.group.clone(),
        n,
        plus_minus(row.test_acc, percent),
        plus_minus(row.attenuation, times),
        plus_minus(row.loss, |v| format!("{v:.3}")),
    ]
}

const HEADERS: [&str; 5] = ["seed group", "N", "test acc", "atten.", "loss"];

/// The groups' table in `format` (CSV: the numbers in full, mean and std
/// in columns of their own), then the gap lines; empty without groups.
pub fn render(rows: &[SeedRow], format: Format) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    match format {
        Format::Table => {
            let body: Vec<Vec<String>> = rows.iter().map(cells).collect();
            let widths: Vec<usize> = (0..HEADERS.len())
                .map(|c| {
                    (body.iter().map(|r| r[c].chars().count()))
                        .chain([HEADERS[c].len()])
                        .max()
                        .unwrap_or(0)
                })
                .collect();
            let headers: Vec<String> = HEADERS.iter().map(|h| h.to_string()).collect();
            for line in std::iter::once(&headers).chain(&body) {
                let padded: Vec<String> = (line.iter().zip(&widths))
                    .map(|(cell, &w)| format!("{cell:<w$}"))
                    .collect();
                let _ = writeln!(out, "{}", padded.join("  ").trim_end());
            }
        }
        Format::Markdown => {
            let body: Vec<Vec<String>> = rows.iter().map(cells).collect();
            out.push_str(&crate::markdown::table(&HEADERS, &body));
            out.push('\n');
        }
        Format::Csv => {
            out.push_str(
                "seed_group,n,left_out,test_acc_mean,test_acc_std,attenuation_mean,\
                 attenuation_std,loss_mean,loss_std\n",
            );
            let pair = |v: Option<(f64, f64)>| match v {
                Some((m, s)) => format!("{m},{s}"),
                None => ",".into(),
            };
            for row in rows {
                let left: Vec<String> = row.left_out.iter().map(u64::to_string).collect();
                let _ = writeln!(
                    out,
                    "{},{},{},{},{},{}",
                    row.group,
                    row.seeds.len(),
                    left.join(" "),
                    pair(row.test_acc),
                    pair(row.attenuation),
                    pair(row.loss)
                );
            }
            return out;
        }
    }
    for line in gap_lines(rows) {
        let _ = writeln!(out, "{line}");
    }
    out
}

/// The terminal rendering of `logdir`'s seed groups.
pub fn text(logdir: &Logdir) -> String {
    render(&rows(logdir), Format::Table)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(group: &str, attenuations: &[(u64, f64)]) -> SeedRow {
        let values: Vec<f64> = attenuations.iter().map(|a| a.1).collect();
        SeedRow {
            group: group.into(),
            seeds: attenuations.iter().map(|a| a.0).collect(),
            left_out: vec![3],
            test_acc: Some((0.5, 0.25)),
            attenuation: stats::mean_std(&values),
            loss: None,
            attenuations: attenuations.to_vec(),
        }
    }

    #[test]
    fn mean_plus_minus_std_and_the_gap_per_seed() {
        let rows = [
            row("relu-l20", &[(1, 2.0), (2, 3.0)]),
            row("sigmoid-l20", &[(1, 10.0), (2, 2.5)]),
        ];
        let table = render(&rows, Format::Table);
        assert!(table.contains("50.00% ± 25.00%"), "{table}");
        assert!(table.contains("2 (left out: 3)"), "{table}");
        assert!(
            table.contains("sigmoid-l20 vs relu-l20: sigmoid's attenuation larger than relu's holds in 1 of 2 seeds; not in seed(s) 2"),
            "{table}"
        );
        let rows = [row("relu", &[(1, 2.0)]), row("sigmoid", &[(1, 10.0)])];
        assert_eq!(
            gap_lines(&rows),
            ["sigmoid vs relu: sigmoid's attenuation larger than relu's holds in every seed (1 of 1)"]
        );
        let csv = render(&rows, Format::Csv);
        assert_eq!(csv.lines().nth(1), Some("relu,1,3,0.5,0.25,2,0,,"));
    }
}
