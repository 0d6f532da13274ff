//! gradscope trains small neural networks with candle and writes what happens
//! inside them as TensorBoard event files.
//!
//! This library is the binary's, and what its tests and benches reach; its
//! modules are private, and the items below are the whole surface. The
//! layers, from the command line down (docs/architecture.md has who may use
//! whom; `python3 ../shared/tools/module_cycles.py src` checks there are no
//! cycles):
//!
//! 1. `cli`: the flags (clap), their parsers and the errors in flag terms
//!    ([`Cli`], [`Command`], [`error_message`]).
//! 2. `experiment`: the plan of runs (the grid, its file, seeds, shards),
//!    trained one or several at once with the data loaded once, then the
//!    table, the seed groups' aggregates and REPORT.md ([`run_experiment`],
//!    [`aggregate`]).
//! 3. `train`: the one loop ([`train`]) over any `Network` (the MLP, the
//!    recurrent networks), the fused loss and Adam, and `RunLog`, which
//!    writes a run through `gradscope_tensorboard::SummaryWriter`; and
//!    `report`: `inspect`, `compare`, `plot`, `export` and REPORT.md, read
//!    through `gradscope_tensorboard::logdir`. Neither imports the other.
//! 4. `model` (the MLP's fused layers, activations, init, checkpoints, the
//!    recurrent cells), `data` (IDX files, batches, sequences), `stats`,
//!    `seeds`, [`tags`], `figure`, `table`, `markdown`, `time_profile`,
//!    `cpu`, `interrupt`, and `gradcheck`.
//!
//! Everything TensorBoard is the separate crate [`gradscope_tensorboard`];
//! the gradient statistics shared with its monitor for any candle model are
//! [`gradscope_candle`]'s.

mod cli;
mod cpu;
mod data;
mod experiment;
mod figure;
mod gradcheck;
mod interrupt;
mod markdown;
mod model;
mod report;
mod seeds;
mod stats;
mod table;
pub mod tags;
mod time_profile;
mod train;

// The binary: its flags, what each command runs, and how it stops.
pub use cli::{error_message, Cli, Command};
pub use experiment::{aggregate, run as run_experiment};
pub use gradcheck::run as gradcheck;
pub use interrupt::{install as install_signal_handlers, Interrupted};
pub use report::compare::{rows as comparison_rows, run as compare};
pub use report::export::run as export;
pub use report::inspect::run as inspect;
pub use report::plot::run as plot;

// Training one run, as the tests and benches drive it.
pub use stats::{mean_std, RunSummary};
pub use train::views::DIAGNOSE_EVERY;
pub use train::{build_model, forward_backward, train, Diverged, Engine, Scenario, TrainConfig};
pub use train::{clip::clip_grad_norm, loss::cross_entropy, Adam, AdamConfig, RecurrentConfig};
pub use train::{origin::Located, origin::Origin, origin::Pass, origin::Site};

// What those runs are made of.
pub use data::idx::{decode as decode_idx, encode as encode_idx, IMAGES_MAGIC, LABELS_MAGIC};
pub use data::{write_split, Batcher, Dataset, Split};
pub use model::{checkpoint, sequence_op::TimeGrads, Activation, Cell, Mlp};

/// The recurrent networks' pieces, for the tests that hold them to
/// PyTorch's.
pub mod recurrent {
    pub use crate::train::recurrent::{build_model, forward_backward, time_norms};
}
