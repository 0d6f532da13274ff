//! Write and read TensorBoard event files from any Rust program: the Rust
//! tensorboardX.
//!
//! The crate has no machine-learning dependency: give it numbers, it gives
//! TensorBoard files that the real TensorBoard reads (both of its loaders).
//!
//! # SummaryWriter
//!
//! [`SummaryWriter`] has tensorboardX's methods, each taking a tag, the data
//! and a step and returning a `Result` (bad input is a [`SummaryError`],
//! never a panic):
//!
//! | method | takes | dashboard |
//! |---|---|---|
//! | [`add_scalar`](SummaryWriter::add_scalar) | any primitive number ([`ScalarValue`]) | Scalars |
//! | [`add_scalars`](SummaryWriter::add_scalars) | `(name, number)` pairs: a slice, `Vec`, map or iterator ([`NamedScalar`]) | Scalars, and one Custom Scalars chart per group |
//! | [`add_histogram`](SummaryWriter::add_histogram) | a slice, `Vec`, array, range or iterator of numbers ([`HistogramValues`]) | Histograms, Distributions |
//! | [`add_histogram_raw`](SummaryWriter::add_histogram_raw) | buckets made by the caller ([`summary::RawHistogram`]) | Histograms, Distributions |
//! | [`add_image`](SummaryWriter::add_image), [`add_images`](SummaryWriter::add_images) | an [`image::Image`] (one, or a batch tiled into a grid) | Images |
//! | [`add_figure`](SummaryWriter::add_figure) | an RGB buffer, height then width | Images |
//! | [`add_audio`](SummaryWriter::add_audio) | mono samples in [-1, 1] and a sample rate | Audio |
//! | [`add_text`](SummaryWriter::add_text) | markdown | Text |
//! | [`add_pr_curve`](SummaryWriter::add_pr_curve), [`add_pr_curve_with_thresholds`](SummaryWriter::add_pr_curve_with_thresholds) | labels and predictions | PR Curves |
//! | [`add_pr_curve_raw`](SummaryWriter::add_pr_curve_raw) | counts made by the caller ([`pr_curve::PrCounts`]) | PR Curves |
//! | [`add_embedding`](SummaryWriter::add_embedding) | rows of a matrix, labels, sprites | Projector |
//! | [`add_custom_scalars`](SummaryWriter::add_custom_scalars) | a [`custom_scalars::Layout`] (no step) | Custom Scalars |
//! | [`add_hparams`](SummaryWriter::add_hparams) | [`hparams::HParams`] and `(name, number)` metrics (no step) | HParams |
//! | [`add_graph`](SummaryWriter::add_graph) | a [`graph::Graph`] (no step) | Graphs |
//! | [`add_batch`](SummaryWriter::add_batch) | a [`Batch`] of scalars, histograms and values of one step, written as one event | Scalars, Histograms, ... |
//! | [`add_event`](SummaryWriter::add_event) | any [`proto::Event`] | any |
//!
//! A step is any primitive integer ([`Step`]): a `usize` loop index or a
//! `u64` counter goes in without `as i64`, and one beyond `i64` (what event
//! files store) is an error naming the argument `step`, not a wrapped
//! number.
//!
//! ```
//! use gradscope_tensorboard::hparams::HParams;
//! use gradscope_tensorboard::image::Image;
//! use gradscope_tensorboard::SummaryWriter;
//!
//! let logdir = tempfile::tempdir()?;
//! let writer = SummaryWriter::new(logdir.path().join("run-1"))?;
//! let batches: Vec<Vec<f32>> = vec![vec![0.5, -0.1]; 100];
//! for (step, batch) in batches.iter().enumerate() {
//!     let loss = 1.0 / (step as f64 + 1.0);
//!     writer.add_scalar("loss", loss, step)?;
//!     writer.add_scalar("batch_size", batch.len(), step)?;
//!     writer.add_scalars("accuracy", &[("train", 1.0 - loss), ("test", 0.9 - loss)], step)?;
//! }
//! writer.add_histogram("weights", &[0.1f32, -0.2, 0.3], 99)?;
//! writer.add_histogram("batch", &batches[0], 99)?;
//! writer.add_image("noise", &Image::hwc(&[0u8, 255, 128, 64][..], 2, 2, 1), 99)?;
//! writer.add_text("notes", "*converged*", 99)?;
//! writer.add_hparams(&HParams::new().set("lr", 0.01).set("optimizer", "sgd"), &[("final_loss", 0.01)])?;
//! writer.close()?; // or drop it: the last handle flushes and closes
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Then `tensorboard --logdir <logdir>` shows the run `run-1`. The example
//! `examples/all_dashboards.rs` writes one of each kind
//! (`cargo run -p gradscope-tensorboard --example all_dashboards -- DIR`).
//!
//! Where it differs from tensorboardX: `add_scalars` writes its series as
//! tags `main/name` of the run itself (tensorboardX makes a run folder per
//! series) and adds a Custom Scalars chart that draws them together;
//! `add_hparams` writes into the run's own folder (no timestamped
//! subfolder) and puts runs in session groups ([`hparams::HParams`]).
//!
//! The records agree with tensorboardX 2.6.5's for the same inputs, wall
//! time aside: `tests/it/tensorboardx.rs` makes the same calls with both and
//! compares the event files record by record. Scalars, raw histograms and
//! the file-version event are the same bytes; so are the WAV file of
//! `add_audio`, the serialized custom-scalars layout and the text. By
//! design: plugin records also carry a `data_class` (TensorBoard's fast
//! loader files values by it); `add_text` keeps its tag (tensorboardX
//! appends `/text_summary`); `add_audio` writes the Audio plugin's tensor
//! form, not the older `audio` field; images are the same pixels in other
//! PNG bytes, a gray image staying one channel (tensorboardX makes it
//! RGB); `add_histogram` uses TensorFlow's edges as tensorboardX's
//! `bins="tensorflow"` does, but counts a value lying exactly on an edge
//! in the bucket below it (TensorFlow's rule, not numpy's).
//!
//! Left out: `add_video` (tensorboardX writes an animated GIF as an image:
//! that needs a GIF encoder, a dependency this crate avoids), `add_mesh`
//! (the Mesh plugin's three tensors and JSON camera config are not done
//! yet) and `add_onnx_graph` (needs ONNX parsing; [`graph::Graph`]
//! describes any model instead).
//!
//! # The parts
//!
//! - [`SummaryWriter`]: the API above, over one [`EventWriter`]; the
//!   sealed traits [`ScalarValue`], [`Step`], [`NamedScalar`],
//!   [`HistogramValue`] and [`HistogramValues`] say what its arguments take.
//! - [`SummaryWriterBuilder::background`]: the bucketing, PNG and protobuf
//!   encoding and writing of every call on one worker thread, in call order,
//!   behind a queue of a given capacity; a call finding it full waits. An
//!   `f32` slice travels in a buffer the thread hands back once bucketed,
//!   so a loop logging the same layers every step stops allocating.
//! - [`image`], [`audio`], [`pr_curve`], [`custom_scalars`],
//!   [`projector`]: pure builders for those dashboards' records and files.
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
//! - [`logdir`]: a logdir read back, from any writer (TF1, TF2, torch,
//!   tensorboardX, this crate): its runs, each run's tags with their
//!   [kind](logdir::Kind), each tag's `(step, wall_time, value)` points,
//!   and how reading each file ended (complete, cut short, failed).
//! - [`storage`]: where a logdir lives, a local folder or (with the
//!   `object-store` feature) a bucket prefix `s3://`, `gs://`, `az://`;
//!   the writers and the reader above take either. Without the feature a
//!   URL is refused, naming it and the feature.
//! - [`append_record`] and [`masked_crc32c`]: the TFRecord framing itself.
//! - [`proto`]: the protobuf types (TensorBoard's field numbers).
//!
//! # The event-file layer
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
mod background;
mod batch;
mod buffer_pool;
pub mod custom_scalars;
mod error;
pub mod graph;
pub mod histogram;
pub mod hparams;
pub mod image;
mod input;
pub mod logdir;
pub mod pr_curve;
pub mod projector;
pub mod proto;
mod reader;
mod record;
mod run_file;
pub mod storage;
pub mod summary;
mod summary_writer;
mod writer;

/// The README's example, compiled by `cargo test --doc`.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The protobuf runtime the [`proto`] types are built on: encode and decode
/// them with this version (`prost::Message`), whatever version the
/// application itself depends on.
pub use prost;
/// The protobuf well-known types the HParams records use
/// ([`proto::hparams`]'s values are `prost_types::Value`s).
pub use prost_types;

pub use batch::Batch;
pub use error::{SummaryError, WriteError};
pub use input::{HistogramValue, HistogramValues, NamedScalar, ScalarValue, Step};
pub use summary_writer::{SummaryWriter, SummaryWriterBuilder, DEFAULT_MAX_QUEUE};

pub use reader::{read_events, EventReader, ReadError, ReadEvents, MAX_RECORD_BYTES};
pub use record::{append_record, masked_crc32c, FRAMING_BYTES};
pub use writer::{EventWriter, FileOptions, FLUSH_INTERVAL};
