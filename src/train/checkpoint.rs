//! A run's checkpoint: everything continuing it exactly needs, in one
//! safetensors file in its run folder ([`FILE_NAME`]).
//!
//! Tensors: every parameter by name (`param.layer1.kernel`, ...), Adam's
//! moments (`adam.m.NAME`, `adam.v.NAME`), the batch sampler's epoch order
//! (`batcher.order`), and the run log's running sums (`log.*`). The
//! header's metadata holds the rest as text: the format, the iteration
//! (how many are done), Adam's step count, the sampler's position and its
//! RNG's (`batcher.next`, `batcher.rng_word`), the log's counters, and
//! every setting that shapes the run (`flag.NAME`), which a resume must
//! match ([`Setting`]). Floats that must come back exactly are stored as
//! tensors or as their bits.
//!
//! A checkpoint is written to a temporary file beside it, synced, and
//! renamed over the previous one (the folder synced after): a kill during
//! the write leaves the previous checkpoint whole.

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use candle_core::safetensors::Load;
use candle_core::{DType, Device, Tensor};
use safetensors::SafeTensors;

use crate::data::{Batcher, BatcherPosition};
use crate::time_profile::Curve;
use crate::train::adam::Adam;
use crate::train::network::Network;
use crate::train::views::ViewsState;
use crate::train::TrainConfig;

/// The checkpoint's name in its run folder.
pub const FILE_NAME: &str = "checkpoint.safetensors";
/// What a checkpoint is written to before it replaces the last one.
const TEMP_NAME: &str = "checkpoint.safetensors.tmp";
/// The `format` metadata of this version of the file.
const FORMAT: &str = "gradscope-run-checkpoint-1";

/// The checkpoint of the run in `run_dir`.
pub fn path(run_dir: &Path) -> PathBuf {
    run_dir.join(FILE_NAME)
}

/// A setting that shapes a run: a checkpoint records each, and resuming
/// with any different is refused. `cli::error_message` names its flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Setting {
    Scenario,
    LeakySlope,
    Dataset,
    Layers,
    Hidden,
    Init,
    InitFrom,
    Shuffle,
    Iterations,
    BatchSize,
    Lr,
    LogEvery,
    Seed,
    Engine,
    Device,
    RecurrentHidden,
    RecurrentInit,
    Sequence,
    ForgetBias,
    ClipNorm,
}

impl Setting {
    /// Its key in the checkpoint (`flag.KEY`), and how it is named in
    /// messages.
    pub fn key(self) -> &'static str {
        match self {
            Setting::Scenario => "scenario",
            Setting::LeakySlope => "leaky_slope",
            Setting::Dataset => "dataset",
            Setting::Layers => "layers",
            Setting::Hidden => "hidden",
            Setting::Init => "init",
            Setting::InitFrom => "init_from",
            Setting::Shuffle => "shuffle",
            Setting::Iterations => "iterations",
            Setting::BatchSize => "batch_size",
            Setting::Lr => "lr",
            Setting::LogEvery => "log_every",
            Setting::Seed => "seed",
            Setting::Engine => "engine",
            Setting::Device => "device",
            Setting::RecurrentHidden => "recurrent_hidden",
            Setting::RecurrentInit => "recurrent_init",
            Setting::Sequence => "sequence",
            Setting::ForgetBias => "forget_bias",
            Setting::ClipNorm => "clip_norm",
        }
    }
}

/// Every setting of `cfg` that shapes the run, as the checkpoint records
/// it (floats in Rust's shortest exact form; `none` for an unset option).
fn settings(cfg: &TrainConfig) -> Vec<(Setting, String)> {
    fn option<T: fmt::Display>(value: Option<T>) -> String {
        value.map_or_else(|| "none".to_string(), |v| v.to_string())
    }
    let r = &cfg.recurrent;
    vec![
        (Setting::Scenario, cfg.scenario.name()),
        (Setting::LeakySlope, cfg.leaky_slope.to_string()),
        (Setting::Dataset, cfg.dataset.clone()),
        (Setting::Layers, cfg.layers.to_string()),
        (Setting::Hidden, cfg.hidden.to_string()),
        (Setting::Init, cfg.init.to_string()),
        (
            Setting::InitFrom,
            option(cfg.init_from.as_ref().map(|p| p.display())),
        ),
        (Setting::Shuffle, cfg.shuffle.to_string()),
        (Setting::Iterations, cfg.iterations.to_string()),
        (Setting::BatchSize, cfg.batch_size.to_string()),
        (Setting::Lr, cfg.lr.to_string()),
        (Setting::LogEvery, cfg.log_every.to_string()),
        (Setting::Seed, cfg.seed.to_string()),
        (Setting::Engine, cfg.engine.to_string()),
        (Setting::Device, cfg.device.to_string()),
        (Setting::RecurrentHidden, r.hidden.to_string()),
        (Setting::RecurrentInit, r.init.to_string()),
        (Setting::Sequence, r.sequence.to_string()),
        (Setting::ForgetBias, option(r.forget_bias)),
        (Setting::ClipNorm, option(cfg.clip_norm)),
    ]
}

/// Why a checkpoint cannot be written or continued from, naming the file.
#[derive(Debug)]
#[non_exhaustive]
pub enum ResumeError {
    /// Writing it failed; the previous checkpoint, if any, is intact.
    Save {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The file is not a checkpoint this run can continue from.
    Unreadable { path: PathBuf, problem: String },
    /// It was taken with `setting` at `saved`; this run has `now`.
    SettingDiffers {
        path: PathBuf,
        setting: Setting,
        saved: String,
        now: String,
    },
}

impl fmt::Display for ResumeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResumeError::Save { path, source } => {
                write!(
                    f,
                    "checkpoint {}: cannot write it: {source}",
                    path.display()
                )
            }
            ResumeError::Unreadable { path, problem } => write!(
                f,
                "checkpoint {}: cannot continue from it: {problem}",
                path.display()
            ),
            ResumeError::SettingDiffers {
                path,
                setting,
                saved,
                now,
            } => write!(
                f,
                "checkpoint {} was taken with {} {saved}, but this run has {now}; continue it \
                 with the same settings, or remove the file to start the run over",
                path.display(),
                setting.key()
            ),
        }
    }
}

impl std::error::Error for ResumeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ResumeError::Save { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// What the run log carries from step to step: the running figures of the
/// run's summary and of its views.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogState {
    /// Each layer's sum of mean |grad| over the logged steps, and how many.
    pub grad_sums: Vec<f64>,
    pub grad_steps: usize,
    /// The last logged step, its loss and its batch accuracy.
    pub last_logged: Option<(usize, f32, f32)>,
    /// The first iteration from which a logged step is diagnosed.
    pub next_diagnosed: usize,
    /// With gradient clipping: iterations since the last logged step, and
    /// how many of them were clipped.
    pub clip_counts: (usize, usize),
    /// The MLP's views; `None` for a network without them.
    pub views: Option<ViewsState>,
    /// A recurrent run's gradient through time at each logged step.
    pub through_time: Vec<Curve>,
}

/// A checkpoint read back and checked against the run's settings.
pub struct Checkpoint {
    pub path: PathBuf,
    /// Iterations done: the run continues with this one.
    pub iteration: usize,
    tensors: HashMap<String, Tensor>,
    adam_steps: i32,
    batcher: BatcherPosition,
    log: LogState,
    /// `flag.KEY` values, by key.
    settings: HashMap<String, String>,
}

/// The state a checkpoint is made of, borrowed from the loop.
pub struct Snapshot<'a> {
    pub iteration: usize,
    pub cfg: &'a TrainConfig,
    pub net: &'a dyn Network,
    pub adam: &'a Adam,
    pub batcher: &'a Batcher,
    pub log: LogState,
}

fn param_key(layer: usize, name: &str) -> String {
    format!("layer{layer}.{name}")
}

fn f32_tensor(values: &[f32]) -> candle_core::Result<Tensor> {
    Tensor::from_slice(values, values.len(), &Device::Cpu)
}

fn f64_tensor(values: &[f64]) -> candle_core::Result<Tensor> {
    Tensor::from_slice(values, values.len(), &Device::Cpu)
}

/// Writes a run's checkpoints, one at a time: each is encoded on the
/// training thread, then written, synced and renamed into place on a thread
/// of its own, so the sync (most of a checkpoint's cost: 1-20 ms on a
/// shared virtual disk, against about 1 ms for the rest) overlaps training.
/// Dropping it waits for the checkpoint being written.
pub struct Saver {
    run_dir: PathBuf,
    writing: Option<std::thread::JoinHandle<Result<(), ResumeError>>>,
}

impl Saver {
    /// Checkpoints of the run in `run_dir`.
    pub fn new(run_dir: &Path) -> Saver {
        Saver {
            run_dir: run_dir.to_path_buf(),
            writing: None,
        }
    }

    /// Starts saving `snapshot` as the run's checkpoint, once the one
    /// before is written (its failure is returned here); returns the path.
    pub fn start(&mut self, snapshot: Snapshot<'_>) -> Result<PathBuf, ResumeError> {
        let path = path(&self.run_dir);
        let failed = |source: std::io::Error| ResumeError::Save {
            path: path.clone(),
            source,
        };
        let bytes = encode(&snapshot).map_err(|e| failed(std::io::Error::other(e.to_string())))?;
        self.finish()?;
        let (dir, file) = (self.run_dir.clone(), path.clone());
        let write = move || {
            write_atomically(&dir, &file, &bytes).map_err(|source| ResumeError::Save {
                path: file.clone(),
                source,
            })
        };
        let thread = std::thread::Builder::new()
            .name("checkpoint".into())
            .spawn(write)
            .map_err(failed)?;
        self.writing = Some(thread);
        Ok(path)
    }

    /// Waits until the checkpoint being written (if any) is in place.
    pub fn finish(&mut self) -> Result<(), ResumeError> {
        let Some(thread) = self.writing.take() else {
            return Ok(());
        };
        thread.join().unwrap_or_else(|_| {
            Err(ResumeError::Save {
                path: path(&self.run_dir),
                source: std::io::Error::other("the thread writing it panicked"),
            })
        })
    }
}

impl Drop for Saver {
    fn drop(&mut self) {
        // An error here has no one to go to; the previous checkpoint, if
        // any, is intact.
        let _ = self.finish();
    }
}

/// The file's bytes: every tensor in host memory, contiguous, so
/// serializing cannot fail on a device copy.
fn encode(s: &Snapshot<'_>) -> anyhow::Result<Vec<u8>> {
    let mut tensors: Vec<(String, Tensor)> = Vec::new();
    let mut meta = HashMap::new();
    meta.insert("format".to_string(), FORMAT.to_string());
    meta.insert("iteration".to_string(), s.iteration.to_string());
    for (setting, value) in settings(s.cfg) {
        meta.insert(format!("flag.{}", setting.key()), value);
    }
    let parameters = s.net.parameters();
    let mut covered = 0;
    for (layer, name, var) in &parameters {
        let key = param_key(*layer, name);
        let mut values = Vec::new();
        crate::cpu::copy_f32(var.as_tensor(), &mut values)?;
        let shape = var.as_tensor().dims().to_vec();
        tensors.push((
            format!("param.{key}"),
            Tensor::from_vec(values, shape, &Device::Cpu)?,
        ));
        let Some((m, v)) = s.adam.moments(var) else {
            anyhow::bail!("parameter {key} is not one of the optimizer's");
        };
        covered += 1;
        tensors.push((format!("adam.m.{key}"), f32_tensor(m)?));
        tensors.push((format!("adam.v.{key}"), f32_tensor(v)?));
    }
    if covered != s.adam.vars().count() {
        anyhow::bail!("the optimizer steps parameters the network does not name");
    }
    meta.insert("adam.steps".to_string(), s.adam.steps().to_string());
    let position = s.batcher.position();
    let order: Vec<u32> = position.order.iter().map(|&i| i as u32).collect();
    tensors.push((
        "batcher.order".to_string(),
        Tensor::from_vec(order, position.order.len(), &Device::Cpu)?,
    ));
    meta.insert("batcher.next".to_string(), position.next.to_string());
    if let Some(word) = position.rng_word {
        meta.insert("batcher.rng_word".to_string(), word.to_string());
    }
    encode_log(&s.log, &mut tensors, &mut meta)?;
    Ok(safetensors::serialize(tensors, Some(meta))?)
}

fn encode_log(
    log: &LogState,
    tensors: &mut Vec<(String, Tensor)>,
    meta: &mut HashMap<String, String>,
) -> candle_core::Result<()> {
    tensors.push(("log.grad_sums".to_string(), f64_tensor(&log.grad_sums)?));
    meta.insert("log.grad_steps".into(), log.grad_steps.to_string());
    if let Some((step, loss, acc)) = log.last_logged {
        // Bits: the summary's final loss must come back exactly.
        let text = format!("{step},{},{}", loss.to_bits(), acc.to_bits());
        meta.insert("log.last_logged".into(), text);
    }
    meta.insert("log.next_diagnosed".into(), log.next_diagnosed.to_string());
    let (iterations, clipped) = log.clip_counts;
    meta.insert("log.clip_counts".into(), format!("{iterations},{clipped}"));
    if let Some(views) = &log.views {
        let step = |s: Option<usize>| s.map_or_else(|| "none".to_string(), |s| s.to_string());
        meta.insert("log.views.first".into(), step(views.first));
        meta.insert("log.views.last".into(), step(views.last));
        tensors.push(("log.views.units".into(), f64_tensor(&views.units)?));
        tensors.push((
            "log.views.last_first_kernel".into(),
            f32_tensor(&views.last_first_kernel)?,
        ));
    }
    let steps: Vec<String> = log.through_time.iter().map(|c| c.0.to_string()).collect();
    meta.insert("log.through_time".into(), steps.join(","));
    for (j, (_, points)) in log.through_time.iter().enumerate() {
        // (t, norm) pairs; t is a small count, exact as f64.
        let flat: Vec<f64> = points.iter().flat_map(|&(t, v)| [t as f64, v]).collect();
        tensors.push((format!("log.through_time.{j}"), f64_tensor(&flat)?));
    }
    Ok(())
}

/// Writes `bytes` to `path` through a synced temporary file in `dir`.
fn write_atomically(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let temp = dir.join(TEMP_NAME);
    let mut file = std::fs::File::create(&temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temp, path)?;
    // The rename itself reaches the disk with the folder's entry.
    std::fs::File::open(dir)?.sync_all()
}

/// Removes the checkpoint of a run that finished (and a temporary file a
/// kill left): nothing continues from it.
pub fn remove(run_dir: &Path) -> std::io::Result<()> {
    for name in [FILE_NAME, TEMP_NAME] {
        match std::fs::remove_file(run_dir.join(name)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// The checkpoint in `run_dir`, checked against `cfg`; `None` when there
/// is none.
pub fn load(run_dir: &Path, cfg: &TrainConfig) -> Result<Option<Checkpoint>, ResumeError> {
    let path = path(run_dir);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(ResumeError::Unreadable {
                path,
                problem: format!("cannot read it: {e}"),
            })
        }
    };
    let refuse = |problem: String| ResumeError::Unreadable {
        path: path.clone(),
        problem,
    };
    let mut checkpoint = decode(&bytes).map_err(refuse)?;
    checkpoint.path = path;
    // Settings first: a different network would fail the shapes anyway,
    // and the setting is what the user needs to hear about.
    check_settings(&checkpoint, cfg)?;
    if checkpoint.iteration > cfg.iterations || checkpoint.adam_steps < 0 {
        return Err(ResumeError::Unreadable {
            path: checkpoint.path,
            problem: format!(
                "it is at iteration {} with {} optimizer steps, outside the run's {} iterations",
                checkpoint.iteration, checkpoint.adam_steps, cfg.iterations
            ),
        });
    }
    Ok(Some(checkpoint))
}

/// The settings recorded, compared with `cfg`'s in their order.
fn check_settings(c: &Checkpoint, cfg: &TrainConfig) -> Result<(), ResumeError> {
    for (setting, now) in settings(cfg) {
        let saved = c.settings.get(setting.key());
        if saved != Some(&now) {
            return Err(ResumeError::SettingDiffers {
                path: c.path.clone(),
                setting,
                saved: saved.cloned().unwrap_or_else(|| "nothing".into()),
                now,
            });
        }
    }
    Ok(())
}

/// The checkpoint in `bytes`, or what is wrong with it.
fn decode(bytes: &[u8]) -> Result<Checkpoint, String> {
    let not_safetensors = |e: safetensors::SafeTensorError| format!("not a safetensors file: {e}");
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(not_safetensors)?;
    let file = SafeTensors::deserialize(bytes).map_err(not_safetensors)?;
    let meta = header.metadata().clone().unwrap_or_default();
    match meta.get("format") {
        Some(format) if format == FORMAT => {}
        Some(other) => return Err(format!("its format is {other:?}, expected {FORMAT:?}")),
        None => {
            return Err(format!(
                "no format in its header: not a run checkpoint ({FORMAT})"
            ))
        }
    }
    let text = |key: &str| {
        meta.get(key)
            .map(String::as_str)
            .ok_or_else(|| format!("no {key} in its header"))
    };
    let number = |key: &str| -> Result<usize, String> {
        let value = text(key)?;
        value
            .parse()
            .map_err(|_| format!("{key} is {value:?}, not a count"))
    };
    let mut tensors = HashMap::new();
    for (name, view) in file.tensors() {
        let tensor = view
            .load(&Device::Cpu)
            .map_err(|e| format!("tensor {name}: {e}"))?;
        tensors.insert(name, tensor);
    }
    let mut take = |name: &str, dtype: DType| -> Result<Tensor, String> {
        let tensor = tensors
            .remove(name)
            .ok_or_else(|| format!("no tensor {name}"))?;
        if tensor.dtype() != dtype || tensor.rank() != 1 {
            return Err(format!(
                "{name} is {:?} of shape {:?}, expected a vector of {dtype:?}",
                tensor.dtype(),
                tensor.dims()
            ));
        }
        Ok(tensor)
    };
    let order: Vec<u32> = (take("batcher.order", DType::U32)?.to_vec1())
        .map_err(|e| format!("batcher.order: {e}"))?;
    let rng_word = match meta.get("batcher.rng_word") {
        Some(word) => Some(
            word.parse::<u128>()
                .map_err(|_| format!("batcher.rng_word is {word:?}, not a count"))?,
        ),
        None => None,
    };
    let batcher = BatcherPosition {
        order: order.into_iter().map(|i| i as usize).collect(),
        next: number("batcher.next")?,
        rng_word,
    };
    let log = decode_log(&meta, &mut take, &number)?;
    let adam_steps = text("adam.steps")?;
    let adam_steps = (adam_steps.parse::<i32>().ok())
        .ok_or_else(|| format!("adam.steps is {adam_steps:?}, not a count"))?;
    let settings = (meta.iter())
        .filter_map(|(k, v)| Some((k.strip_prefix("flag.")?.to_string(), v.clone())))
        .collect();
    Ok(Checkpoint {
        path: PathBuf::new(),
        iteration: number("iteration")?,
        tensors,
        adam_steps,
        batcher,
        log,
        settings,
    })
}

fn decode_log(
    meta: &HashMap<String, String>,
    take: &mut impl FnMut(&str, DType) -> Result<Tensor, String>,
    number: &impl Fn(&str) -> Result<usize, String>,
) -> Result<LogState, String> {
    let vec_f64 = |t: Tensor, name: &str| t.to_vec1::<f64>().map_err(|e| format!("{name}: {e}"));
    let vec_f32 = |t: Tensor, name: &str| t.to_vec1::<f32>().map_err(|e| format!("{name}: {e}"));
    let bad = |key: &str, value: &str| format!("{key} is {value:?}, which does not parse");
    let grad_sums = vec_f64(take("log.grad_sums", DType::F64)?, "log.grad_sums")?;
    let last_logged = match meta.get("log.last_logged") {
        None => None,
        Some(value) => {
            let parts: Vec<&str> = value.split(',').collect();
            let parsed = match parts[..] {
                [step, loss, acc] => (step.parse().ok())
                    .zip(loss.parse::<u32>().ok())
                    .zip(acc.parse::<u32>().ok())
                    .map(|((s, l), a)| (s, f32::from_bits(l), f32::from_bits(a))),
                _ => None,
            };
            Some(parsed.ok_or_else(|| bad("log.last_logged", value))?)
        }
    };
    let counts = meta
        .get("log.clip_counts")
        .map(String::as_str)
        .unwrap_or("");
    let clip_counts = counts
        .split_once(',')
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        .ok_or_else(|| bad("log.clip_counts", counts))?;
    let views = match meta.get("log.views.first") {
        None => None,
        Some(first) => {
            let step = |key: &str, value: &str| -> Result<Option<usize>, String> {
                match value {
                    "none" => Ok(None),
                    v => v.parse().map(Some).map_err(|_| bad(key, v)),
                }
            };
            let last = meta.get("log.views.last").map(String::as_str).unwrap_or("");
            Some(ViewsState {
                first: step("log.views.first", first)?,
                last: step("log.views.last", last)?,
                units: vec_f64(take("log.views.units", DType::F64)?, "log.views.units")?,
                last_first_kernel: vec_f32(
                    take("log.views.last_first_kernel", DType::F32)?,
                    "log.views.last_first_kernel",
                )?,
            })
        }
    };
    let steps = meta
        .get("log.through_time")
        .map(String::as_str)
        .unwrap_or("");
    let mut through_time = Vec::new();
    for (j, step) in steps.split(',').filter(|s| !s.is_empty()).enumerate() {
        let step: i64 = step.parse().map_err(|_| bad("log.through_time", steps))?;
        let name = format!("log.through_time.{j}");
        let flat = vec_f64(take(&name, DType::F64)?, &name)?;
        if flat.len() % 2 != 0 {
            return Err(format!("{name} holds {} values, not pairs", flat.len()));
        }
        let points = flat
            .chunks_exact(2)
            .map(|p| (p[0] as usize, p[1]))
            .collect();
        through_time.push((step, points));
    }
    Ok(LogState {
        grad_sums,
        grad_steps: number("log.grad_steps")?,
        last_logged,
        next_diagnosed: number("log.next_diagnosed")?,
        clip_counts,
        views,
        through_time,
    })
}

impl Checkpoint {
    /// Puts `net`'s weights, `adam`'s moments and step count and
    /// `batcher`'s position where the checkpoint has them; returns the run
    /// log's state. Every tensor is checked (name, shape, count) before
    /// anything is changed: on an error nothing was.
    pub fn restore(
        self,
        net: &dyn Network,
        adam: &mut Adam,
        batcher: &mut Batcher,
    ) -> Result<LogState, ResumeError> {
        let Checkpoint {
            path,
            mut tensors,
            adam_steps,
            batcher: position,
            log,
            ..
        } = self;
        let refuse = |problem: String| ResumeError::Unreadable {
            path: path.clone(),
            problem,
        };
        let mut restored = Vec::new();
        for (layer, name, var) in net.parameters() {
            let key = param_key(layer, name);
            let dims = var.as_tensor().dims().to_vec();
            let mut take = |name: String, shape: &[usize]| -> Result<Tensor, ResumeError> {
                let t = (tensors.remove(&name))
                    .ok_or_else(|| refuse(format!("no tensor {name}, which this network has")))?;
                if t.dims() != shape || t.dtype() != DType::F32 {
                    return Err(refuse(format!(
                        "{name} is {:?} of shape {:?}; this network's is f32 of {shape:?}",
                        t.dtype(),
                        t.dims()
                    )));
                }
                Ok(t)
            };
            let count = [var.elem_count()];
            let weights = take(format!("param.{key}"), &dims)?;
            let m = take(format!("adam.m.{key}"), &count)?;
            let v = take(format!("adam.v.{key}"), &count)?;
            restored.push((key, var, weights, m, v));
        }
        if let Some(extra) = tensors.keys().find(|k| k.starts_with("param.")) {
            return Err(refuse(format!(
                "it has {extra}, which this network does not"
            )));
        }
        batcher.restore(position).map_err(&refuse)?;
        for (key, var, weights, m, v) in restored {
            let vec = |t: Tensor| t.to_vec1::<f32>();
            let apply = || -> anyhow::Result<()> {
                var.set(&weights)?;
                adam.restore_moments(&var, vec(m)?, vec(v)?)?;
                Ok(())
            };
            apply().map_err(|e| refuse(format!("{key}: {e}")))?;
        }
        adam.restore_steps(adam_steps);
        Ok(log)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The run log's figures come back exactly, the last loss to the bit.
    #[test]
    fn the_log_state_round_trips_exactly() {
        let log = LogState {
            grad_sums: vec![0.1, 1e-300, f64::MAX],
            grad_steps: 7,
            last_logged: Some((600, 0.1, f32::from_bits(0x3f00_0001))),
            next_diagnosed: 800,
            clip_counts: (3, 1),
            views: Some(ViewsState {
                first: Some(0),
                last: Some(600),
                units: vec![0.25, 0.0],
                last_first_kernel: vec![1.5, -2.0],
            }),
            through_time: vec![(0, vec![(1, 0.5), (28, 1e-9)]), (200, vec![(1, 2.0)])],
        };
        let (mut tensors, mut meta) = (Vec::new(), HashMap::new());
        encode_log(&log, &mut tensors, &mut meta).unwrap();
        let mut by_name: HashMap<String, Tensor> = tensors.into_iter().collect();
        let mut take = |name: &str, _: DType| by_name.remove(name).ok_or(name.to_string());
        let number = |key: &str| meta[key].parse::<usize>().map_err(|e| e.to_string());
        assert_eq!(decode_log(&meta, &mut take, &number).unwrap(), log);
    }

    /// A safetensors file that is not a run checkpoint says so.
    #[test]
    fn other_files_are_refused_with_what_is_wrong() {
        let weights = [("layer1.weight", f32_tensor(&[1.0]).unwrap())];
        let plain = safetensors::serialize(weights.clone(), None).unwrap();
        assert!(decode(&plain).err().unwrap().contains("no format"));
        let other = HashMap::from([("format".to_string(), "pt".to_string())]);
        let foreign = safetensors::serialize(weights, Some(other)).unwrap();
        assert!(decode(&foreign)
            .err()
            .unwrap()
            .contains("its format is \"pt\""));
        assert!(decode(b"not at all")
            .err()
            .unwrap()
            .contains("not a safetensors"));
    }
}
