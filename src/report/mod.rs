//! Reports on runs, in the terminal and on disk, without TensorBoard.
//!
//! Each starts from a [`crate::logdir::Logdir`] (a logdir's runs, from any
//! TensorBoard writer) and renders with [`crate::table`].
//!
//! - [`inspect`]: `gradscope inspect PATH`, what a logdir or file holds.
//! - [`compare`]: `gradscope compare LOGDIR`, the table built from a logdir.
//! - [`plot`]: `gradscope plot LOGDIR`, PNG figures under `LOGDIR/plots/`.
//! - [`markdown`]: `LOGDIR/REPORT.md`, written at the end of `--scenario all`.

pub mod compare;
pub mod inspect;
pub mod markdown;
pub mod plot;
