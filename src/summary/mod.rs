//! TensorBoard summaries: building them, framing them, writing and reading
//! event files.
//!
//! - [`builders`]: pure functions from values to `Summary`/`Event` messages.
//! - [`text`], [`hparams`], [`graph`]: the same for the Text, HParams and
//!   Graphs dashboards (markdown, hyperparameter records, a `GraphDef`).
//! - [`histogram`]: TensorFlow's default histogram buckets.
//! - [`record`]: TFRecord framing (length, masked CRC-32C).
//! - [`writer`]: [`EventWriter`], the buffered, periodically flushed file.
//! - [`reader`]: reading records back, verifying CRCs.

pub mod builders;
pub mod graph;
pub mod histogram;
pub mod hparams;
pub mod reader;
pub mod record;
pub mod text;
pub mod writer;

pub use reader::{read_events, ReadEvents};
pub use writer::{EventWriter, WriteError};
