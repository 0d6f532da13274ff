//! A small convnet on MNIST (two `candle_nn::conv2d` layers with max
//! pooling, a linear head), trained with AdamW and a [`GradMonitor`] that
//! logs every conv and linear parameter's gradient flow to TensorBoard.
//!
//! ```sh
//! cargo run --release --example candle_cnn
//! tensorboard --logdir logs/candle_cnn
//! ```
//!
//! `--no-monitor` trains without it, for measuring what it costs.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{
    conv2d, linear, AdamW, Conv2d, Linear, Optimizer, ParamsAdamW, VarBuilder, VarMap,
};
use clap::Parser;
use gradscope::data::{Batcher, Dataset, Split};
use gradscope::monitor::GradMonitor;
use gradscope_tensorboard::SummaryWriter;

#[derive(Parser)]
pub struct Args {
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
    /// Train without the gradient monitor (to time what it costs).
    #[arg(long)]
    pub no_monitor: bool,
}

struct ConvNet {
    conv1: Conv2d,
    conv2: Conv2d,
    fc: Linear,
}

impl ConvNet {
    fn new(vb: VarBuilder) -> candle_core::Result<ConvNet> {
        let config = Default::default();
        Ok(ConvNet {
            conv1: conv2d(1, 8, 5, config, vb.pp("conv1"))?,
            conv2: conv2d(8, 16, 5, config, vb.pp("conv2"))?,
            fc: linear(16 * 4 * 4, 10, vb.pp("fc"))?,
        })
    }
}

impl Module for ConvNet {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let batch = x.dim(0)?;
        let x = x.reshape((batch, 1, 28, 28))?;
        let x = self.conv1.forward(&x)?.max_pool2d(2)?.relu()?; // 8 x 12 x 12
        let x = self.conv2.forward(&x)?.max_pool2d(2)?.relu()?; // 16 x 4 x 4
        self.fc.forward(&x.flatten_from(1)?)
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
    let data = Dataset::load(&args.data_dir)?;
    anyhow::ensure!(
        (data.train.rows, data.train.cols) == (28, 28),
        "{}: this convnet takes 28x28 images",
        args.data_dir.display()
    );
    let varmap = VarMap::new();
    let net = ConvNet::new(VarBuilder::from_varmap(&varmap, DType::F32, &device))?;
    let mut optimizer = AdamW::new(varmap.all_vars(), ParamsAdamW::default())?;
    let writer = SummaryWriter::new(&args.logdir)?;
    let mut monitor = match args.no_monitor {
        true => None,
        false => Some(GradMonitor::new(&varmap, writer.clone())?.log_every(args.log_every)),
    };

    let mut batches = Batcher::shuffled(data.train.len(), args.batch_size, 1);
    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    let started = Instant::now();
    for step in 0..args.iterations {
        batches.next_batch(&data.train, &mut pixels, &mut labels);
        let x = Tensor::from_slice(&pixels, (labels.len(), 784), &device)?;
        let y = Tensor::from_slice(&labels, labels.len(), &device)?;
        let loss = candle_nn::loss::cross_entropy(&net.forward(&x)?, &y)?;
        let grads = loss.backward()?;
        if let Some(monitor) = &mut monitor {
            monitor.observe(step as i64, &grads)?;
        }
        optimizer.step(&grads)?;
        if step % args.log_every == 0 {
            writer.add_scalar("loss", loss.to_scalar::<f32>()?, step as i64)?;
        }
    }
    let per_step = started.elapsed().as_secs_f64() / args.iterations.max(1) as f64;
    let test_acc = accuracy(&net, &data.test, &device)?;
    writer.add_scalar("test_acc", test_acc, args.iterations as i64)?;
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

/// The fraction of `split` whose largest logit is the label, in chunks.
fn accuracy(net: &impl Module, split: &Split, device: &Device) -> Result<f32> {
    let mut right = 0;
    for (images, labels) in (split.pixels.chunks(1000 * 784)).zip(split.labels.chunks(1000)) {
        let mut pixels = Vec::new();
        gradscope::data::extend_scaled(&mut pixels, images);
        let x = Tensor::from_vec(pixels, (labels.len(), 784), device)?;
        let predicted = net.forward(&x)?.argmax(1)?.to_vec1::<u32>()?;
        right += (predicted.iter().zip(labels))
            .filter(|(p, l)| **p == u32::from(**l))
            .count();
    }
    Ok(right as f32 / split.len().max(1) as f32)
}
