//! gradscope's gradients and Adam step checked against PyTorch's.
//!
//! For every activation (and the residual network), the same weights and
//! the same first batch go through gradscope and through PyTorch
//! (`scripts/torch_reference.py`): the loss, every parameter's full gradient,
//! each layer's mean |grad| as logged at step 0, and the weights after one
//! Adam step (through the real CLI: `--init-from`, `--no-shuffle`,
//! `--iterations 1`, `--save`) must agree to a relative error below 1e-5.
//! So must the `candle-nn` engine's gradients, and the norm, mean and max
//! |grad| the gradient monitor logs of them.
//!
//! The recurrent networks (`rnn`, `lstm`, `gru`) go through the same
//! check against `nn.RNN`/`nn.LSTM`/`nn.GRU` with an `nn.Linear` head
//! (`scripts/torch_recurrent_reference.py`): every parameter's gradient,
//! dL/dh_t at every time step (and its norm, as logged), and the gradients
//! after `--clip-norm`'s clipping against `torch.nn.utils.clip_grad_norm_`.
//!
//! Needs Python with torch and safetensors: `scripts/setup-venv.sh`. Skipped
//! with a message only when GRADSCOPE_PYTHON is unset and `.venv` is missing
//! or has no torch; with GRADSCOPE_PYTHON set (as `scripts/test.sh` does),
//! a missing torch fails.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use candle_core::{Device, Tensor};
use gradscope::TimeGrads;
use gradscope::{
    build_model, clip_grad_norm, forward_backward, recurrent, Engine, RecurrentConfig, Scenario,
    TrainConfig,
};
use gradscope::{checkpoint, Activation, Cell};
use gradscope::{Batcher, Dataset};
use gradscope_candle::GradMonitor;
use gradscope_tensorboard::SummaryWriter;

use crate::helpers;

const TOLERANCE: f64 = 1e-5;
const BATCH: usize = 30;
const LR: f64 = 0.001;

/// ||a - b|| / ||b||, in f64.
fn relative_error(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len());
    let diff: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum();
    let norm: f64 = b.iter().map(|&y| f64::from(y).powi(2)).sum();
    if norm == 0.0 {
        diff.sqrt()
    } else {
        (diff / norm).sqrt()
    }
}

fn flat(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

fn mean_abs(v: &[f32]) -> f32 {
    (v.iter().map(|x| f64::from(x.abs())).sum::<f64>() / v.len() as f64) as f32
}

/// One step of `BATCH` in file order, from the article's network.
fn one_step_config(activation: Activation, residual: bool) -> TrainConfig {
    TrainConfig {
        scenario: Scenario::Mlp {
            activation,
            residual,
        },
        shuffle: false,
        iterations: 1,
        batch_size: BATCH,
        lr: LR,
        log_every: 1,
        seed: 11,
        ..helpers::small_config(activation)
    }
}

/// mean_1 ... mean_L at step 0 in the run's event file.
fn logged_means(run_dir: &Path) -> HashMap<String, f32> {
    let scalars = helpers::scalars(&helpers::only_event_file(run_dir));
    let mut means = HashMap::new();
    for (tag, points) in scalars.series {
        if !tag.starts_with("mean_") {
            continue;
        }
        if let Some(&(_, x)) = points.iter().rfind(|&&(step, _)| step == 0) {
            means.insert(tag, x);
        }
    }
    means
}

/// Asserts relative errors below the tolerance and remembers the worst.
struct Errors {
    label: String,
    worst: f64,
}

impl Errors {
    fn check(&mut self, what: &str, ours: &[f32], theirs: &[f32]) {
        self.check_within(what, ours, theirs, TOLERANCE);
    }

    fn check_within(&mut self, what: &str, ours: &[f32], theirs: &[f32], tolerance: f64) {
        let err = relative_error(ours, theirs);
        assert!(
            err < tolerance,
            "{}: {what}: relative error {err:e} (tolerance {tolerance:e})",
            self.label
        );
        self.worst = self.worst.max(err);
    }
}

fn check(python: &Path, data_dir: &Path, work: &Path, activation: Activation, residual: bool) {
    let label = format!("{activation}{}", if residual { "-residual" } else { "" });
    let cfg = one_step_config(activation, residual);
    let device = Device::Cpu;
    let data = Dataset::load(data_dir).unwrap();

    // The shared starting point: weights and the first batch in file order.
    let model = build_model(&cfg, data.train.image_size(), &device).unwrap();
    let weights = work.join(format!("{label}-init.safetensors"));
    checkpoint::save(&model, &weights).unwrap();
    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    Batcher::in_order(data.train.len(), BATCH).next_batch(&data.train, &mut pixels, &mut labels);
    let x = Tensor::from_slice(&pixels, (BATCH, data.train.image_size()), &device).unwrap();
    let y = Tensor::from_slice(&labels, BATCH, &device).unwrap();
    let batch = work.join(format!("{label}-batch.safetensors"));
    save_batch(&batch, &x, &labels);

    // PyTorch.
    let lr = LR.to_string();
    let mut args = vec!["--activation", activation.name(), "--lr", &lr];
    if residual {
        args.push("--residual");
    }
    let torch = torch_reference(
        python,
        "torch_reference.py",
        &args,
        &weights,
        &batch,
        &label,
    );

    // gradscope's gradients from its one backward pass.
    let mut grad_errors = Errors {
        label: label.clone(),
        worst: 0.0,
    };
    let (_, loss, grads) = forward_backward(&model, &x, &y).unwrap();
    grad_errors.check(
        "loss",
        &[loss.to_scalar::<f32>().unwrap()],
        &flat(&torch["loss"]),
    );
    let mut torch_means = Vec::new();
    for (i, layer) in model.layers.iter().enumerate() {
        let n = i + 1;
        // Our kernel is (in, out); PyTorch's weight is (out, in).
        let ours = flat(&grads.get(layer.kernel.as_tensor()).unwrap().t().unwrap());
        let theirs = flat(&torch[&format!("layer{n}.weight.grad")]);
        grad_errors.check(&format!("layer{n}.weight gradient"), &ours, &theirs);
        grad_errors.check(
            &format!("layer{n} mean |grad|"),
            &[mean_abs(&ours)],
            &[mean_abs(&theirs)],
        );
        torch_means.push(mean_abs(&theirs));
        let ours = flat(grads.get(layer.bias.as_tensor()).unwrap());
        let theirs = flat(&torch[&format!("layer{n}.bias.grad")]);
        grad_errors.check(&format!("layer{n}.bias gradient"), &ours, &theirs);
    }

    // The candle-nn engine from the same weights, and what the gradient
    // monitor logs of its gradients: norm, mean and max |grad| per layer.
    let standard = build_model(&cfg, data.train.image_size(), &device).unwrap();
    let (_, _, grads) = Engine::CandleNn
        .forward_backward(&standard, &x, &y)
        .unwrap();
    let monitor_dir = work.join(format!("{label}-monitor"));
    let vars = standard.layers.iter().enumerate().flat_map(|(i, layer)| {
        let n = i + 1;
        [
            (format!("layer{n}.weight"), layer.kernel.clone()),
            (format!("layer{n}.bias"), layer.bias.clone()),
        ]
    });
    let writer = SummaryWriter::new(&monitor_dir).unwrap();
    let mut monitor = GradMonitor::from_vars(vars, writer).unwrap();
    monitor.observe(0, &grads).unwrap();
    monitor.close().unwrap();
    let logged = helpers::scalars(&helpers::only_event_file(&monitor_dir));
    for (i, layer) in standard.layers.iter().enumerate() {
        let n = i + 1;
        for (param, var) in [("weight", &layer.kernel), ("bias", &layer.bias)] {
            let name = format!("layer{n}.{param}");
            let theirs = flat(&torch[&format!("{name}.grad")]);
            // The engine's gradient itself ((in, out) against (out, in)).
            let ours = grads.get(var.as_tensor()).unwrap();
            let ours = flat(&if param == "weight" {
                ours.t().unwrap()
            } else {
                ours.clone()
            });
            grad_errors.check(
                &format!("{name} gradient, candle-nn engine"),
                &ours,
                &theirs,
            );
            let norm = theirs.iter().map(|g| g * g).sum::<f32>().sqrt();
            let max = theirs.iter().fold(0f32, |m, g| m.max(g.abs()));
            for (tag, want) in [
                (format!("grad_norm/{name}"), norm),
                (format!("grad_mean_abs/{name}"), mean_abs(&theirs)),
                (format!("grad_max_abs/{name}"), max),
            ] {
                let got = logged.get(&tag)[0].1;
                grad_errors.check(&format!("monitor's {tag}"), &[got], &[want]);
            }
        }
    }

    // One real training step through the CLI, from the same weights.
    let logs = work.join(format!("{label}-logs"));
    let saved = work.join(format!("{label}-after.safetensors"));
    let mut cmd = helpers::gradscope();
    cmd.args([
        "--activation",
        activation.name(),
        "--iterations",
        "1",
        "--log-every",
        "1",
    ])
    .args(["--batch-size", &BATCH.to_string(), "--lr", &LR.to_string()])
    .args(["--no-shuffle", "--no-progress"])
    .arg("--init-from")
    .arg(&weights)
    .arg("--save")
    .arg(&saved)
    .arg("--data-dir")
    .arg(data_dir)
    .arg("--logdir")
    .arg(&logs);
    if residual {
        cmd.arg("--residual");
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{label}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let means = logged_means(&helpers::only_run_dir(&logs));
    for (i, theirs) in torch_means.iter().enumerate() {
        let ours = means[&format!("mean_{}", i + 1)];
        grad_errors.check(&format!("logged mean_{}", i + 1), &[ours], &[*theirs]);
    }
    let after = candle_core::safetensors::load(&saved, &device).unwrap();
    let before = candle_core::safetensors::load(&weights, &device).unwrap();
    let mut update_errors = Errors {
        label: label.clone(),
        worst: 0.0,
    };
    let mut step_errors = Errors {
        label: label.clone(),
        worst: 0.0,
    };
    for (name, theirs) in &torch {
        if name.ends_with(".grad") || name == "loss" {
            continue;
        }
        let (ours, theirs) = (flat(&after[name]), flat(theirs));
        step_errors.check(&format!("{name} after one Adam step"), &ours, &theirs);
        // The update itself, not only the weights it moved. It is about lr
        // (1e-3) per element, recovered as a difference of f32 weights near
        // 0.5 whose spacing is 6e-8: up to 6e-5 of it is representation, not
        // arithmetic, hence the looser bound.
        let start = flat(&before[name]);
        let delta = |w: &[f32]| -> Vec<f32> { w.iter().zip(&start).map(|(a, b)| a - b).collect() };
        let (what, tolerance) = (format!("{name} Adam update"), 1e-4);
        update_errors.check_within(&what, &delta(&ours), &delta(&theirs), tolerance);
    }
    eprintln!(
        "{label}: worst relative error {:.1e} in loss, gradients and logged means; \
         {:.1e} in weights after one Adam step; {:.1e} in the update itself",
        grad_errors.worst, step_errors.worst, update_errors.worst
    );
}

#[test]
fn gradients_and_adam_step_match_pytorch() {
    let Some(python) = helpers::python_with_torch() else {
        eprintln!(
            "SKIPPED: no Python with torch; run scripts/setup-venv.sh or set GRADSCOPE_PYTHON"
        );
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    helpers::write_synthetic(&data, 120, 20);
    for activation in Activation::ALL {
        check(&python, &data, work.path(), activation, false);
    }
    for activation in [Activation::Sigmoid, Activation::Tanh] {
        check(&python, &data, work.path(), activation, true);
    }
}

/// Sequences of 28 rows of 28 pixels, hidden 16: big enough to exercise
/// every gate, small enough to run in a blink.
const RECURRENT_HIDDEN: usize = 16;
/// A clipping norm below every cell's gradient norm here, so clipping acts.
const MAX_NORM: f64 = 0.05;

/// Writes the batch `x` and its `labels` (as PyTorch's int64) where the
/// reference scripts read them.
fn save_batch(path: &Path, x: &Tensor, labels: &[u32]) {
    let y: Vec<i64> = labels.iter().map(|&l| i64::from(l)).collect();
    let y = Tensor::new(y, x.device()).unwrap();
    candle_core::safetensors::save(&HashMap::from([("x", x.clone()), ("y", y)]), path).unwrap();
}

/// Runs the PyTorch reference `script` (in scripts/) with `args` on the
/// `weights` and `batch` files, and loads the tensors it wrote beside them.
fn torch_reference(
    python: &Path,
    script: &str,
    args: &[&str],
    weights: &Path,
    batch: &Path,
    label: &str,
) -> HashMap<String, Tensor> {
    let reference = batch.with_file_name(format!("{label}-torch.safetensors"));
    let out = Command::new(python)
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("scripts")
                .join(script),
        )
        .args(args)
        .arg("--weights")
        .arg(weights)
        .arg("--batch")
        .arg(batch)
        .arg("--out")
        .arg(&reference)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{label}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    candle_core::safetensors::load(&reference, &Device::Cpu).unwrap()
}

/// One recurrent cell: gradients of every parameter, dL/dh_t at every step,
/// and the clipped gradients, against PyTorch's module with the same weights
/// on the same batch.
fn check_recurrent(python: &Path, data: &Dataset, work: &Path, cell: Cell) {
    let label = cell.name();
    let cfg = TrainConfig {
        scenario: Scenario::Recurrent(cell),
        recurrent: RecurrentConfig {
            hidden: RECURRENT_HIDDEN,
            // The LSTM with its forget-gate bias set, to check that mapping too.
            forget_bias: (cell == Cell::Lstm).then_some(1.0),
            ..RecurrentConfig::default()
        },
        seed: 5,
        ..helpers::small_config(Activation::Tanh)
    };
    let device = Device::Cpu;
    let model = recurrent::build_model(&cfg, cell, data, &device).unwrap();
    let weights = work.join(format!("{label}-init.safetensors"));
    let named: HashMap<String, Tensor> = model
        .named_vars()
        .into_iter()
        .map(|(name, var)| (name.to_string(), var.as_tensor().clone()))
        .collect();
    candle_core::safetensors::save(&named, &weights).unwrap();

    let sequence = cfg.recurrent.sequence;
    let (steps, inputs) = sequence.steps(28, 28).unwrap();
    let mut x = Vec::new();
    sequence.batch(&data.train, 0..BATCH, &mut x);
    let x = Tensor::from_vec(x, (BATCH, steps, inputs), &device).unwrap();
    let labels: Vec<u32> = data.train.labels[..BATCH]
        .iter()
        .map(|&l| l.into())
        .collect();
    let y = Tensor::new(labels.as_slice(), &device).unwrap();
    let batch = work.join(format!("{label}-batch.safetensors"));
    save_batch(&batch, &x, &labels);

    let max_norm = MAX_NORM.to_string();
    let args = ["--cell", label, "--max-norm", &max_norm];
    let script = "torch_recurrent_reference.py";
    let torch = torch_reference(python, script, &args, &weights, &batch, label);

    let mut errors = Errors {
        label: label.to_string(),
        worst: 0.0,
    };
    // What training runs: the fused op, recording dL/dh_t.
    let recorded = TimeGrads::default();
    let (logits, loss, mut grads) = recurrent::forward_backward(&model, &x, &y, &recorded).unwrap();
    errors.check("logits", &flat(&logits), &flat(&torch["logits"]));
    errors.check(
        "loss",
        &[loss.to_scalar::<f32>().unwrap()],
        &flat(&torch["loss"]),
    );
    for (name, var) in model.named_vars() {
        let ours = flat(grads.get(var.as_tensor()).unwrap());
        errors.check(
            &format!("{name} gradient"),
            &ours,
            &flat(&torch[&format!("grad.{name}")]),
        );
    }
    // dL/dh_t, whole and as the norms the run logs; and by the probes of
    // candle's standard ops, the fused op's reference.
    let hgrad = &torch["hgrad"];
    let norms = recorded.norms(steps).unwrap();
    let fused = recorded.values().unwrap();
    let probes = model.probes(BATCH, steps).unwrap();
    let standard = model.forward_probed(&x, &probes).unwrap();
    let probe_grads = gradscope::cross_entropy(&standard, &y)
        .unwrap()
        .backward()
        .unwrap();
    let probe_norms = recurrent::time_norms(&probe_grads, &probes).unwrap();
    let per_step = BATCH * RECURRENT_HIDDEN;
    for (t, probe) in probes.iter().enumerate() {
        let theirs = flat(&hgrad.get(t).unwrap());
        let ours = &fused[t * per_step..(t + 1) * per_step];
        errors.check(&format!("dL/dh_{}", t + 1), ours, &theirs);
        let probed = flat(probe_grads.get(probe.as_tensor()).unwrap());
        errors.check(&format!("dL/dh_{} by the probes", t + 1), &probed, &theirs);
        let norm = theirs.iter().map(|g| g * g).sum::<f32>().sqrt();
        errors.check(&format!("||dL/dh_{}||", t + 1), &[norms[t] as f32], &[norm]);
        errors.check(
            &format!("||dL/dh_{}|| by the probes", t + 1),
            &[probe_norms[t] as f32],
            &[norm],
        );
    }
    // Clipping as torch.nn.utils.clip_grad_norm_.
    let total = clip_grad_norm(&mut grads, &model.vars(), MAX_NORM).unwrap();
    errors.check("total norm", &[total as f32], &flat(&torch["total_norm"]));
    assert!(total > MAX_NORM, "{label}: clipping must act: {total}");
    for (name, var) in model.named_vars() {
        let ours = flat(grads.get(var.as_tensor()).unwrap());
        errors.check(
            &format!("{name} clipped gradient"),
            &ours,
            &flat(&torch[&format!("clipped.{name}")]),
        );
    }
    eprintln!(
        "{label}: worst relative error {:.1e} in logits, loss, gradients, dL/dh_t and clipping",
        errors.worst
    );
}

#[test]
fn recurrent_gradients_through_time_and_clipping_match_pytorch() {
    let Some(python) = helpers::python_with_torch() else {
        eprintln!(
            "SKIPPED: no Python with torch; run scripts/setup-venv.sh or set GRADSCOPE_PYTHON"
        );
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let data = helpers::synthetic_dataset(&work.path().join("data"), 60, 10);
    for cell in Cell::ALL {
        check_recurrent(&python, &data, work.path(), cell);
    }
}
