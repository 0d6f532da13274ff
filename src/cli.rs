//! Command-line flags (clap), turned into an [`Experiment`]: the only
//! module that knows the flags' names.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use regex::Regex;

use crate::data::{DatasetName, Sequence, SequenceError};
use crate::experiment::{grid_file, Experiment, Grid, LogdirError, PlanError, Shard};
use crate::model::checkpoint::CheckpointError;
use crate::model::{Activation, Cell, Init, DEFAULT_LEAKY_SLOPE};
use crate::report::export::{ExportFormat, Histograms, Options as ExportOptions};
use crate::table::Format;
use crate::train::checkpoint::{ResumeError, Setting};
use crate::train::{
    defaults, ConfigError, DeviceChoice, Diverged, Engine, RecurrentConfig, RecurrentUnsupported,
    Scenario, TrainConfig,
};

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

// One value per process: the training flags' size costs nothing to box away.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Train the scenarios and write their runs (the default).
    Train(TrainArgs),
    /// List the runs and tags of a logdir or one event file (from any
    /// TensorBoard writer), checking every record's CRCs.
    Inspect(InspectArgs),
    /// Compare the runs of a logdir side by side: loss, accuracies,
    /// attenuation and mean |grad| per layer.
    Compare(CompareArgs),
    /// Draw PNG figures of a logdir's runs into LOGDIR/plots/.
    Plot(PlotArgs),
    /// Write every scalar and histogram point of a logdir's runs (from any
    /// TensorBoard writer) as rows for a dataframe: run, tag, kind, step,
    /// wall_time, then the value, or a histogram's count, min, max, mean,
    /// p10, p50 and p90 (or its buckets). Text, images and other kinds are
    /// left out and counted on stderr.
    Export(ExportArgs),
    /// Write each seed group's aggregate run (`<run>/mean`: mean and
    /// standard deviation across the seeds that finished) from the event
    /// files on disk, print the groups' table and write REPORT.md: what
    /// training does at its end, for after `--shard`ed runs.
    Aggregate(AggregateArgs),
    /// Check the backward pass of every fused op the trainer uses (each
    /// activation's MLP, the residual MLP, the RNN, LSTM and GRU) against
    /// central finite differences, in f32; one line per case, and a
    /// non-zero exit status if any fails.
    Gradcheck(GradcheckArgs),
}

#[derive(Debug, Clone, Args)]
pub struct GradcheckArgs {
    /// Seed of the cases' weights, inputs and sampled entries.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// At most this many entries checked per parameter (drawn by the
    /// seed); smaller parameters are checked whole.
    #[arg(long, default_value_t = gradscope_candle::GradcheckOptions::DEFAULT_MAX_ENTRIES, value_parser = at_least_one)]
    pub max_entries: usize,
    /// Print every case's table of parameters (worst error, where, both
    /// derivatives), not only the failed cases'.
    #[arg(long)]
    pub verbose: bool,
}

#[derive(Debug, Clone, Args)]
pub struct AggregateArgs {
    /// The logdir whose seed groups to aggregate.
    pub logdir: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct InspectArgs {
    /// A logdir, or one event file.
    pub path: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct CompareArgs {
    /// The logdir whose runs to compare.
    pub logdir: PathBuf,
    /// How to print the table.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// The logdir (or one event file) to export.
    pub logdir: PathBuf,
    /// Write to this file (replaced whole, through a temporary file beside
    /// it) instead of stdout; needed for parquet.
    #[arg(long, short, required_if_eq("format", "parquet"))]
    pub output: Option<PathBuf>,
    /// The file format.
    #[arg(long, value_enum, default_value_t = ExportFormat::Csv)]
    pub format: ExportFormat,
    /// Histograms as one summary row per point (count, min, max, mean,
    /// p10, p50, p90; quantiles interpolated inside buckets), or as one
    /// row per bucket (left, right, count).
    #[arg(long, value_enum, default_value_t = Histograms::Summary)]
    pub histograms: Histograms,
    /// Only tags whose name matches this regular expression (anywhere in
    /// the name: anchor with ^ and $).
    #[arg(long, value_name = "REGEX", value_parser = parse_regex)]
    pub tags: Option<Regex>,
    /// Only runs whose name matches this regular expression.
    #[arg(long, value_name = "REGEX", value_parser = parse_regex)]
    pub runs: Option<Regex>,
}

impl ExportArgs {
    /// What the report layer needs of the flags.
    pub fn options(&self) -> ExportOptions {
        ExportOptions {
            format: self.format,
            histograms: self.histograms,
            tags: self.tags.clone(),
            runs: self.runs.clone(),
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct PlotArgs {
    /// The logdir whose runs to plot; figures go to LOGDIR/plots/.
    pub logdir: PathBuf,
}

/// The training flags.
#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// What to run, as a comma-separated list: an activation (sigmoid,
    /// relu, leaky_relu, tanh, elu, selu, gelu, softplus, linear) for the
    /// MLP, optionally with `-residual` (e.g. `sigmoid-residual`), `all` for
    /// sigmoid, relu and leaky_relu, or a recurrent network: `rnn` (tanh),
    /// `lstm`, `gru` (one layer of --hidden, default 64, and a linear head
    /// on the last hidden state, over --sequence). Each run goes to its own
    /// folder under LOGDIR, named after its configuration (`relu`,
    /// `sigmoid-residual-l20`, `lstm-pixels14-fb1`, ...).
    #[arg(long, default_value = "all", value_parser = parse_scenarios, conflicts_with = "activation")]
    pub scenario: Scenarios,

    /// Run one network with this activation (instead of --scenario); a
    /// comma list runs each (`sigmoid,relu`).
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(Activation))]
    pub activation: Vec<Activation>,

    /// Identity skip connections around each hidden layer after the first
    /// (h <- h + act(W h + b)), for every run.
    #[arg(long)]
    pub residual: bool,

    /// Negative-side slope of leaky_relu.
    #[arg(long, default_value_t = DEFAULT_LEAKY_SLOPE, value_parser = finite, allow_negative_numbers = true)]
    pub leaky_slope: f64,

    /// How the kernels are initialised (biases start at zero, except under
    /// torch-uniform for recurrent runs); a comma list runs each.
    /// [default: glorot-uniform for the MLP; torch-uniform (PyTorch's RNN
    /// init, every parameter from U(±1/sqrt(hidden))) for rnn, lstm, gru;
    /// orthogonal gives them Keras' orthogonal recurrent kernel]
    #[arg(long, value_enum, value_delimiter = ',')]
    pub init: Vec<Init>,

    /// Start from these weights (a safetensors file written by --save)
    /// instead of --init.
    #[arg(long, value_name = "PATH")]
    pub init_from: Option<PathBuf>,

    /// Save the final weights as safetensors (layer{i}.weight in (out, in)
    /// layout, layer{i}.bias). With several runs, the run's folder name is
    /// added before the extension.
    #[arg(long, value_name = "PATH")]
    pub save: Option<PathBuf>,

    /// Take batches in file order instead of shuffling (for exact comparisons).
    #[arg(long)]
    pub no_shuffle: bool,

    /// The data set; selects the default --data-dir.
    #[arg(long, value_enum, default_value_t = DatasetName::Mnist)]
    pub dataset: DatasetName,

    /// Folder with the four IDX files (train-images-idx3-ubyte,
    /// train-labels-idx1-ubyte, t10k-images-idx3-ubyte,
    /// t10k-labels-idx1-ubyte, each raw or .gz). Images may be any size
    /// (MNIST's are 28x28) as long as both splits agree; labels are 0-9.
    /// [default: data/DATASET]
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Where the runs are written, one subfolder per scenario: a folder, or
    /// with `--features object-store` a bucket prefix (s3://bucket/exp, gs://,
    /// az://; docs/object-storage.md).
    #[arg(long, value_name = "DIR", default_value = "logs")]
    pub logdir: PathBuf,

    /// Dense layers, counting the output layer (784 -> hidden x (layers-1) -> 10).
    /// A comma-separated list (`6,20`) runs each (a grid, see docs/sweeps.md).
    #[arg(long, default_values_t = [defaults::LAYERS as u32], value_delimiter = ',', value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub layers: Vec<u32>,

    /// Units in each hidden layer (the recurrent layer's size for rnn, lstm,
    /// gru); a comma list runs each. [default: 10 for the MLP, 64 for rnn,
    /// lstm, gru]
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub hidden: Vec<u32>,

    /// How recurrent runs read an image: `rows` (one row per step: 28 steps
    /// of 28 pixels on MNIST), `pixels14` (halved by 2x2 averaging, then one
    /// pixel per step: 196 steps), `pixels` (one pixel per step: 784).
    #[arg(long, value_enum, default_value_t = defaults::recurrent::SEQUENCE)]
    pub sequence: Sequence,

    /// The LSTM's initial forget-gate bias: PyTorch's two bias vectors get
    /// X (bias_ih) and 0 (bias_hh) in the forget gate's slice. Default: the
    /// biases as --init draws them. LSTM runs only.
    #[arg(long, value_name = "X", value_parser = finite, allow_negative_numbers = true)]
    pub forget_bias: Option<f64>,

    /// Clip the gradients to this global L2 norm before each step, as
    /// torch.nn.utils.clip_grad_norm_ does (every run).
    #[arg(long, value_name = "X", value_parser = positive_finite, allow_negative_numbers = true)]
    pub clip_norm: Option<f64>,

    /// Training steps (batches) per scenario.
    #[arg(long, default_value_t = defaults::ITERATIONS as u64, value_parser = clap::value_parser!(u64).range(1..))]
    pub iterations: u64,

    /// Images per batch, drawn without replacement and reshuffled every
    /// epoch; a list runs each.
    #[arg(long, default_values_t = [defaults::BATCH_SIZE as u32], value_delimiter = ',', value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: Vec<u32>,

    /// Adam's learning rate (betas 0.9/0.999, eps 1e-8, no weight decay);
    /// a list runs each.
    #[arg(long, default_values_t = [defaults::LR], value_delimiter = ',', value_parser = positive_finite, allow_negative_numbers = true)]
    pub lr: Vec<f64>,

    /// Write summaries (and print a line) every this many iterations.
    #[arg(long, default_value_t = defaults::LOG_EVERY as u64, value_parser = clap::value_parser!(u64).range(1..))]
    pub log_every: u64,

    /// Seeds the initial weights and the batch order; every scenario of one
    /// invocation starts from the same seed, so they differ only in activation.
    #[arg(long, default_value_t = defaults::SEED, conflicts_with = "seeds")]
    pub seed: u64,

    /// Run every configuration once per seed, into RUN/seed-K, and write
    /// RUN/mean with the mean and standard deviation across seeds: N (seeds
    /// 1 to N), a range A..B (A to B, both included), or a list 1,2,5.
    #[arg(long, value_name = "N|A..B|LIST", value_parser = parse_seeds, allow_negative_numbers = true)]
    pub seeds: Option<SeedList>,

    /// A grid file: lines `flag = value, value, ...` (flags: scenario,
    /// layers, hidden, init, lr, batch-size, seeds; `#` starts a comment).
    /// Its lists replace those flags' values (docs/sweeps.md).
    #[arg(long, value_name = "FILE")]
    pub grid: Option<PathBuf>,

    /// Train this many runs at once, each on its own thread. [default: half
    /// the cores, at least 1: one run per core is faster but takes more
    /// memory than target 5 allows (docs/sweeps.md)]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub jobs: Option<u64>,

    /// Run only the I-th of N slices of the experiment's runs (1 <= I <= N;
    /// run k of the fixed order goes to slice k mod N + 1), skipping runs
    /// that finished already; then `gradscope aggregate LOGDIR` once every
    /// slice is done (docs/sweeps.md: Slurm, Kubernetes, GNU parallel).
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,

    /// Save a checkpoint in each run's folder every N iterations, and when
    /// stopped by Ctrl-C or SIGTERM: the weights, Adam's state, the batch
    /// order and position, and the settings (0: never). The default costs
    /// under 2% of a run's time. Removed once the run finishes.
    #[arg(long, value_name = "N", default_value_t = defaults::CHECKPOINT_EVERY as u64)]
    pub checkpoint_every: u64,

    /// Continue the plan: skip its runs that finished, and continue each
    /// other one from its checkpoint, in its folder (from step 0 where
    /// there is none); TensorBoard shows each step once. The flags must be
    /// those the runs were started with. --shard reruns do this anyway.
    #[arg(long)]
    pub resume: bool,

    /// Don't draw the progress bar.
    #[arg(long)]
    pub no_progress: bool,

    /// CPU threads for the matrix products; 0 picks by work size: one for
    /// narrow networks (threads cost more than they save there), every core
    /// from --hidden 128 up. RAYON_NUM_THREADS, if set, is used instead of 0.
    /// Products under 16 M multiply-adds (a training batch of 30 through
    /// 512-wide layers) run on one thread regardless.
    #[arg(long, default_value_t = 0)]
    pub threads: usize,

    /// How the network is computed: `fused` (gradscope's fused CPU ops, the
    /// fastest on the CPU) or `candle-nn` (candle's standard ops, candle-nn's
    /// loss and AdamW; the same numbers, on any --device).
    #[arg(long, default_value = "fused", value_parser = parse_engine)]
    pub engine: Engine,

    /// Where the tensors live: `cpu`, or `cuda` / `cuda:N` (with
    /// --engine candle-nn, in a build with the `cuda` feature).
    #[arg(long, default_value = "cpu", value_parser = parse_device)]
    pub device: DeviceChoice,
}

impl TrainArgs {
    /// The thread count `--threads` asks for, resolved.
    pub fn threads(&self) -> usize {
        /// Hidden width from which a batch's matrix products are big enough
        /// to split across cores.
        const PARALLEL_FROM_HIDDEN: u32 = 128;
        if self.threads > 0 {
            return self.threads;
        }
        let from_env = std::env::var("RAYON_NUM_THREADS").ok();
        if let Some(n) = from_env.and_then(|v| v.parse().ok()).filter(|&n| n > 0) {
            return n;
        }
        if self.hidden.iter().any(|&h| h >= PARALLEL_FROM_HIDDEN) {
            // Runs training at once (--jobs) share this one pool.
            cores()
        } else {
            1
        }
    }

    /// The runs `--jobs` trains at once, resolved.
    pub fn jobs(&self) -> usize {
        self.jobs.map_or((cores() / 2).max(1), |j| j as usize)
    }

    /// What these flags (and the `--grid` file) ask to run; an error
    /// naming the flag, or the grid file and line, for values that make no
    /// experiment.
    pub fn experiment(&self) -> anyhow::Result<Experiment> {
        let args = match &self.grid {
            Some(path) => self.with_grid_file(path)?,
            None => self.clone(),
        };
        let experiment = args.experiment_of_flags();
        // The plan is made again when the experiment runs; made here, a
        // duplicate is an error before any data is read.
        crate::experiment::plan::plan(&experiment.config, &experiment.grid)?;
        Ok(experiment)
    }

    fn experiment_of_flags(&self) -> Experiment {
        let mut scenarios = match self.activation.as_slice() {
            [] => self.scenario.0.clone(),
            activations => activations.iter().map(|&a| Scenario::plain(a)).collect(),
        };
        for scenario in &mut scenarios {
            if let Scenario::Mlp { residual, .. } = scenario {
                *residual |= self.residual;
            }
        }
        // The lists are the grid's (docs/sweeps.md); the plan takes each
        // run's network and sizes from them, the rest from here.
        let config = TrainConfig {
            leaky_slope: self.leaky_slope,
            dataset: self.dataset.dir_name().to_string(),
            init_from: self.init_from.clone(),
            save: self.save.clone(),
            shuffle: !self.no_shuffle,
            iterations: self.iterations as usize,
            log_every: self.log_every as usize,
            seed: self.seed,
            progress: !self.no_progress,
            engine: self.engine,
            device: self.device,
            recurrent: RecurrentConfig {
                sequence: self.sequence,
                forget_bias: self.forget_bias,
                ..RecurrentConfig::default()
            },
            clip_norm: self.clip_norm,
            checkpoint_every: self.checkpoint_every as usize,
            ..TrainConfig::article(Activation::Sigmoid)
        };
        let grid = Grid {
            scenarios,
            layers: self.layers.iter().map(|&l| l as usize).collect(),
            hidden: self.hidden.iter().map(|&h| h as usize).collect(),
            init: self.init.clone(),
            lr: self.lr.clone(),
            batch_size: self.batch_size.iter().map(|&b| b as usize).collect(),
            seeds: self.seeds.as_ref().map_or_else(Vec::new, |s| s.0.clone()),
        };
        Experiment {
            config,
            grid,
            shard: self.shard,
            resume: self.resume,
            jobs: self.jobs(),
            logdir: self.logdir.clone(),
            data_dir: self.data_dir(),
        }
    }

    /// These flags with the lists of the grid file at `path` in place of
    /// theirs. Each line's values are parsed by the flag's own parser.
    fn with_grid_file(&self, path: &std::path::Path) -> anyhow::Result<TrainArgs> {
        let at = |line: usize| format!("--grid {}:{line}", path.display());
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("--grid {}: cannot read it: {e}", path.display()))?;
        let lines = grid_file::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", at(e.line)))?;
        let mut args = self.clone();
        for line in lines {
            let flag = line.setting;
            let parsed =
                Cli::try_parse_from(["gradscope", &format!("--{flag}"), &line.values.join(",")])
                    .map_err(|e| {
                        let rendered = e.render().to_string();
                        let first = rendered.lines().next().unwrap_or_default();
                        anyhow::anyhow!(
                            "{}: {}",
                            at(line.number),
                            first.trim_start_matches("error: ")
                        )
                    })?
                    .train;
            match flag {
                "scenario" => args.scenario = parsed.scenario,
                "activation" => args.activation = parsed.activation,
                "layers" => args.layers = parsed.layers,
                "hidden" => args.hidden = parsed.hidden,
                "init" => args.init = parsed.init,
                "lr" => args.lr = parsed.lr,
                "batch-size" => args.batch_size = parsed.batch_size,
                _ => args.seeds = parsed.seeds,
            }
        }
        Ok(args)
    }

    fn data_dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("data").join(self.dataset.dir_name()))
    }
}

/// An error as the command line words it: where the library reports a
/// problem with a value a flag set, the flag leads. Causes are joined by
/// `: `, as `{:#}` joins them, except a cause the message already ends
/// with: the TensorBoard crate's errors say what the OS said and also give
/// it as their source.
pub fn error_message(err: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in err.chain() {
        let text = in_flag_terms(cause).unwrap_or_else(|| cause.to_string());
        if message.is_empty() {
            message = text;
        } else if !message.ends_with(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
    }
    message
}

/// The flag that sets `setting`.
fn setting_flag(setting: Setting) -> &'static str {
    match setting {
        Setting::Scenario => "--scenario",
        Setting::LeakySlope => "--leaky-slope",
        Setting::Dataset => "--dataset",
        Setting::Layers => "--layers",
        Setting::Hidden | Setting::RecurrentHidden => "--hidden",
        Setting::Init | Setting::RecurrentInit => "--init",
        Setting::InitFrom => "--init-from",
        Setting::Shuffle => "--no-shuffle",
        Setting::Iterations => "--iterations",
        Setting::BatchSize => "--batch-size",
        Setting::Lr => "--lr",
        Setting::LogEvery => "--log-every",
        Setting::Seed => "--seed",
        Setting::Engine => "--engine",
        Setting::Device => "--device",
        Setting::Sequence => "--sequence",
        Setting::ForgetBias => "--forget-bias",
        Setting::ClipNorm => "--clip-norm",
    }
}

/// `cause` worded with the flag that set the value it is about.
fn in_flag_terms(cause: &(dyn std::error::Error + 'static)) -> Option<String> {
    if let Some(e) = cause.downcast_ref::<ConfigError>() {
        let flags = match e {
            ConfigError::BatchLargerThanData { batch_size, .. } => {
                format!("--batch-size {batch_size}")
            }
            ConfigError::TooManyParameters { layers, hidden, .. } => {
                format!("--layers {layers} and --hidden {hidden}")
            }
            ConfigError::FusedOffCpu { device } => {
                format!("--engine fused with --device {device}")
            }
            ConfigError::DeviceUnavailable { device, .. } => format!("--device {device}"),
            ConfigError::ForgetBiasWithoutLstm => "--forget-bias".to_string(),
            ConfigError::NotForRecurrent { setting } => match setting {
                RecurrentUnsupported::InitFrom => "--init-from",
                RecurrentUnsupported::Save => "--save",
                RecurrentUnsupported::Device => "--device",
            }
            .to_string(),
        };
        return Some(format!("{flags}: {e}"));
    }
    if let Some(e) = cause.downcast_ref::<LogdirError>() {
        return Some(match e {
            LogdirError::Create { logdir, .. } => {
                format!(
                    "--logdir {}: cannot create the log directory",
                    logdir.display()
                )
            }
            LogdirError::NotADirectory { logdir } => {
                format!("--logdir {} is not a directory", logdir.display())
            }
            LogdirError::RunInTheWay { logdir, run, path } => format!(
                "--logdir {}: {} is in the way of run {run}: not a directory",
                logdir.display(),
                path.display()
            ),
        });
    }
    if let Some(e) = cause.downcast_ref::<ResumeError>() {
        if let ResumeError::SettingDiffers {
            path,
            setting,
            saved,
            now,
        } = e
        {
            let flag = setting_flag(*setting);
            // A switch is given or not; "none" is an option left out.
            let worded = |value: &str| match (setting, value) {
                (Setting::Shuffle, "true") => format!("without {flag}"),
                (Setting::Shuffle, _) => format!("with {flag}"),
                (_, "none") => format!("without {flag}"),
                (_, value) => format!("with {flag} {value}"),
            };
            return Some(format!(
                "{flag}: checkpoint {} was taken {}, this run is {}; resume with the flags \
                 the run started with, or remove the checkpoint to start it over",
                path.display(),
                worded(saved),
                worded(now)
            ));
        }
        return None;
    }
    if let Some(e) = cause.downcast_ref::<CheckpointError>() {
        return Some(match e {
            CheckpointError::Save { path, .. } => {
                format!("--save {}: cannot write the checkpoint", path.display())
            }
            CheckpointError::Load { path, problem } => {
                format!("--init-from {}: {problem}", path.display())
            }
        });
    }
    if let Some(e) = cause.downcast_ref::<PlanError>() {
        return Some(match e {
            PlanError::SameRun { .. } => format!(
                "{e} (in --scenario, --layers, --hidden, --init, --lr, --batch-size, --seeds \
                 or the --grid file)"
            ),
            PlanError::BadShard { .. } => format!("--shard: {e}"),
            _ => format!("--seeds: {e}"),
        });
    }
    if let Some(e) = cause.downcast_ref::<SequenceError>() {
        return Some(format!("--sequence {}: {e}", e.sequence));
    }
    if let Some(e) = cause.downcast_ref::<Diverged>() {
        return Some(format!("{e} (try a smaller --lr)"));
    }
    None
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The parsed `--seeds`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedList(pub Vec<u64>);

fn parse_seeds(s: &str) -> Result<SeedList, String> {
    let number = |t: &str| {
        t.trim()
            .parse::<u64>()
            .map_err(|_| format!("`{t}` is not a seed (a whole number)"))
    };
    let seeds: Vec<u64> = if let Some((a, b)) = s.split_once("..") {
        let (a, b) = (number(a)?, number(b)?);
        if a > b {
            return Err(format!("the range {s} is empty: give A..B with A <= B"));
        }
        (a..=b).collect()
    } else if s.contains(',') {
        s.split(',').map(number).collect::<Result<_, _>>()?
    } else {
        match number(s)? {
            0 => return Err("must be at least 1 (N runs seeds 1 to N)".into()),
            n => (1..=n).collect(),
        }
    };
    if let Some((_, seed)) = (seeds.iter().enumerate()).find(|(i, s)| seeds[..*i].contains(s)) {
        return Err(format!("seed {seed} is listed twice"));
    }
    Ok(SeedList(seeds))
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    let (i, n) = s
        .split_once('/')
        .ok_or_else(|| format!("expected I/N (such as 2/8), got `{s}`"))?;
    let number = |t: &str| {
        t.trim()
            .parse::<usize>()
            .map_err(|_| format!("expected I/N with whole numbers (such as 2/8), got `{s}`"))
    };
    Shard::new(number(i)?, number(n)?).map_err(|e| e.to_string())
}

fn parse_engine(s: &str) -> Result<Engine, String> {
    [Engine::Fused, Engine::CandleNn]
        .into_iter()
        .find(|e| e.name() == s)
        .ok_or_else(|| format!("unknown engine `{s}`; valid: fused, candle-nn"))
}

fn parse_device(s: &str) -> Result<DeviceChoice, String> {
    match s {
        "cpu" => Ok(DeviceChoice::Cpu),
        "cuda" => Ok(DeviceChoice::Cuda(0)),
        _ => s
            .strip_prefix("cuda:")
            .and_then(|n| n.parse().ok())
            .map(DeviceChoice::Cuda)
            .ok_or_else(|| format!("unknown device `{s}`; valid: cpu, cuda, cuda:N")),
    }
}

/// The parsed `--scenario` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scenarios(pub Vec<Scenario>);

fn parse_scenarios(s: &str) -> Result<Scenarios, String> {
    let mut runs: Vec<Scenario> = Vec::new();
    for item in s.split(',').map(str::trim) {
        let new: Vec<Scenario> = if item == "all" {
            Scenario::ARTICLE.to_vec()
        } else if let Some(cell) = Cell::from_name(item) {
            vec![Scenario::Recurrent(cell)]
        } else {
            let (name, residual) = match item.strip_suffix("-residual") {
                Some(name) => (name, true),
                None => (item, false),
            };
            let activation = name.parse::<Activation>().map_err(|_| {
                format!(
                    "unknown scenario `{item}`; valid: all, rnn, lstm, gru, or an activation \
                     optionally followed by -residual, the activations being {}",
                    Activation::names()
                )
            })?;
            vec![Scenario::Mlp {
                activation,
                residual,
            }]
        };
        for run in new {
            if runs.contains(&run) {
                return Err(format!("`{item}` is listed twice"));
            }
            runs.push(run);
        }
    }
    Ok(Scenarios(runs))
}

fn parse_regex(s: &str) -> Result<Regex, String> {
    Regex::new(s).map_err(|e| format!("not a regular expression: {e}"))
}

fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!("expected a whole number of at least 1, got {s:?}")),
    }
}

fn finite(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(format!("must be a finite number, got {s}")),
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
    use std::path::Path;

    fn parse(args: &[&str]) -> Result<TrainArgs, clap::Error> {
        let cli = Cli::try_parse_from(std::iter::once("gradscope").chain(args.iter().copied()))?;
        match cli.command() {
            Command::Train(args) => Ok(args),
            other => panic!("not a training command: {other:?}"),
        }
    }

    #[test]
    fn defaults_reproduce_the_article() {
        let a = parse(&[]).unwrap();
        let config = a.experiment().unwrap().config;
        assert_eq!(
            (
                a.layers[0],
                config.hidden,
                a.iterations,
                a.batch_size[0],
                a.log_every
            ),
            (6, 10, 2500, 30, 200)
        );
        assert_eq!(a.lr, [0.001]);
        assert_eq!(
            a.experiment().unwrap().grid.scenarios,
            Scenario::ARTICLE.to_vec()
        );
        assert_eq!(config.init, Init::GlorotUniform);
        let recurrent = config.recurrent;
        assert_eq!((recurrent.hidden, recurrent.init), (64, Init::TorchUniform));
        assert_eq!(recurrent.sequence, Sequence::Rows);
        assert_eq!(a.leaky_slope, 0.2);
        assert_eq!(
            a.experiment().unwrap().data_dir,
            PathBuf::from("data/mnist")
        );
    }

    #[test]
    fn scenario_names_and_dataset_dir() {
        let a = parse(&["--scenario", "leaky_relu", "--dataset", "fashion-mnist"]).unwrap();
        assert_eq!(
            a.experiment().unwrap().grid.scenarios,
            vec![Scenario::plain(Activation::LeakyRelu)]
        );
        assert_eq!(
            a.experiment().unwrap().data_dir,
            PathBuf::from("data/fashion-mnist")
        );
    }

    #[test]
    fn train_subcommand_is_the_default() {
        let cli = Cli::try_parse_from(["gradscope", "train", "--layers", "3"]).unwrap();
        let Command::Train(args) = cli.command() else {
            panic!("not train")
        };
        assert_eq!(args.layers, [3]);
    }

    #[test]
    fn report_subcommands() {
        let cli = Cli::try_parse_from(["gradscope", "compare", "logs", "--format", "csv"]).unwrap();
        let Command::Compare(args) = cli.command() else {
            panic!("not compare")
        };
        assert_eq!(
            (args.logdir, args.format),
            (PathBuf::from("logs"), Format::Csv)
        );
        let cli = Cli::try_parse_from(["gradscope", "inspect", "f"]).unwrap();
        assert!(matches!(cli.command(), Command::Inspect(a) if a.path == Path::new("f")));
        let err = Cli::try_parse_from(["gradscope", "compare", "logs", "--format", "xml"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--format") && err.contains("markdown"),
            "{err}"
        );
        assert!(Cli::try_parse_from(["gradscope", "plot"]).is_err());
    }

    #[test]
    fn export_flags() {
        let cli = Cli::try_parse_from(["gradscope", "export", "logs"]).unwrap();
        let Command::Export(args) = cli.command() else {
            panic!("not export")
        };
        assert_eq!(args.logdir, PathBuf::from("logs"));
        assert_eq!(args.output, None);
        assert_eq!(args.format, ExportFormat::Csv);
        assert_eq!(args.histograms, Histograms::Summary);
        assert!(args.tags.is_none() && args.runs.is_none());
        let cli = Cli::try_parse_from([
            "gradscope",
            "export",
            "logs",
            "-o",
            "p.jsonl",
            "--format",
            "jsonl",
            "--histograms",
            "buckets",
            "--tags",
            "^loss$",
            "--runs",
            "relu",
        ])
        .unwrap();
        let Command::Export(args) = cli.command() else {
            panic!("not export")
        };
        let options = args.options();
        assert_eq!(args.output, Some(PathBuf::from("p.jsonl")));
        assert_eq!(options.format, ExportFormat::Jsonl);
        assert_eq!(options.histograms, Histograms::Buckets);
        assert!(options.tags.unwrap().is_match("loss"));
        assert!(options.runs.unwrap().is_match("leaky_relu"));
        let err = Cli::try_parse_from(["gradscope", "export", "logs", "--runs", "[a"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--runs") && err.contains("regular expression"),
            "{err}"
        );
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
            &["--scenario", "swish"],
            &["--scenario", "relu,relu"],
            &["--activation", "swish"],
            &["--leaky-slope", "inf"],
            &["--init", "zeros"],
            &["--sequence", "columns"],
            &["--clip-norm", "0"],
            &["--forget-bias", "NaN"],
        ] {
            let err = parse(bad).unwrap_err().to_string();
            assert!(err.contains(bad[0]), "{bad:?}: {err}");
        }
        let err = parse(&["--scenario", "swish"]).unwrap_err().to_string();
        assert!(
            err.contains("leaky_relu") && err.contains("softplus"),
            "lists valid values: {err}"
        );
        let err = parse(&["--scenario", "relu", "--activation", "tanh"]).unwrap_err();
        assert!(err.to_string().contains("cannot be used with"), "{err}");
    }

    #[test]
    fn scenario_lists_residual_and_activation() {
        let a = parse(&["--scenario", "sigmoid,sigmoid-residual,relu"]).unwrap();
        let runs: Vec<(Activation, bool)> = (a.experiment().unwrap().grid.scenarios.iter())
            .map(|r| match *r {
                Scenario::Mlp {
                    activation,
                    residual,
                } => (activation, residual),
                Scenario::Recurrent(_) => panic!("not an MLP"),
            })
            .collect();
        assert_eq!(
            runs,
            [
                (Activation::Sigmoid, false),
                (Activation::Sigmoid, true),
                (Activation::Relu, false)
            ]
        );
        let a = parse(&["--activation", "gelu", "--residual"]).unwrap();
        assert_eq!(
            a.experiment().unwrap().grid.scenarios,
            vec![Scenario::Mlp {
                activation: Activation::Gelu,
                residual: true,
            }]
        );
        // A list of activations is a grid over them, as --scenario's list.
        let a = parse(&["--activation", "sigmoid,relu", "--layers", "6,20"]).unwrap();
        assert_eq!(
            names(&["--activation", "sigmoid,relu", "--layers", "6,20"]),
            ["sigmoid", "sigmoid-l20", "relu", "relu-l20"]
        );
        assert_eq!(
            a.experiment().unwrap().grid.scenarios,
            [Activation::Sigmoid, Activation::Relu].map(Scenario::plain)
        );
    }

    fn names(args: &[&str]) -> Vec<String> {
        let cli = Cli::try_parse_from(std::iter::once("gradscope").chain(args.iter().copied()));
        let Command::Train(args) = cli.unwrap().command() else {
            panic!("not a training command")
        };
        let e = args.experiment().unwrap();
        let runs = crate::experiment::plan::plan(&e.config, &e.grid).unwrap();
        runs.into_iter().map(|r| r.name).collect()
    }

    #[test]
    fn seeds_are_a_count_a_range_or_a_list() {
        let seeds = |s: &str| parse(&["--seeds", s]).unwrap().seeds.unwrap().0;
        assert_eq!(seeds("3"), [1, 2, 3]);
        assert_eq!(seeds("4..6"), [4, 5, 6]);
        assert_eq!(seeds("5..5"), [5]);
        assert_eq!(seeds("1, 2,5"), [1, 2, 5]);
        for bad in ["0", "x", "3..1", "1,1", "-1", "1..x"] {
            let err = parse(&["--seeds", bad]).unwrap_err().to_string();
            assert!(err.contains("--seeds"), "{bad}: {err}");
        }
    }

    #[test]
    fn shards_and_jobs() {
        let a = parse(&["--shard", "2/3", "--jobs", "4"]).unwrap();
        let e = a.experiment().unwrap();
        assert_eq!((e.shard, e.jobs), (Some(Shard::new(2, 3).unwrap()), 4));
        assert_eq!(parse(&[]).unwrap().experiment().unwrap().shard, None);
        for bad in ["3/2", "0/2", "1/0", "x", "1/x", "2"] {
            let err = parse(&["--shard", bad]).unwrap_err().to_string();
            assert!(err.contains("--shard"), "{bad}: {err}");
        }
    }

    #[test]
    fn a_grid_file_is_the_same_grid_as_the_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grid.txt");
        std::fs::write(
            &path,
            "# the article's two, deeper\nscenario = sigmoid, relu\n\n--layers=6,20 # both\nseeds = 2\n",
        )
        .unwrap();
        let from_file = names(&["--grid", path.to_str().unwrap()]);
        let from_flags = names(&[
            "--scenario",
            "sigmoid,relu",
            "--layers",
            "6,20",
            "--seeds",
            "2",
        ]);
        assert_eq!(from_file, from_flags);
        assert_eq!(
            from_file[..3],
            ["sigmoid/seed-1", "sigmoid/seed-2", "sigmoid-l20/seed-1"]
        );
        assert_eq!(from_file.len(), 8);

        std::fs::write(&path, "layers = 3\nsize = 4\n").unwrap();
        let a = parse(&["--grid", path.to_str().unwrap()]).unwrap();
        let err = error_message(&a.experiment().unwrap_err());
        assert!(
            err.contains(&format!("{}:2", path.display())) && err.contains("`size`"),
            "{err}"
        );
        std::fs::write(&path, "layers 3\n").unwrap();
        let err = error_message(&a.experiment().unwrap_err());
        assert!(err.contains(":1: expected `flag = value"), "{err}");
        let missing = dir.path().join("none.txt");
        let a = parse(&["--grid", missing.to_str().unwrap()]).unwrap();
        let err = error_message(&a.experiment().unwrap_err());
        assert!(err.contains("--grid") && err.contains("none.txt"), "{err}");
    }

    /// An error that says its source's words and also gives it as its
    /// source (the TensorBoard crate's) reads once; a context on top still
    /// leads.
    #[test]
    fn a_cause_the_message_already_says_is_not_repeated() {
        use gradscope_tensorboard::logdir::LoadError;
        let denied = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied here");
        let err = LoadError::Io {
            path: "/logs/run".into(),
            source: denied,
        };
        let err = anyhow::Error::new(err).context("reading the logdir");
        assert_eq!(
            error_message(&err),
            "reading the logdir: /logs/run: cannot read it: denied here"
        );
        // Causes that add something are all kept.
        let err = anyhow::anyhow!("inner").context("outer");
        assert_eq!(error_message(&err), "outer: inner");
    }

    #[test]
    fn recurrent_scenarios_mix_with_activations_and_take_their_defaults() {
        let a = parse(&["--scenario", "relu,lstm,gru,rnn"]).unwrap();
        let cells: Vec<Option<Cell>> = a
            .experiment()
            .unwrap()
            .grid
            .scenarios
            .iter()
            .map(|s| match *s {
                Scenario::Recurrent(cell) => Some(cell),
                Scenario::Mlp { .. } => None,
            })
            .collect();
        assert_eq!(
            cells,
            [None, Some(Cell::Lstm), Some(Cell::Gru), Some(Cell::Rnn)]
        );
        assert_eq!(
            names(&["--scenario", "relu,lstm,gru,rnn"]),
            ["relu", "lstm", "gru", "rnn"]
        );
        assert_eq!(
            names(&[
                "--scenario",
                "lstm,relu",
                "--sequence",
                "pixels14",
                "--forget-bias",
                "1",
                "--clip-norm",
                "0.5"
            ]),
            ["lstm-pixels14-fb1-clip0.5", "relu-clip0.5"]
        );
        assert_eq!(
            names(&["--scenario", "gru,tanh", "--hidden", "64"]),
            ["gru", "tanh-h64"]
        );
    }

    #[test]
    fn default_runs_keep_the_article_names() {
        assert_eq!(names(&[]), ["sigmoid", "relu", "leaky_relu"]);
    }

    #[test]
    fn names_say_what_differs() {
        assert_eq!(
            names(&["--scenario", "sigmoid,sigmoid-residual", "--layers", "20"]),
            ["sigmoid-l20", "sigmoid-residual-l20"]
        );
        assert_eq!(
            names(&[
                "--activation",
                "relu",
                "--init",
                "he-normal",
                "--lr",
                "0.01",
                "--seed",
                "7"
            ]),
            ["relu-he-normal-lr0.01-s7"]
        );
        assert_eq!(
            names(&["--scenario", "leaky_relu", "--leaky-slope", "0.01"]),
            ["leaky_relu-slope0.01"]
        );
    }
}
