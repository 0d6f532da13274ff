//! Weights as safetensors: `layer{i}.weight` in candle's and PyTorch's
//! `(out, in)` layout and `layer{i}.bias`, `i` from 1 at the input, so the
//! file loads straight into `torch.nn.Linear` layers.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::Context;
use candle_core::{DType, Device, Tensor, Var};
use gradscope_tensorboard::storage;

use crate::model::{Architecture, Dense, Mlp};

fn weight_name(layer: usize) -> String {
    format!("layer{layer}.weight")
}

fn bias_name(layer: usize) -> String {
    format!("layer{layer}.bias")
}

/// Why a checkpoint could not be saved or loaded, naming the file.
#[derive(Debug)]
#[non_exhaustive]
pub enum CheckpointError {
    /// Writing the checkpoint at `path` failed (`source` says why).
    Save {
        path: PathBuf,
        source: anyhow::Error,
    },
    /// The file at `path` cannot start this network.
    Load { path: PathBuf, problem: String },
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckpointError::Save { path, .. } => {
                write!(f, "checkpoint {}: cannot write it", path.display())
            }
            CheckpointError::Load { path, problem } => {
                write!(f, "checkpoint {}: {problem}", path.display())
            }
        }
    }
}

impl std::error::Error for CheckpointError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CheckpointError::Save { source, .. } => Some(source.as_ref()),
            CheckpointError::Load { .. } => None,
        }
    }
}

/// Writes the model's weights to `path` (replacing the file, which is new
/// data the user asked for; the event files are never touched). A
/// checkpoint is a local file: an object-storage URL is refused rather
/// than taken for the local folders `s3:/bucket/...`.
pub fn save(model: &Mlp, path: &Path) -> Result<(), CheckpointError> {
    let write = || -> anyhow::Result<()> {
        if storage::is_url(path) {
            anyhow::bail!(
                "a checkpoint is a local file, and this is an object-storage URL: give a \
                 local path (only logdirs may be in a bucket)"
            );
        }
        let mut tensors = HashMap::new();
        for (i, layer) in model.layers.iter().enumerate() {
            tensors.insert(weight_name(i + 1), layer.kernel.t()?.contiguous()?);
            tensors.insert(bias_name(i + 1), layer.bias.as_tensor().clone());
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        Ok(candle_core::safetensors::save(&tensors, path)?)
    };
    write().map_err(|source| CheckpointError::Save {
        path: path.to_path_buf(),
        source,
    })
}

/// Loads a model of architecture `arch` from `path`, checking that the file
/// holds exactly the tensors that architecture needs, with the right shapes.
pub fn load(path: &Path, arch: Architecture, device: &Device) -> Result<Mlp, CheckpointError> {
    let refuse = |problem: String| CheckpointError::Load {
        path: path.to_path_buf(),
        problem,
    };
    let mut tensors = candle_core::safetensors::load(path, device)
        .map_err(|e| refuse(format!("not a readable safetensors file: {e}")))?;
    let network = format!(
        "{} layers, {} hidden units, {} inputs",
        arch.shape.layers, arch.shape.hidden, arch.shape.inputs
    );
    let mut layers = Vec::new();
    for (i, (fan_in, fan_out)) in arch.shape.layer_sizes().into_iter().enumerate() {
        let mut take = |name: String, shape: &[usize]| -> Result<Tensor, CheckpointError> {
            let t = tensors.remove(&name).ok_or_else(|| {
                refuse(format!(
                    "no tensor {name}; the network ({network}) needs layer1 ... layer{}",
                    arch.shape.layers
                ))
            })?;
            if t.dims() != shape {
                return Err(refuse(format!(
                    "{name} has shape {:?}, but this network ({network}) needs {shape:?}",
                    t.dims()
                )));
            }
            t.to_dtype(DType::F32)
                .map_err(|e| refuse(format!("{name}: {e}")))
        };
        let weight = take(weight_name(i + 1), &[fan_out, fan_in])?;
        let bias = take(bias_name(i + 1), &[fan_out])?;
        let var = |t: candle_core::Result<Tensor>| {
            t.and_then(|t| Var::from_tensor(&t))
                .map_err(|e| refuse(format!("layer{}: {e}", i + 1)))
        };
        layers.push(Dense {
            kernel: var(weight.t().and_then(|t| t.contiguous()))?,
            bias: var(Ok(bias))?,
        });
    }
    if !tensors.is_empty() {
        let mut extra: Vec<_> = tensors.into_keys().collect();
        extra.sort();
        return Err(refuse(format!(
            "holds tensors this network ({network}) does not have: {} (was it saved from a \
             deeper network?)",
            extra.join(", ")
        )));
    }
    Ok(Mlp { layers, arch })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Activation, ActivationFn, Init, Shape};

    fn arch(layers: usize) -> Architecture {
        Architecture {
            shape: Shape {
                inputs: 6,
                hidden: 4,
                outputs: 3,
                layers,
            },
            activation: ActivationFn::new(Activation::Tanh, 0.2),
            residual: false,
        }
    }

    #[test]
    fn a_url_is_refused_not_taken_for_local_folders() {
        let model = Mlp::new(arch(3), Init::HeNormal, 5, &Device::Cpu).unwrap();
        let url = Path::new("s3://bucket/w.safetensors");
        let err = format!("{:#}", anyhow::Error::from(save(&model, url).unwrap_err()));
        assert!(
            err.contains("s3://bucket/w.safetensors") && err.contains("local path"),
            "{err}"
        );
        assert!(!Path::new("s3:").exists());
    }

    #[test]
    fn save_then_load_gives_the_same_weights() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.safetensors");
        let d = Device::Cpu;
        let model = Mlp::new(arch(3), Init::HeNormal, 5, &d).unwrap();
        model.layers[1]
            .bias
            .set(&Tensor::new(&[1f32, 2.0, 3.0, 4.0], &d).unwrap())
            .unwrap();
        save(&model, &path).unwrap();
        let loaded = load(&path, arch(3), &d).unwrap();
        for (a, b) in model.layers.iter().zip(&loaded.layers) {
            assert_eq!(
                a.kernel.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                b.kernel.flatten_all().unwrap().to_vec1::<f32>().unwrap()
            );
            assert_eq!(
                a.bias.to_vec1::<f32>().unwrap(),
                b.bias.to_vec1::<f32>().unwrap()
            );
        }
        // candle's (out, in) layout on disk.
        let raw = candle_core::safetensors::load(&path, &d).unwrap();
        assert_eq!(raw["layer1.weight"].dims(), &[4, 6]);
        assert_eq!(raw["layer3.bias"].dims(), &[3]);
    }

    #[test]
    fn mismatches_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.safetensors");
        let d = Device::Cpu;
        save(
            &Mlp::new(arch(3), Init::GlorotUniform, 0, &d).unwrap(),
            &path,
        )
        .unwrap();
        let err = format!("{:#}", load(&path, arch(4), &d).err().unwrap());
        assert!(
            err.contains("layer3.weight") && err.contains("[3, 4]"),
            "{err}"
        );
        let err = format!("{:#}", load(&path, arch(2), &d).err().unwrap());
        assert!(
            err.contains("layer2.weight") || err.contains("does not have"),
            "{err}"
        );
        let mut wide = arch(3);
        wide.shape.hidden = 5;
        let err = format!("{:#}", load(&path, wide, &d).err().unwrap());
        assert!(err.contains("layer1.weight has shape [4, 6]"), "{err}");
        std::fs::write(&path, b"not safetensors").unwrap();
        let err = load(&path, arch(3), &d).err().unwrap();
        assert!(
            matches!(&err, CheckpointError::Load { path: p, .. } if p == &path),
            "{err}"
        );
        let err = err.to_string();
        assert!(
            err.contains("not a readable safetensors file") && err.contains("w.safetensors"),
            "{err}"
        );
    }
}
