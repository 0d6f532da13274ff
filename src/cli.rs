//! Command-line flags (clap only; no behaviour lives here).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::model::Activation;

/// Train deep, narrow MLPs on MNIST and write what happens inside them
/// (loss, accuracy, per-layer gradient and weight statistics) as TensorBoard
/// event files, one run folder per scenario.
///
/// Without a subcommand, trains (`gradscope --scenario relu` is
/// `gradscope train --scenario relu`). Then: `tensorboard --logdir logs`.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "gradscope",
    version,
    about,
    long_about,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub train: TrainArgs,
}

impl Cli {
    /// The subcommand, with training as the default.
    pub fn command(self) -> Command {
        self.command.unwrap_or(Command::Train(self.train))
    }
}

#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Train the scenarios and write their runs (the default).
    Train(TrainArgs),
}

/// The training flags.
#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// Which activation to train with; `all` runs sigmoid, relu and
    /// leaky_relu in turn. Each run is written to LOGDIR/<scenario>.
    #[arg(long, value_enum, default_value_t = Scenario::All)]
    pub scenario: Scenario,

    /// The data set; selects the default --data-dir.
    #[arg(long, value_enum, default_value_t = DatasetName::Mnist)]
    pub dataset: DatasetName,

    /// Folder with the four IDX files (train-images-idx3-ubyte,
    /// train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
    /// t10k-labels-idx1-ubyte, each raw or .gz). Images may be any size
    /// (MNIST's are 28x28) as long as both splits agree; labels are 0-9.
    /// [default: data/<dataset>]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Where the runs are written, one subfolder per scenario.
    #[arg(long, value_name = "DIR", default_value = "logs")]
    pub logdir: PathBuf,

    /// Dense layers, counting the output layer (784 -> hidden x (layers-1) -> 10).
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub layers: u32,

    /// Units in each hidden layer.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub hidden: u32,

    /// Training steps (batches) per scenario.
    #[arg(long, default_value_t = 2500, value_parser = clap::value_parser!(u64).range(1..))]
    pub iterations: u64,

    /// Images per batch, drawn without replacement and reshuffled every epoch.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: u32,

    /// Adam's learning rate (betas 0.9/0.999, eps 1e-8, no weight decay).
    #[arg(long, default_value_t = 0.001, value_parser = positive_finite, allow_negative_numbers = true)]
    pub lr: f64,

    /// Write summaries (and print a line) every this many iterations.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..))]
    pub log_every: u64,

    /// Seeds the initial weights and the batch order; every scenario of one
    /// invocation starts from the same seed, so they differ only in activation.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,

    /// Don't draw the progress bar.
    #[arg(long)]
    pub no_progress: bool,
}

impl TrainArgs {
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("data").join(self.dataset.dir_name()))
    }
}

/// A named experiment: one activation, or all three.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    Sigmoid,
    Relu,
    #[value(name = "leaky_relu")]
    LeakyRelu,
    All,
}

impl Scenario {
    /// The activations this scenario runs, in order.
    pub fn activations(self) -> Vec<Activation> {
        match self {
            Scenario::Sigmoid => vec![Activation::Sigmoid],
            Scenario::Relu => vec![Activation::Relu],
            Scenario::LeakyRelu => vec![Activation::LeakyRelu],
            Scenario::All => vec![Activation::Sigmoid, Activation::Relu, Activation::LeakyRelu],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DatasetName {
    Mnist,
    FashionMnist,
}

impl DatasetName {
    pub fn dir_name(self) -> &'static str {
        match self {
            DatasetName::Mnist => "mnist",
            DatasetName::FashionMnist => "fashion-mnist",
        }
    }
}

fn positive_finite(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("`{s}` is not a number"))?;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(format!("must be a positive, finite number, got {s}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<TrainArgs, clap::Error> {
        let cli = Cli::try_parse_from(std::iter::once("gradscope").chain(args.iter().copied()))?;
        match cli.command() {
            Command::Train(args) => Ok(args),
        }
    }

    #[test]
    fn defaults_reproduce_the_article() {
        let a = parse(&[]).unwrap();
        assert_eq!(
            (a.layers, a.hidden, a.iterations, a.batch_size, a.log_every),
            (6, 10, 2500, 30, 200)
        );
        assert_eq!(a.lr, 0.001);
        assert_eq!(a.scenario, Scenario::All);
        assert_eq!(a.data_dir(), PathBuf::from("data/mnist"));
    }

    #[test]
    fn scenario_names_and_dataset_dir() {
        let a = parse(&["--scenario", "leaky_relu", "--dataset", "fashion-mnist"]).unwrap();
        assert_eq!(a.scenario.activations(), vec![Activation::LeakyRelu]);
        assert_eq!(a.data_dir(), PathBuf::from("data/fashion-mnist"));
    }

    #[test]
    fn train_subcommand_is_the_default() {
        let cli = Cli::try_parse_from(["gradscope", "train", "--layers", "3"]).unwrap();
        let Command::Train(args) = cli.command();
        assert_eq!(args.layers, 3);
    }

    #[test]
    fn bad_values_are_rejected_naming_the_flag() {
        for bad in [
            &["--layers", "0"][..],
            &["--hidden", "0"],
            &["--batch-size", "0"],
            &["--iterations", "0"],
            &["--log-every", "0"],
            &["--lr", "0"],
            &["--lr", "-1"],
            &["--lr", "NaN"],
            &["--lr", "inf"],
            &["--scenario", "tanh"],
        ] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(err.contains(bad[0]), "{bad:?}: {err}");
        }
        let err = parse(&["--scenario", "tanh"]).unwrap_err().to_string();
        assert!(err.contains("leaky_relu"), "lists valid values: {err}");
    }
}
