//! Reports on runs, in the terminal and on disk, without TensorBoard.
//!
//! Each starts from a [`crate::logdir::Logdir`] (a logdir's runs, from any
//! TensorBoard writer) and renders with [`crate::table`].
//!
//! - [`inspect`]: `gradscope inspect PATH`, what a logdir or file holds.
//! - [`compare`]: `gradscope compare LOGDIR`, the table built from a logdir.
//! - [`plot`]: `gradscope plot LOGDIR`, PNG figures under `LOGDIR/plots/`.
//! - [`seed_groups`]: seed groups' mean ± std and N, for `compare`,
//!   REPORT.md and the end of training.
//! - [`markdown`]: `LOGDIR/REPORT.md`, written at the end of `--scenario all`.

pub mod compare;
pub mod inspect;
pub mod markdown;
pub mod plot;
pub mod seed_groups;
