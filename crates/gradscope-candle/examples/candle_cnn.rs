//! A small convnet on MNIST (two `candle_nn::conv2d` layers with max
//! pooling, a linear head), trained with AdamW and a [`GradMonitor`] that
//! logs every conv and linear parameter's gradient flow to TensorBoard.
//!
//! ```sh
//! cargo run --release -p gradscope-candle --example candle_cnn
//! tensorboard --logdir logs/candle_cnn
//! ```
//!
//! `--no-monitor` trains without it, for measuring what it costs.

use std::path::PathBuf;
use std::time::Instant;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{
    conv2d, linear, AdamW, Conv2d, Linear, Optimizer, ParamsAdamW, VarBuilder, VarMap,
};
use clap::Parser;
use gradscope_candle::GradMonitor;
use gradscope_tensorboard::SummaryWriter;

mod mnist;
pub use mnist::Activation;
use mnist::{Batches, Result};

#[derive(Parser)]
pub struct Args {
    /// The folder with MNIST's four IDX files.
    #[arg(long, default_value = "data/mnist")]
    pub data_dir: PathBuf,
    #[arg(long, default_value = "logs/candle_cnn")]
    pub logdir: PathBuf,
    #[arg(long, default_value_t = 2000)]
    pub iterations: usize,
    #[arg(long, default_value_t = 100)]
    pub log_every: usize,
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// After each convolution: sigmoid, relu, leaky_relu or tanh.
    #[arg(long, default_value = "relu")]
    pub activation: Activation,
    /// Train without the gradient monitor (to time what it costs).
    #[arg(long)]
    pub no_monitor: bool,
}

struct ConvNet {
    conv1: Conv2d,
    conv2: Conv2d,
    fc: Linear,
    activation: Activation,
}

impl ConvNet {
    fn new(vb: VarBuilder, activation: Activation) -> candle_core::Result<ConvNet> {
        let config = Default::default();
        Ok(ConvNet {
            conv1: conv2d(1, 8, 5, config, vb.pp("conv1"))?,
            conv2: conv2d(8, 16, 5, config, vb.pp("conv2"))?,
            fc: linear(16 * 4 * 4, 10, vb.pp("fc"))?,
            activation,
        })
    }
}

impl Module for ConvNet {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let batch = x.dim(0)?;
        let x = x.reshape((batch, 1, 28, 28))?;
        let x = self.conv1.forward(&x)?.max_pool2d(2)?; // 8 x 12 x 12
        let x = self
            .conv2
            .forward(&self.activation.apply(&x)?)?
            .max_pool2d(2)?; // 16 x 4 x 4
        self.fc
            .forward(&self.activation.apply(&x)?.flatten_from(1)?)
    }
}

fn main() -> Result<()> {
    let outcome = run(Args::parse())?;
    println!("{outcome}");
    Ok(())
}

/// Trains as `args` say; what the run ended with.
pub fn run(args: Args) -> Result<Outcome> {
    let device = Device::Cpu;
    let (train, test) = mnist::load(&args.data_dir)?;
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
    let net = ConvNet::new(vb, args.activation)?;
    let mut optimizer = AdamW::new(varmap.all_vars(), ParamsAdamW::default())?;
    let writer = SummaryWriter::new(&args.logdir)?;
    let mut monitor = match args.no_monitor {
        true => None,
        false => Some(GradMonitor::new(&varmap, writer.clone())?.log_every(args.log_every)),
    };

    let mut batches = Batches::new(train.len(), args.batch_size, 1);
    let started = Instant::now();
    for step in 0..args.iterations {
        let (x, y) = batches.next(&train, &device)?;
        let loss = candle_nn::loss::cross_entropy(&net.forward(&x)?, &y)?;
        let grads = loss.backward()?;
        if let Some(monitor) = &mut monitor {
            monitor.observe(step, &grads)?;
        }
        optimizer.step(&grads)?;
        if step % args.log_every == 0 {
            writer.add_scalar("loss", loss.to_scalar::<f32>()?, step)?;
        }
    }
    let per_step = started.elapsed().as_secs_f64() / args.iterations.max(1) as f64;
    let test_acc = mnist::accuracy(&net, &test, &device)?;
    writer.add_scalar("test_acc", test_acc, args.iterations)?;
    match monitor {
        Some(monitor) => monitor.close()?,
        None => writer.close()?,
    }
    Ok(Outcome {
        test_acc,
        steps: args.iterations,
        per_step,
    })
}

/// What a run ended with.
pub struct Outcome {
    pub test_acc: f32,
    pub steps: usize,
    /// Seconds a training step took (the monitor's share included).
    pub per_step: f64,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "test accuracy {:.2}% after {} steps, {:.0} µs a step",
            self.test_acc * 100.0,
            self.steps,
            self.per_step * 1e6
        )
    }
}
