//! The MLP as a [`Network`]: images as flat vectors, either engine, the
//! per-layer views of its hidden layers, a graph and checkpoints.

use std::path::Path;

use anyhow::Result;
use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor, Var};
use gradscope_tensorboard::proto::Event;

use crate::data::{Dataset, Split, CLASSES};
use crate::model::MAX_PARAMETERS;
use crate::model::{checkpoint, Activation, ActivationFn, Architecture, Mlp, Shape};
use crate::train::describe;
use crate::train::engine::{Engine, Optimizer};
use crate::train::network::{Network, Parameter, Pass};
use crate::train::origin::{self, Located};
use crate::train::views::Diagnosed;
use crate::train::{ConfigError, Scenario, TrainConfig};

/// The MLP of a run, computed by the run's engine.
pub struct MlpNetwork {
    pub model: Mlp,
    engine: Engine,
}

impl MlpNetwork {
    /// The network `cfg` describes, for `data`'s images: from
    /// `cfg.init_from` if given, else freshly initialised from `cfg.seed`.
    pub fn new(cfg: &TrainConfig, data: &Dataset, device: &Device) -> Result<MlpNetwork> {
        Ok(MlpNetwork {
            model: build_model(cfg, data.train.image_size(), device)?,
            engine: cfg.engine,
        })
    }
}

/// The MLP `cfg` describes, for `inputs` pixels: from `cfg.init_from` if
/// given, else freshly initialised from `cfg.seed`.
pub fn build_model(cfg: &TrainConfig, inputs: usize, device: &Device) -> Result<Mlp> {
    let arch = architecture(cfg, inputs)?;
    Ok(match &cfg.init_from {
        Some(path) => checkpoint::load(path, arch, device)?,
        None => Mlp::new(arch, cfg.init, cfg.seed, device)?,
    })
}

/// Logits, mean cross-entropy and gradients of the fused engine
/// ([`Engine::forward_backward`]).
pub fn forward_backward(
    model: &Mlp,
    x: &Tensor,
    y: &Tensor,
) -> Result<(Tensor, Tensor, GradStore)> {
    Engine::Fused.forward_backward(model, x, y)
}

/// The MLP's architecture for `cfg` on `inputs` pixels, within
/// [`MAX_PARAMETERS`].
pub fn architecture(cfg: &TrainConfig, inputs: usize) -> Result<Architecture, ConfigError> {
    let (activation, residual) = match cfg.scenario {
        Scenario::Mlp {
            activation,
            residual,
        } => (activation, residual),
        // Not an MLP run: the article's default, for a caller that asks.
        Scenario::Recurrent(_) => (Activation::Sigmoid, false),
    };
    let arch = Architecture {
        shape: Shape {
            inputs,
            hidden: cfg.hidden,
            outputs: CLASSES,
            layers: cfg.layers,
        },
        activation: ActivationFn::new(activation, cfg.leaky_slope),
        residual,
    };
    if arch.shape.parameters() > MAX_PARAMETERS {
        return Err(ConfigError::TooManyParameters {
            layers: cfg.layers,
            hidden: cfg.hidden,
            inputs,
            parameters: arch.shape.parameters(),
        });
    }
    Ok(arch)
}

/// Every layer's kernel and bias, input first.
pub fn parameters(model: &Mlp) -> Vec<Parameter> {
    (model.layers.iter().enumerate())
        .flat_map(|(l, layer)| {
            [("kernel", &layer.kernel), ("bias", &layer.bias)]
                .map(|(name, var)| (l + 1, name, var.clone()))
        })
        .collect()
}

impl Network for MlpNetwork {
    fn inputs(&self, split: &Split, indices: &[usize], device: &Device) -> Result<Tensor> {
        // A fresh buffer each step, moved into the tensor rather than
        // copied (the allocator hands back the one the last step's freed).
        let n = split.image_size();
        let mut pixels = Vec::with_capacity(indices.len() * n);
        for &i in indices {
            crate::data::extend_scaled(&mut pixels, split.image(i));
        }
        Ok(Tensor::from_vec(pixels, (indices.len(), n), device)?)
    }

    fn forward_backward(&self, x: &Tensor, y: &Tensor) -> Result<Pass> {
        let (logits, loss, grads) = self.engine.forward_backward(&self.model, x, y)?;
        Ok(Pass {
            logits,
            loss,
            grads,
            time_grads: None,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.engine.forward(&self.model, x)
    }

    fn eval_chunk(&self) -> usize {
        // 256 images are 0.8 MB of f32 pixels: each chunk reuses the memory
        // the last one freed. (At 2,000, each chunk's 6 MB came fresh from
        // the OS, and zeroing its pages cost more than the products.)
        256
    }

    fn optimizer(&self, lr: f64) -> Result<Optimizer> {
        self.engine.optimizer(&self.model, lr)
    }

    fn parameters(&self) -> Vec<Parameter> {
        parameters(&self.model)
    }

    fn kernels(&self) -> Vec<Var> {
        self.model.layers.iter().map(|l| l.kernel.clone()).collect()
    }

    fn biases(&self) -> Vec<Var> {
        self.model.layers.iter().map(|l| l.bias.clone()).collect()
    }

    fn start_events(&self, cfg: &TrainConfig, data: &Dataset, run_dir: &Path) -> Vec<Event> {
        describe::mlp_start_events(cfg, data, &self.model.arch, run_dir)
    }

    fn diagnosed(&self, data: &Dataset) -> Option<Diagnosed> {
        Some(Diagnosed {
            arch: self.model.arch,
            image: (data.train.rows, data.train.cols),
        })
    }

    fn locate(&self, x: &Tensor, labels: &[u32], _pass: &Pass, iteration: usize) -> Located {
        Located::new(origin::locate(&self.model, x, labels, iteration))
    }

    fn save(&self, path: &Path) -> Result<()> {
        Ok(checkpoint::save(&self.model, path)?)
    }
}
