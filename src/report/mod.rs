//! Reports on runs, in the terminal and on disk, without TensorBoard.
//!
//! Each starts from a [`gradscope_tensorboard::logdir::Logdir`] (a logdir's
//! runs, from any TensorBoard writer) and renders with [`crate::table`].
//!
//! - [`inspect`]: `gradscope inspect PATH`, what a logdir or file holds.
//! - [`compare`]: `gradscope compare LOGDIR`, the table built from a logdir.
//! - [`export`]: `gradscope export LOGDIR`, every point as CSV or JSON Lines.
//! - [`plot`]: `gradscope plot LOGDIR`, PNG figures under `LOGDIR/plots/`.
//! - [`seed_groups`]: seed groups' mean ± std and N, for `compare`,
//!   REPORT.md and the end of training.
//! - [`report_md`]: `LOGDIR/REPORT.md`, written at the end of `--scenario all`.

pub mod compare;
pub mod export;
pub mod inspect;
pub mod plot;
pub mod report_md;
pub mod seed_groups;

use gradscope_tensorboard::logdir::{EventFile, FileStatus};

/// A one-line warning or error for a damaged file, as the commands print
/// it and REPORT.md lists it; `None` when it was read to its end.
pub fn problem(file: &EventFile) -> Option<String> {
    let path = file.path.display();
    match &file.status {
        FileStatus::Complete => None,
        FileStatus::Truncated { offset } => Some(format!(
            "warning: {path}: the last record (at byte offset {offset}) is cut short, as a \
             writer that stopped mid-record leaves it; read the {} events before it",
            file.events
        )),
        // The reason names the file and the record's offset.
        FileStatus::Failed { reason, .. } => Some(format!("error: {reason}")),
        // A status this version does not know: say so rather than nothing.
        other => Some(format!("warning: {path}: not fully read ({other:?})")),
    }
}
