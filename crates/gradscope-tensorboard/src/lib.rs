//! Write and read TensorBoard event files from any Rust program.
//!
//! The crate has no machine-learning dependency: give it numbers, it gives
//! TensorBoard files that the real TensorBoard reads (both of its loaders).
//!
//! The parts:
//!
//! - [`summary`]: pure builders from values to protobuf messages: scalars,
//!   histograms, text (markdown), and the [`summary_event`](summary::summary_event)
//!   that carries them at a step. They touch no file.
//! - [`histogram`]: TensorFlow's default histogram buckets, NaN and infinite
//!   values left out and counted.
//! - [`hparams`]: the HParams dashboard's experiment and session records.
//! - [`graph`]: a small, model-agnostic graph builder for the Graphs
//!   dashboard.
//! - [`EventWriter`]: one event file, buffered and flushed in the
//!   background at least once per [`FLUSH_INTERVAL`]; it never truncates an
//!   existing file and reports every I/O failure as a [`WriteError`] naming
//!   the path.
//! - [`EventReader`] and [`read_events`]: reading files back (from any
//!   TensorBoard writer) with both CRCs checked; a cut-short last record is
//!   reported, not an error.
//! - [`append_record`] and [`masked_crc32c`]: the TFRecord framing itself.
//! - [`proto`]: the protobuf types (TensorBoard's field numbers).
//!
//! # Example
//!
//! ```
//! use gradscope_tensorboard::summary::{histogram, scalar, summary_event, text, wall_time_now};
//! use gradscope_tensorboard::{read_events, EventWriter};
//!
//! let logdir = tempfile::tempdir()?;
//! let mut writer = EventWriter::create(&logdir.path().join("run-1"))?;
//! for step in 0..3 {
//!     let loss = 1.0 / (step as f32 + 1.0);
//!     let (weights, non_finite) = histogram("weights", &[0.1, -0.2, f32::NAN]);
//!     assert_eq!(non_finite, 1); // the NaN is left out, and counted
//!     let values = vec![scalar("loss", loss), weights];
//!     writer.write_event(&summary_event(step, wall_time_now(), values))?;
//! }
//! writer.write_event(&summary_event(3, wall_time_now(), vec![text("notes", "**done**")]))?;
//! let path = writer.path().to_path_buf();
//! writer.close()?;
//!
//! // The file-version event, then the four we wrote.
//! let read = read_events(&path)?;
//! assert_eq!(read.events.len(), 5);
//! assert_eq!(read.events[4].step, 3);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Then `tensorboard --logdir <logdir>` shows the run `run-1`.

#![warn(missing_docs)]

pub mod audio;
pub mod custom_scalars;
mod error;
pub mod graph;
pub mod histogram;
pub mod hparams;
pub mod image;
pub mod pr_curve;
pub mod projector;
pub mod proto;
mod reader;
mod record;
pub mod summary;
mod summary_writer;
mod writer;

pub use error::SummaryError;
pub use summary_writer::{HistogramValue, SummaryWriter, SummaryWriterBuilder, DEFAULT_MAX_QUEUE};

pub use reader::{read_events, EventReader, ReadError, ReadEvents, MAX_RECORD_BYTES};
pub use record::{append_record, masked_crc32c, FRAMING_BYTES};
pub use writer::{EventWriter, FileOptions, WriteError, FLUSH_INTERVAL};
