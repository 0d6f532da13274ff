//! Reports on runs, in the terminal and on disk, without TensorBoard.
//!
//! - [`logdir`]: finds a logdir's runs and loads their event files (any
//!   TensorBoard writer) into tags and points; everything below starts here.
//! - [`run_writer`]: a run's event file as this process writes it, with
//!   the [`logdir::Run`] it holds, so REPORT.md need not read it back.
//! - [`table`]: the comparison table (one row per run) as text, CSV or
//!   markdown; also the table printed at the end of training.
//! - [`inspect`]: `gradscope inspect PATH`, what a logdir or file holds.
//! - [`compare`]: `gradscope compare LOGDIR`, the table built from a logdir.
//! - [`plot`]: `gradscope plot LOGDIR`, PNG figures under `LOGDIR/plots/`.
//! - [`markdown`]: `LOGDIR/REPORT.md`, written at the end of `--scenario all`.

pub mod compare;
pub mod inspect;
pub mod logdir;
pub mod markdown;
pub mod plot;
pub mod run_writer;
pub mod table;

pub use table::{times, vanishing_markdown, vanishing_table, Format};
