//! The gradient flow of any [candle](https://github.com/huggingface/candle)
//! model, in TensorBoard.
//!
//! Hand a [`GradMonitor`] each step's `GradStore` between `backward()` and
//! the optimizer, and it writes, for every parameter of your `VarMap`, the
//! gradient's mean and largest |value| and norm, gradient and weight
//! histograms, the optimizer step's size relative to the weights, NaN and
//! infinity counts, and per layer group the mean |grad| on one chart: where
//! in the network the gradient vanishes or explodes. The files open in the
//! real TensorBoard; they are written by [`gradscope_tensorboard`].
//!
//! ```
//! use candle_core::{DType, Device, Module, Tensor};
//! use candle_nn::{linear, AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
//! use gradscope_candle::GradMonitor;
//! use gradscope_tensorboard::SummaryWriter;
//!
//! # let dir = tempfile::tempdir()?;
//! # let logdir = dir.path().join("my-model");
//! let varmap = VarMap::new();
//! let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
//! let (fc1, fc2) = (linear(4, 8, vb.pp("fc1"))?, linear(8, 2, vb.pp("fc2"))?);
//! let mut optimizer = AdamW::new(varmap.all_vars(), ParamsAdamW::default())?;
//! let mut monitor = GradMonitor::new(&varmap, SummaryWriter::new(logdir)?)?.log_every(10);
//!
//! let x = Tensor::randn(0f32, 1.0, (16, 4), &Device::Cpu)?;
//! for step in 0..30 {
//!     let loss = fc2.forward(&fc1.forward(&x)?.relu()?)?.sqr()?.mean_all()?;
//!     let grads = loss.backward()?;
//!     monitor.observe(step, &grads)?; // the one line the loop gains
//!     optimizer.step(&grads)?;
//! }
//! monitor.close()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Then `tensorboard --logdir <logdir>`: Scalars shows `grad_mean_abs/fc1.weight`
//! and the rest one section per kind, Custom Scalars every layer group's
//! gradient on one chart.
//!
//! # The parts
//!
//! - [`GradMonitor`] and [`MonitorError`]: the monitor ([`monitor`] lists
//!   what it writes).
//! - [`stats`]: the statistics themselves (mean |grad|, a tensor's
//!   [`TensorStats`](stats::TensorStats), attenuation, the update ratio,
//!   the step's cosine with the gradient),
//!   defined once for the monitor and gradscope's trainer.
//! - [`connectivity()`] and [`Connectivity`]: which parameters a backward
//!   pass did not reach (candle-nn's no-backward ops), or gave zero or
//!   non-finite gradients; the monitor checks it at its first step.
//! - [`gradcheck()`]: autograd against finite differences for any loss
//!   over a `VarMap`, for checking `CustomOp` backward passes.
//! - [`magnitude`]: the log10 |grad| histogram, so that gradients decades
//!   apart show decades apart in TensorBoard.
//! - [`units`]: dead and saturated units of a hidden layer on a batch.
//! - [`diagnosis`]: a model's gradient flow in words (vanishing, exploding,
//!   dead or saturated layers), with its thresholds.
//! - [`layout`]: the Custom Scalars charts of gradient flow.
//! - [`tags`]: the tag names the monitor writes.
//!
//! The examples train real models with it on MNIST:
//! `cargo run --release -p gradscope-candle --example candle_mlp -- --activation sigmoid`
//! (the vanishing-gradient experiment in candle-nn) and `--example candle_cnn`.

#![warn(missing_docs)]

pub mod connectivity;
pub mod diagnosis;
pub mod gradcheck;
pub mod layout;
pub mod magnitude;
pub mod monitor;
pub mod stats;
pub mod tags;
pub mod units;

pub use connectivity::{connectivity, Connectivity};
pub use gradcheck::{gradcheck, GradcheckError, GradcheckOptions, GradcheckReport};
pub use monitor::{GradMonitor, MonitorError};
