//! The integration tests: one binary (`cargo test --test it`), one module per
//! area, sharing [`helpers`]. Run one area with `cargo test --test it AREA`,
//! e.g. `cargo test --release --test it faults`.
//!
//! Most tests drive the real binary end to end on small synthetic data sets
//! they write for themselves. Those that need Python (TensorBoard, PyTorch)
//! or the MNIST digits skip with a message when these are missing, unless
//! GRADSCOPE_PYTHON / GRADSCOPE_REQUIRE_MNIST say they must be there
//! (`scripts/test.sh` sets both).

mod helpers;

/// `--save` and `--init-from`.
mod checkpoint;
/// The binary on bad input and its printed output.
mod cli;
/// The library crates used from outside the workspace; their dependencies.
mod crates;
/// Deep and residual networks.
mod deep;
/// Where a divergence began: injected forward and backward overflows.
mod divergence;
/// `export`: points as CSV and JSON Lines, read back by pandas.
mod export;
/// Signals, `kill -9`, file-size limits and concurrent runs.
mod faults;
/// The fuzz targets' checks over seeds, regressions and mutations.
mod fuzz_inputs;
/// `gradscope gradcheck`: the fused ops' backward passes.
mod gradcheck;
/// The experiment's result on real MNIST digits.
mod mnist_experiment;
/// The gradient monitor, by hand and on the candle-nn examples.
mod monitor;
/// Logdirs in object storage (moto's S3 server); refused without the feature.
mod object_store;
/// Gradients and the Adam step against PyTorch.
mod pytorch;
/// Recurrent runs: every tag and the figure in TensorBoard, bad input.
mod recurrent;
/// `inspect`, `compare`, `plot` and REPORT.md.
mod report;
/// Checkpoints, `--resume` after SIGKILL and SIGTERM, bit for bit.
mod resume;
/// Seeds, grids, `--jobs` and `--shard` (through GNU parallel).
mod sweeps;
/// TensorBoard's own loader reads what we write.
mod tensorboard;
/// TensorBoard's own server serves every dashboard.
mod tensorboard_server;
/// Training runs through the library: loss, tags, determinism.
mod training;
/// The views of gradient flow: Custom Scalars, per-layer diagnostics, images.
mod views;
