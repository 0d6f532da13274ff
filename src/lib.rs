//! gradscope trains small neural networks with candle and writes what happens
//! inside them as TensorBoard event files.
//!
//! The modules, from the command line down; each uses only those below it:
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
//! - [`data`]: MNIST-style IDX files and seeded batches.
//! - [`monitor`]: [`monitor::GradMonitor`], the gradient flow of any candle
//!   model (a `VarMap`) in TensorBoard, in one call per step.
//! - [`seeds`]: seed groups (`<run>/seed-<k>`) and their aggregate run
//!   (`<run>/mean`: mean and standard deviation across seeds).
//! - [`stats`]: the gradient statistics both sides compute (mean |grad|,
//!   attenuation) and a finished run's [`stats::RunSummary`].
//! - [`diagnostics`]: per-layer diagnostics of a logged step (dead and
//!   saturated units, the update ratio, a host forward pass for the
//!   activations), defined once.
//! - [`diagnosis`]: a run's gradient flow in words (vanishing, exploding,
//!   dead or saturated layers), with its thresholds.
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
//! [`gradscope_tensorboard`], which any Rust program can use without candle.

pub mod cli;
pub mod cpu;
pub mod data;
pub mod diagnosis;
pub mod diagnostics;
pub mod experiment;
pub mod figure;
pub mod interrupt;
pub mod markdown;
pub mod model;
pub mod monitor;
pub mod report;
pub mod seeds;
pub mod stats;
pub mod table;
pub mod tags;
pub mod time_profile;
pub mod train;
