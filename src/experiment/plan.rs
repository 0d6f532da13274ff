//! An experiment as a fixed-order list of planned runs: the grid of its
//! scenarios and settings, each seed, and the slice of it one shard runs.
//!
//! The order is fixed and documented (docs/sweeps.md), because shards on
//! different machines must agree on it: scenarios outermost (in the order
//! listed), then `layers`, `hidden`, `init`, `lr`, `batch_size` (each in
//! the order listed), then seeds innermost, so a seed group's runs are
//! neighbours. A run's folder is [`run_name`] of its configuration, as for
//! a single run; with seeds, the group is named with the default seed and
//! each seed runs in [`seeds::seed_run`] (`relu/seed-3`).

use std::fmt;

use crate::experiment::run_name;
use crate::model::Init;
use crate::seeds;
use crate::train::{defaults, Scenario, TrainConfig};

/// The values each setting takes; an empty list means the configuration's
/// one value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Grid {
    pub scenarios: Vec<Scenario>,
    pub layers: Vec<usize>,
    pub hidden: Vec<usize>,
    pub init: Vec<Init>,
    pub lr: Vec<f64>,
    pub batch_size: Vec<usize>,
    /// Every seed of a seed group; empty: one run with the configuration's
    /// seed, in its own folder.
    pub seeds: Vec<u64>,
}

/// One run of the plan.
#[derive(Debug, Clone)]
pub struct PlannedRun {
    /// Its folder, relative to the logdir (`relu`, `relu-l20/seed-3`).
    pub name: String,
    /// Its seed group's folder, for a seed run.
    pub group: Option<String>,
    pub config: TrainConfig,
}

/// The `index`-th of `count` slices of a plan (1 <= index <= count).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: usize,
    count: usize,
}

impl Shard {
    /// Slice `index` of `count`, counted from 1.
    pub fn new(index: usize, count: usize) -> Result<Shard, PlanError> {
        if count == 0 || index == 0 || index > count {
            return Err(PlanError::BadShard { index, count });
        }
        Ok(Shard { index, count })
    }

    /// Whether run `i` (0-based, in plan order) is this shard's: runs are
    /// dealt round-robin, run `i` to shard `i % count + 1`, so each shard
    /// gets a mix of scenarios and seeds.
    pub fn holds(&self, i: usize) -> bool {
        i % self.count + 1 == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Why a plan cannot be made.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum PlanError {
    /// A shard outside 1..=count, or zero shards.
    BadShard { index: usize, count: usize },
    /// Two runs of the grid would share a folder: a value listed twice.
    SameRun { name: String },
    /// No seeds in a seed list.
    NoSeeds,
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::BadShard { index, count } => write!(
                f,
                "shard {index}/{count} does not exist: shards are I/N with 1 <= I <= N"
            ),
            PlanError::SameRun { name } => write!(
                f,
                "two runs of the grid would both be {name}: a value is listed twice"
            ),
            PlanError::NoSeeds => write!(f, "no seeds: give at least one"),
        }
    }
}

impl std::error::Error for PlanError {}

/// Every run of `scenarios` over `grid`, with the rest of `config`, in the
/// fixed order (see the module doc).
pub fn plan(config: &TrainConfig, grid: &Grid) -> Result<Vec<PlannedRun>, PlanError> {
    fn or<T: Clone>(list: &[T], one: T) -> Vec<T> {
        if list.is_empty() {
            vec![one]
        } else {
            list.to_vec()
        }
    }
    let mut runs: Vec<PlannedRun> = Vec::new();
    for &scenario in &or(&grid.scenarios, config.scenario) {
        for &layers in &or(&grid.layers, config.layers) {
            for &hidden in &or(&grid.hidden, config.hidden) {
                for &init in &or(&grid.init, config.init) {
                    for &lr in &or(&grid.lr, config.lr) {
                        for &batch_size in &or(&grid.batch_size, config.batch_size) {
                            let mut base = TrainConfig {
                                scenario,
                                layers,
                                hidden,
                                init,
                                lr,
                                batch_size,
                                ..config.clone()
                            };
                            // A listed size or init is the recurrent runs' too;
                            // unlisted, they keep their own defaults.
                            if !grid.hidden.is_empty() {
                                base.recurrent.hidden = hidden;
                            }
                            if !grid.init.is_empty() {
                                base.recurrent.init = init;
                            }
                            runs.extend(seed_runs(base, &grid.seeds));
                        }
                    }
                }
            }
        }
    }
    for (i, run) in runs.iter().enumerate() {
        if runs[..i].iter().any(|r| r.name == run.name) {
            return Err(PlanError::SameRun {
                name: run.name.clone(),
            });
        }
    }
    Ok(runs)
}

/// The run of `config`, or with `seeds` one run per seed in its group.
fn seed_runs(config: TrainConfig, seeds: &[u64]) -> Vec<PlannedRun> {
    if seeds.is_empty() {
        let name = run_name(&config);
        return vec![PlannedRun {
            name,
            group: None,
            config,
        }];
    }
    let group = run_name(&TrainConfig {
        seed: defaults::SEED,
        ..config.clone()
    });
    (seeds.iter())
        .map(|&seed| PlannedRun {
            name: seeds::seed_run(&group, seed),
            group: Some(group.clone()),
            config: TrainConfig {
                seed,
                ..config.clone()
            },
        })
        .collect()
}

/// The runs of `runs` that `shard` holds (all of them without a shard).
pub fn slice(runs: Vec<PlannedRun>, shard: Option<Shard>) -> Vec<PlannedRun> {
    match shard {
        None => runs,
        Some(shard) => (runs.into_iter().enumerate())
            .filter(|(i, _)| shard.holds(*i))
            .map(|(_, run)| run)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Formerly a doctest: the module is private.
    #[test]
    fn shard_new() {
        use crate::experiment::plan::Shard;
        assert!(Shard::new(2, 2).is_ok());
        assert!(Shard::new(3, 2).is_err() && Shard::new(0, 2).is_err());
    }
    use crate::model::Activation;

    fn names(scenarios: &[Scenario], grid: &Grid) -> Vec<String> {
        let config = TrainConfig::article(Activation::Sigmoid);
        let grid = Grid {
            scenarios: scenarios.to_vec(),
            ..grid.clone()
        };
        let runs = plan(&config, &grid).unwrap();
        runs.into_iter().map(|r| r.name).collect()
    }

    #[test]
    fn no_grid_is_the_scenarios_with_their_usual_names() {
        assert_eq!(
            names(&Scenario::ARTICLE, &Grid::default()),
            ["sigmoid", "relu", "leaky_relu"]
        );
    }

    #[test]
    fn grids_are_in_the_documented_order() {
        let grid = Grid {
            layers: vec![6, 20],
            lr: vec![0.001, 0.01],
            seeds: vec![1, 2],
            ..Grid::default()
        };
        let scenarios = [Scenario::plain(Activation::Relu)];
        assert_eq!(
            names(&scenarios, &grid),
            [
                "relu/seed-1",
                "relu/seed-2",
                "relu-lr0.01/seed-1",
                "relu-lr0.01/seed-2",
                "relu-l20/seed-1",
                "relu-l20/seed-2",
                "relu-l20-lr0.01/seed-1",
                "relu-l20-lr0.01/seed-2",
            ]
        );
        let config = TrainConfig::article(Activation::Relu);
        let runs = plan(&config, &grid).unwrap();
        assert_eq!(runs[3].config.seed, 2);
        assert_eq!(runs[3].config.lr, 0.01);
        assert_eq!(runs[3].group.as_deref(), Some("relu-lr0.01"));
    }

    #[test]
    fn a_value_twice_is_an_error() {
        let config = TrainConfig::article(Activation::Sigmoid);
        let grid = Grid {
            scenarios: Scenario::ARTICLE.to_vec(),
            hidden: vec![10, 10],
            ..Grid::default()
        };
        let err = plan(&config, &grid).unwrap_err();
        assert_eq!(
            err,
            PlanError::SameRun {
                name: "sigmoid".into()
            }
        );
    }

    #[test]
    fn shards_deal_runs_round_robin_and_cover_the_plan_once() {
        let config = TrainConfig::article(Activation::Sigmoid);
        let grid = Grid {
            scenarios: Scenario::ARTICLE.to_vec(),
            seeds: vec![1, 2, 3],
            ..Grid::default()
        };
        let all = plan(&config, &grid).unwrap();
        let mut seen: Vec<String> = Vec::new();
        for i in 1..=4 {
            let shard = Shard::new(i, 4).unwrap();
            let mine = slice(all.clone(), Some(shard));
            assert_eq!(mine[0].name, all[i - 1].name);
            seen.extend(mine.into_iter().map(|r| r.name));
        }
        seen.sort();
        let mut expected: Vec<String> = all.into_iter().map(|r| r.name).collect();
        expected.sort();
        assert_eq!(seen, expected);
        assert_eq!(
            Shard::new(0, 0),
            Err(PlanError::BadShard { index: 0, count: 0 })
        );
    }
}
