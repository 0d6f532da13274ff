//! gradscope trains small neural networks with candle and writes what happens
//! inside them as TensorBoard event files.
//!
//! How the parts fit, from the command line down:
//!
//! - [`cli`]: the flags (clap).
//! - [`experiment`]: loads the data once, runs each scenario, prints the
//!   table, writes REPORT.md.
//! - [`data`]: MNIST-style IDX files ([`data::idx`]) and seeded batches
//!   ([`data::batches`]).
//! - [`model`]: the MLP (plain structs and `forward`), each layer one fused
//!   candle op ([`model::dense`]), the activations, initialisation schemes,
//!   safetensors checkpoints.
//! - [`train`]: the training loop (forward, loss, one backward pass, Adam),
//!   the fused loss and optimizer, the gradient statistics it logs
//!   ([`train::stats`]) and the thread that turns them into summaries
//!   ([`train::summarizer`]).
//! - [`summary`]: TensorBoard's side: summary builders (pure), histogram
//!   buckets, TFRecord framing, the [`summary::EventWriter`] and a reader.
//! - [`report`]: the comparison table, and the subcommands that read a
//!   logdir back (`inspect`, `compare`, `plot`) and write REPORT.md. Training
//!   writes each run through a [`report::run_writer::RunWriter`], which keeps
//!   the run as REPORT.md would read it, so the report need not read back
//!   what was just written.
//! - [`markdown`]: markdown tables, shared by the Text dashboard and the reports.
//! - [`cpu`]: tensor data borrowed on the CPU, for the fused ops and the
//!   training loop's reads of gradients and weights.
//! - [`interrupt`]: Ctrl-C and SIGTERM, checked once per training iteration.
//! - [`proto`]: the protobuf types generated from `proto/*.proto`.

pub mod cli;
pub mod cpu;
pub mod data;
pub mod experiment;
pub mod interrupt;
pub mod markdown;
pub mod model;
pub mod proto;
pub mod report;
pub mod summary;
pub mod train;
