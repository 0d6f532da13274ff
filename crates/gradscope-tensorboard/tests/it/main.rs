//! The crate's integration tests, one binary: what `SummaryWriter` writes,
//! read back by the real TensorBoard and compared with tensorboardX.
//! `tests/generated_proto.rs` stays apart, as the one test the published
//! crate carries.
//!
//! - `background`: the background mode writes what the sync mode writes;
//! - `dashboards`: every kind served back by TensorBoard's server, with
//!   both loaders;
//! - `purge`: `purge_step` through TensorBoard's loader and our reader;
//! - `tensorboardx`: the same calls made with tensorboardX 2.6.5, compared
//!   record by record.
//!
//! `cargo test -p gradscope-tensorboard --test it AREA` runs one of them.

mod helpers;

mod background;
mod dashboards;
mod purge;
mod tensorboardx;
