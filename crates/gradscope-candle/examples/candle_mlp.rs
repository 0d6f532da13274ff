//! The vanishing-gradient experiment as a plain candle-nn model: a deep,
//! narrow MLP (`candle_nn::Linear` layers, Glorot-uniform weights, AdamW
//! without weight decay) trained on MNIST, with a [`GradMonitor`] logging
//! its gradient flow to TensorBoard.
//!
//! ```sh
//! cargo run --release -p gradscope-candle --example candle_mlp -- --activation sigmoid
//! cargo run --release -p gradscope-candle --example candle_mlp -- --activation relu
//! tensorboard --logdir logs/candle_mlp
//! ```
//!
//! Sigmoid's `group_grad_mean_abs/layer1` sits far below its `layer6`;
//! relu's layers stay close together.

use std::path::PathBuf;

use candle_core::{DType, Device, Module, Tensor, Var};
use candle_nn::{linear, AdamW, Linear, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use clap::Parser;
use gradscope_candle::GradMonitor;
use gradscope_tensorboard::SummaryWriter;

mod mnist;
pub use mnist::Activation;
use mnist::{Batches, Result, Rng, PIXELS};

#[derive(Parser)]
pub struct Args {
    /// The folder with MNIST's four IDX files.
    #[arg(long, default_value = "data/mnist")]
    pub data_dir: PathBuf,
    /// The run goes to LOGDIR/ACTIVATION.
    #[arg(long, default_value = "logs/candle_mlp")]
    pub logdir: PathBuf,
    #[arg(long, default_value_t = 2500)]
    pub iterations: usize,
    #[arg(long, default_value_t = 200)]
    pub log_every: usize,
    /// sigmoid, relu, leaky_relu or tanh.
    #[arg(long, default_value = "sigmoid")]
    pub activation: Activation,
    /// Linear layers, the output layer included.
    #[arg(long, default_value_t = 6)]
    pub layers: usize,
    /// Units of each hidden layer.
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
        let mut h = x.clone();
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(&h)?;
            if i + 1 < self.layers.len() {
                h = self.activation.apply(&h)?;
            }
        }
        Ok(h)
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

    // Glorot-uniform weights from a seeded generator, zero biases, as
    // `layerN.weight` (out x in) and `layerN.bias`, which `linear` picks up.
    let varmap = VarMap::new();
    let mut sizes = vec![PIXELS];
    sizes.extend(std::iter::repeat_n(
        args.hidden,
        args.layers.saturating_sub(1),
    ));
    sizes.push(10);
    let mut rng = Rng::new(args.seed);
    for (i, pair) in sizes.windows(2).enumerate() {
        let (fan_in, fan_out) = (pair[0], pair[1]);
        let limit = (6.0 / (fan_in + fan_out) as f32).sqrt();
        let weights: Vec<f32> = (0..fan_in * fan_out)
            .map(|_| rng.uniform(-limit, limit))
            .collect();
        let mut vars = varmap.data().lock().expect("not poisoned");
        let weight = Tensor::from_vec(weights, (fan_out, fan_in), &device)?;
        vars.insert(format!("layer{}.weight", i + 1), Var::from_tensor(&weight)?);
        vars.insert(
            format!("layer{}.bias", i + 1),
            Var::zeros(fan_out, DType::F32, &device)?,
        );
    }
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
    let layers = (sizes.windows(2).enumerate())
        .map(|(i, pair)| linear(pair[0], pair[1], vb.pp(format!("layer{}", i + 1))))
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
    let mut batches = Batches::new(train.len(), 30, args.seed);
    for step in 0..args.iterations {
        let (x, y) = batches.next(&train, &device)?;
        let loss = candle_nn::loss::cross_entropy(&net.forward(&x)?, &y)?;
        let grads = loss.backward()?;
        monitor.observe(step, &grads)?;
        optimizer.step(&grads)?;
        if step % args.log_every == 0 {
            writer.add_scalar("loss", loss.to_scalar::<f32>()?, step)?;
        }
    }
    let test_acc = mnist::accuracy(&net, &test, &device)?;
    writer.add_scalar("test_acc", test_acc, args.iterations)?;
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
            gradscope_candle::stats::attenuation(&self.mean_grad)
        )
    }
}
