//! The article's network as a plain candle-nn model (`candle_nn::Linear`
//! layers, `candle_nn::AdamW` without weight decay), trained on MNIST with a
//! [`GradMonitor`] logging its gradient flow to TensorBoard.
//!
//! ```sh
//! cargo run --release --example candle_mlp -- --activation sigmoid
//! cargo run --release --example candle_mlp -- --activation relu
//! tensorboard --logdir logs/candle_mlp
//! ```
//!
//! It starts from the weights the trainer (`gradscope --seed 1`) starts
//! from, so its `group_grad_mean_abs/layerN` curves show the vanishing
//! the trainer's `mean_N` show.

use std::path::PathBuf;

use anyhow::Result;
use candle_core::{DType, Device, Module, Tensor, Var};
use candle_nn::{linear, AdamW, Linear, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use clap::Parser;
use gradscope::data::{Batcher, Dataset, Split, CLASSES};
use gradscope::model::{Activation, ActivationFn, Architecture, Init, Mlp, Shape};
use gradscope::monitor::GradMonitor;
use gradscope_tensorboard::SummaryWriter;

#[derive(Parser)]
pub struct Args {
    #[arg(long, default_value = "data/mnist")]
    pub data_dir: PathBuf,
    /// The run goes to LOGDIR/ACTIVATION.
    #[arg(long, default_value = "logs/candle_mlp")]
    pub logdir: PathBuf,
    #[arg(long, default_value_t = 2500)]
    pub iterations: usize,
    #[arg(long, default_value_t = 200)]
    pub log_every: usize,
    #[arg(long, default_value = "sigmoid")]
    pub activation: Activation,
    #[arg(long, default_value_t = 6)]
    pub layers: usize,
    #[arg(long, default_value_t = 10)]
    pub hidden: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

struct Net {
    layers: Vec<Linear>,
    activation: Activation,
}

impl Module for Net {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (last, hidden) = self.layers.split_last().expect("at least one layer");
        let mut h = x.clone();
        for layer in hidden {
            h = activate(&layer.forward(&h)?, self.activation)?;
        }
        last.forward(&h)
    }
}

fn activate(x: &Tensor, activation: Activation) -> candle_core::Result<Tensor> {
    match activation {
        Activation::Sigmoid => candle_nn::ops::sigmoid(x),
        Activation::Relu => x.relu(),
        Activation::LeakyRelu => candle_nn::ops::leaky_relu(x, 0.2),
        Activation::Tanh => x.tanh(),
        other => {
            candle_core::bail!("this example has sigmoid, relu, leaky_relu, tanh; not {other}")
        }
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
    let inputs = data.train.image_size();

    // The trainer's Glorot-uniform start for this seed, as `layerN.weight`
    // (out, in) and `layerN.bias`, which `linear` then picks up.
    let varmap = VarMap::new();
    let shape = Shape {
        inputs,
        hidden: args.hidden,
        outputs: CLASSES,
        layers: args.layers,
    };
    let arch = Architecture {
        shape,
        activation: ActivationFn::new(args.activation, 0.2),
        residual: false,
    };
    let start = Mlp::new(arch, Init::GlorotUniform, args.seed, &device)?;
    for (i, layer) in start.layers.iter().enumerate() {
        let mut vars = varmap.data().lock().expect("not poisoned");
        let kernel = layer.kernel.as_tensor().t()?.contiguous()?;
        vars.insert(format!("layer{}.weight", i + 1), Var::from_tensor(&kernel)?);
        vars.insert(
            format!("layer{}.bias", i + 1),
            Var::from_tensor(layer.bias.as_tensor())?,
        );
    }
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
    let layers = (shape.layer_sizes().into_iter().enumerate())
        .map(|(i, (fan_in, fan_out))| linear(fan_in, fan_out, vb.pp(format!("layer{}", i + 1))))
        .collect::<candle_core::Result<_>>()?;
    let net = Net {
        layers,
        activation: args.activation,
    };
    let params = ParamsAdamW {
        weight_decay: 0.0,
        ..ParamsAdamW::default()
    };
    let mut optimizer = AdamW::new(varmap.all_vars(), params)?;

    let writer = SummaryWriter::new(args.logdir.join(args.activation.name()))?;
    let mut monitor = GradMonitor::new(&varmap, writer.clone())?.log_every(args.log_every);
    let mut batches = Batcher::shuffled(data.train.len(), 30, args.seed);
    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    for step in 0..args.iterations {
        batches.next_batch(&data.train, &mut pixels, &mut labels);
        let x = Tensor::from_slice(&pixels, (labels.len(), inputs), &device)?;
        let y = Tensor::from_slice(&labels, labels.len(), &device)?;
        let loss = candle_nn::loss::cross_entropy(&net.forward(&x)?, &y)?;
        let grads = loss.backward()?;
        monitor.observe(step as i64, &grads)?;
        optimizer.step(&grads)?;
        if step % args.log_every == 0 {
            writer.add_scalar("loss", loss.to_scalar::<f32>()?, step as i64)?;
        }
    }
    let test_acc = accuracy(&net, &data.test, &device)?;
    writer.add_scalar("test_acc", test_acc, args.iterations as i64)?;
    let outcome = Outcome {
        activation: args.activation,
        test_acc,
        mean_grad: monitor.group_averages(),
    };
    monitor.close()?;
    Ok(outcome)
}

/// What a run ended with.
pub struct Outcome {
    pub activation: Activation,
    pub test_acc: f32,
    /// Each layer's mean |grad| (kernel and bias) over the logged steps.
    pub mean_grad: Vec<f64>,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let by_layer: Vec<String> = self.mean_grad.iter().map(|g| format!("{g:.2e}")).collect();
        write!(
            f,
            "{}: test accuracy {:.2}%, mean |grad| by layer {}, attenuation {:.1}x",
            self.activation,
            self.test_acc * 100.0,
            by_layer.join(" "),
            gradscope::stats::attenuation(&self.mean_grad)
        )
    }
}

/// The fraction of `split` whose largest logit is the label.
fn accuracy(net: &impl Module, split: &Split, device: &Device) -> Result<f32> {
    let mut pixels = Vec::new();
    gradscope::data::extend_scaled(&mut pixels, &split.pixels);
    let x = Tensor::from_vec(pixels, (split.len(), split.image_size()), device)?;
    let predicted = net.forward(&x)?.argmax(1)?.to_vec1::<u32>()?;
    let right = (predicted.iter().zip(&split.labels)).filter(|(p, l)| **p == u32::from(**l));
    Ok(right.count() as f32 / split.len().max(1) as f32)
}
