//! Seed groups: one configuration trained once per seed (`--seeds`), each
//! seed's run in `<group>/seed-<k>`, and the group's aggregate run
//! `<group>/mean` with the mean and standard deviation across seeds of every
//! scalar the seeds logged.
//!
//! The aggregate is computed from the event files on disk, so it is the
//! same after one process trained every seed, after shards on several
//! machines, and after a rerun. Only seeds whose run *finished* count (an
//! HParams session end with success, [`Run::finished`]): a seed killed
//! mid-way or stopped is left out and named, so the aggregate says it has
//! N-1 seeds rather than averaging a partial curve.
//!
//! The aggregate run holds, for every scalar tag `t` of the seeds, at each
//! step all counted seeds logged: `t` (the mean), [`tags::std_of`] (the
//! sample standard deviation, [`stats::mean_std`]), [`tags::lower_of`] and
//! [`tags::upper_of`] (mean minus and plus it); [`tags::SEED_COUNT`] (how
//! many seeds); the [`tags::SEED_GROUP`] text naming the seeds counted and
//! left out; and a Custom Scalars layout with a margin chart (mean, band of
//! one standard deviation) per tag. Rewriting it replaces the previous
//! aggregate's files: they are derived, never the only copy of anything.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use gradscope_tensorboard::custom_scalars::{Category, Layout, Margin};
use gradscope_tensorboard::logdir::{is_event_file, Kind, Logdir, Run};
use gradscope_tensorboard::storage;
use gradscope_tensorboard::summary::{scalar, summary_event, text, wall_time_now};
use gradscope_tensorboard::EventWriter;

use crate::stats;
use crate::tags;

/// The folder of a group's aggregate run, inside the group's folder.
pub const MEAN_RUN: &str = "mean";
const SEED_PREFIX: &str = "seed-";

/// The run (folder, relative to the logdir) of seed `seed` of `group`.
pub fn seed_run(group: &str, seed: u64) -> String {
    format!("{group}/{SEED_PREFIX}{seed}")
}

/// The group and seed of a seed run's name; `None` for other runs.
pub fn seed_of(run: &str) -> Option<(&str, u64)> {
    let (group, last) = run.rsplit_once('/')?;
    let seed = last.strip_prefix(SEED_PREFIX)?;
    // `seed-01` is not a name gradscope writes.
    let k: u64 = seed.parse().ok()?;
    (k.to_string() == seed).then_some((group, k))
}

/// Whether a run's own folder name (its last component) is a seed's,
/// `seed-<k>`.
pub fn is_seed_folder(folder: &str) -> bool {
    seed_of(&format!("./{folder}")).is_some()
}

/// The aggregate run of `group`.
pub fn mean_run(group: &str) -> String {
    format!("{group}/{MEAN_RUN}")
}

/// The seed runs of one group found in a logdir.
#[derive(Debug)]
pub struct SeedGroup<'a> {
    /// The group's folder, relative to the logdir.
    pub name: String,
    /// Seeds whose run finished, in seed order.
    pub finished: Vec<(u64, &'a Run)>,
    /// Seeds whose run did not finish (killed, stopped, diverged, running).
    pub unfinished: Vec<u64>,
}

/// Every seed group of `logdir`, by group name.
pub fn groups(logdir: &Logdir) -> Vec<SeedGroup<'_>> {
    let mut groups: BTreeMap<&str, SeedGroup> = BTreeMap::new();
    for run in &logdir.runs {
        let Some((name, seed)) = seed_of(&run.name) else {
            continue;
        };
        let group = groups.entry(name).or_insert_with(|| SeedGroup {
            name: name.to_string(),
            finished: Vec::new(),
            unfinished: Vec::new(),
        });
        if run.finished() {
            group.finished.push((seed, run));
        } else {
            group.unfinished.push(seed);
        }
    }
    let mut groups: Vec<SeedGroup> = groups.into_values().collect();
    for g in &mut groups {
        g.finished.sort_by_key(|&(seed, _)| seed);
        g.unfinished.sort_unstable();
    }
    groups
}

/// A group's mean and standard deviation across its finished seeds.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    pub group: String,
    /// The seeds counted.
    pub seeds: Vec<u64>,
    /// The seeds left out because their run did not finish.
    pub left_out: Vec<u64>,
    /// Per scalar tag, `(step, mean, std)` at each step every counted seed
    /// logged.
    pub tags: BTreeMap<String, Vec<(i64, f64, f64)>>,
}

impl Aggregate {
    /// What the aggregate is over, in one line.
    pub fn describe(&self) -> String {
        let list = |seeds: &[u64]| {
            let s: Vec<String> = seeds.iter().map(u64::to_string).collect();
            s.join(", ")
        };
        let mut line = format!(
            "{}: mean and std over {} seed(s) ({})",
            self.group,
            self.seeds.len(),
            list(&self.seeds)
        );
        if !self.left_out.is_empty() {
            line.push_str(&format!(
                "; left out, not finished: {}",
                list(&self.left_out)
            ));
        }
        line
    }
}

/// The aggregate of `group`'s finished seeds: every scalar tag all of them
/// logged, at the steps all of them logged it.
pub fn aggregate(group: &SeedGroup) -> Aggregate {
    let mut tags = BTreeMap::new();
    if let Some(&(_, first)) = group.finished.first() {
        for (tag, t) in &first.tags {
            if t.kind != Kind::Scalar {
                continue;
            }
            let series: Vec<Vec<(i64, f64)>> = (group.finished.iter())
                .map(|(_, run)| run.scalars(tag))
                .collect();
            if series.iter().any(Vec::is_empty) {
                continue;
            }
            let mut points = Vec::new();
            for &(step, _) in &series[0] {
                let values: Option<Vec<f64>> = (series.iter())
                    .map(|s| {
                        let i = s.binary_search_by_key(&step, |&(st, _)| st).ok()?;
                        Some(s[i].1)
                    })
                    .collect();
                if let Some((mean, std)) = values.as_deref().and_then(stats::mean_std) {
                    points.push((step, mean, std));
                }
            }
            if !points.is_empty() {
                tags.insert(tag.clone(), points);
            }
        }
    }
    Aggregate {
        group: group.name.clone(),
        seeds: group.finished.iter().map(|&(seed, _)| seed).collect(),
        left_out: group.unfinished.clone(),
        tags,
    }
}

/// The Custom Scalars layout of an aggregate: a margin chart (the mean, a
/// band of one standard deviation) per tag.
pub fn layout(aggregate: &Aggregate) -> Layout {
    let margins = aggregate.tags.keys().fold(
        Category::new("mean ± std across seeds"),
        |category, tag| {
            let margin = Margin::new(tag, &tags::lower_of(tag), &tags::upper_of(tag));
            category.margin(tag, [margin])
        },
    );
    Layout::new().category(margins)
}

/// Writes `aggregate` as the run `<group>/mean` under `logdir` (a folder,
/// or a prefix in object storage), then removes that folder's older event
/// files (an earlier aggregate's). Returns the new file.
pub fn write(logdir: &Path, aggregate: &Aggregate) -> Result<PathBuf> {
    let dir = logdir.join(mean_run(&aggregate.group));
    let older: Vec<PathBuf> = storage::list_files(&dir)
        .map(|files| {
            (files.into_iter())
                .filter(|p| p.parent() == Some(dir.as_path()) && is_event_file(p))
                .collect()
        })
        .unwrap_or_default();
    let mut writer = EventWriter::create(&dir)?;
    let wall_time = wall_time_now();
    let mut note = aggregate.describe();
    note.push_str(
        "\n\nEach scalar `t` is the mean across these seeds; `t/std` the sample standard \
         deviation, `t/lower` and `t/upper` mean minus and plus it.",
    );
    writer.write_event(&summary_event(
        0,
        wall_time,
        vec![
            layout(aggregate).to_value(),
            scalar(tags::SEED_COUNT, aggregate.seeds.len() as f32),
            text(tags::SEED_GROUP, &note),
        ],
    ))?;
    let mut by_step: BTreeMap<i64, Vec<_>> = BTreeMap::new();
    for (tag, points) in &aggregate.tags {
        for &(step, mean, std) in points {
            by_step.entry(step).or_default().extend([
                scalar(tag, mean as f32),
                scalar(&tags::std_of(tag), std as f32),
                scalar(&tags::lower_of(tag), (mean - std) as f32),
                scalar(&tags::upper_of(tag), (mean + std) as f32),
            ]);
        }
    }
    for (step, values) in by_step {
        writer.write_event(&summary_event(step, wall_time, values))?;
    }
    let path = writer.path().to_path_buf();
    writer.close()?;
    for old in older {
        storage::remove_file(&old)
            .with_context(|| format!("{}: cannot remove the older aggregate", old.display()))?;
    }
    Ok(path)
}

/// Aggregates every seed group of the logdir at `path` (those named in
/// `only`, when given) and writes each group with a finished seed as its
/// `<group>/mean` run. Returns the aggregates, groups without a finished
/// seed included (with no seeds, and nothing written).
pub fn aggregate_logdir(path: &Path, only: Option<&[String]>) -> Result<Vec<Aggregate>> {
    let logdir = Logdir::load(path)?;
    let mut done = Vec::new();
    for group in groups(&logdir) {
        if only.is_some_and(|names| !names.contains(&group.name)) {
            continue;
        }
        let aggregate = aggregate(&group);
        if !aggregate.seeds.is_empty() {
            write(path, &aggregate)
                .with_context(|| format!("{}: writing the aggregate run", group.name))?;
        }
        done.push(aggregate);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Formerly a doctest: the module is private.
    #[test]
    fn seed_run_names() {
        assert_eq!(crate::seeds::seed_run("relu-l20", 3), "relu-l20/seed-3");
        assert_eq!(
            crate::seeds::seed_of("relu-l20/seed-3"),
            Some(("relu-l20", 3))
        );
        assert_eq!(crate::seeds::mean_run("relu-l20"), "relu-l20/mean");
    }

    /// Formerly a doctest: the module is private.
    #[test]
    fn is_seed_folder_names() {
        assert!(crate::seeds::is_seed_folder("seed-3"));
        assert!(!crate::seeds::is_seed_folder("relu"));
    }
    use gradscope_tensorboard::hparams::session_end;
    use gradscope_tensorboard::proto::hparams::Status;

    /// A seed run with `loss` at steps 0 and 10, ended with `status`.
    fn seed(dir: &Path, group: &str, k: u64, losses: [f32; 2], status: Option<Status>) {
        let mut w = EventWriter::create(&dir.join(seed_run(group, k))).unwrap();
        for (step, loss) in [0, 10].into_iter().zip(losses) {
            w.write_event(&summary_event(step, 1.0, vec![scalar("loss", loss)]))
                .unwrap();
        }
        if let Some(status) = status {
            w.write_event(&summary_event(10, 1.0, vec![session_end(status, 1.0)]))
                .unwrap();
        }
        w.close().unwrap();
    }

    #[test]
    fn names_round_trip_and_others_are_not_seeds() {
        assert_eq!(seed_of("a/b/seed-12"), Some(("a/b", 12)));
        for other in [
            "seed-1",
            "relu/mean",
            "relu/seed-",
            "relu/seed-x",
            "relu/seed-01",
        ] {
            assert_eq!(seed_of(other), None, "{other}");
        }
    }

    #[test]
    fn unfinished_seeds_are_left_out_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let ok = Some(Status::Success);
        seed(dir.path(), "relu", 1, [1.0, 0.5], ok);
        seed(dir.path(), "relu", 2, [3.0, 1.5], ok);
        // Killed: no session end; stopped: a failure. Wild numbers, to show.
        seed(dir.path(), "relu", 3, [100.0, 100.0], None);
        seed(dir.path(), "relu", 4, [100.0, 100.0], Some(Status::Failure));
        let written = aggregate_logdir(dir.path(), None).unwrap();
        assert_eq!(written.len(), 1);
        let agg = &written[0];
        assert_eq!(
            (agg.seeds.clone(), agg.left_out.clone()),
            (vec![1, 2], vec![3, 4])
        );
        let sqrt2 = 2f64.sqrt();
        assert_eq!(agg.tags["loss"], [(0, 2.0, sqrt2), (10, 1.0, sqrt2 / 2.0)]);
        assert!(agg
            .describe()
            .contains("2 seed(s) (1, 2); left out, not finished: 3, 4"));

        // Read back: the mean run, its companions and the count.
        let logdir = Logdir::load(dir.path()).unwrap();
        let mean = logdir.runs.iter().find(|r| r.name == "relu/mean").unwrap();
        assert_eq!(mean.scalars("loss"), [(0, 2.0), (10, 1.0)]);
        assert_eq!(mean.last_scalar(tags::SEED_COUNT), Some(2.0));
        let upper = mean.scalars(&tags::upper_of("loss"));
        assert!((upper[0].1 - (2.0 + sqrt2)).abs() < 1e-6, "{upper:?}");
        assert!(mean.tags.contains_key(&tags::std_of("loss")));
        assert!(mean.tags.contains_key(&tags::lower_of("loss")));
        assert!(mean.tags.contains_key("custom_scalars__config__"));

        // Once seed 3 finishes (a rerun adds a file beside its partial one),
        // the aggregate is rewritten over three seeds, in one file.
        seed(dir.path(), "relu", 3, [2.0, 1.0], ok);
        let agg = &aggregate_logdir(dir.path(), None).unwrap()[0];
        assert_eq!(agg.seeds, [1, 2, 3]);
        assert_eq!(agg.tags["loss"][0], (0, 2.0, 1.0));
        let files = std::fs::read_dir(dir.path().join("relu/mean"))
            .unwrap()
            .count();
        assert_eq!(files, 1);
    }
}
