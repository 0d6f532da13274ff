//! gradscope trains small neural networks with candle and writes what happens
//! inside them as TensorBoard event files.
//!
//! The modules, from the command line down (docs/architecture.md has the
//! layers and what each may use):
//!
//! - [`cli`]: the flags (clap), and the only place that names them.
//! - [`experiment`]: loads the data once, trains each scenario into its own
//!   run folder, prints the table, writes REPORT.md.
//! - [`train`]: the training loop (forward, loss, one backward pass, Adam),
//!   the fused loss and optimizer, and [`train::RunLog`], which owns a run's
//!   logging from its first event to its end, through a
//!   [`train::RunWriter`] that records the run as it writes it, so the
//!   report need not read back what was just written.
//! - [`report`]: reading a logdir back without TensorBoard: `inspect`,
//!   `compare`, `plot` and REPORT.md.
//! - [`model`]: the MLP (plain structs and `forward`), each layer one fused
//!   candle op, the activations, initialisation schemes, safetensors
//!   checkpoints, and the network as a TensorBoard graph.
//! - [`gradcheck`]: `gradscope gradcheck`, the fused ops' backward passes
//!   against finite differences.
//! - [`data`]: MNIST-style IDX files and seeded batches.
//! - [`seeds`]: seed groups (`<run>/seed-<k>`) and their aggregate run
//!   (`<run>/mean`: mean and standard deviation across seeds).
//! - [`stats`]: a finished run's [`stats::RunSummary`], and the statistics
//!   across seeds and through time; the gradient statistics themselves
//!   (mean |grad|, attenuation, the update ratio, dead and saturated units,
//!   the diagnosis in words) are [`gradscope_candle`]'s, shared with its
//!   `GradMonitor` for any candle model.
//! - [`tags`]: every tag name, written by `train` and read by `report`.
//! - [`time_profile`]: a recurrent run's gradient through time: what is
//!   logged of it, and its figure.
//! - [`table`]: the comparison table, as text, CSV or markdown.
//! - [`figure`]: drawing figures into memory (the font, log ranges, the
//!   gradient-flow bar chart), for the report's PNGs and a run's images.
//! - [`markdown`]: markdown tables, for the Text dashboard and the reports.
//! - [`cpu`]: tensor data borrowed on the CPU, for the fused ops.
//! - [`interrupt`]: Ctrl-C, SIGTERM and SIGPIPE, checked once per iteration.
//!
//! Everything TensorBoard (the schema, framing, the event writer, summary
//! builders, the event-file reader and the logdir reader the reports start
//! from, [`gradscope_tensorboard::logdir`]) is the separate crate
//! [`gradscope_tensorboard`], which any Rust program can use without candle;
//! the gradient view of any candle model is [`gradscope_candle`], built on
//! it.

pub mod cli;
pub mod cpu;
pub mod data;
pub mod experiment;
pub mod figure;
pub mod gradcheck;
pub mod interrupt;
pub mod markdown;
pub mod model;
pub mod report;
pub mod seeds;
pub mod stats;
pub mod table;
pub mod tags;
pub mod time_profile;
pub mod train;
