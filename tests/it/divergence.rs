//! Where a divergence began (docs/views.md): a non-finite value injected
//! into one chosen layer's forward pass, or into one chosen layer's
//! backward pass, through the weights a run starts from (`--init-from`'s
//! checkpoint), is located exactly: layer, pass, what it was, iteration;
//! in the error the run ends with and in the Text dashboard's
//! `divergence`.

use std::path::Path;

use candle_core::{Device, Tensor, Var};
use gradscope::tags;
use gradscope::{build_model, train, Diverged};
use gradscope::{checkpoint, Activation, Mlp};
use gradscope::{Located, Origin, Pass, Site};
use gradscope_tensorboard::proto::{event, summary::value::Value};

use crate::helpers;

/// Sets every entry `(row, col)` of `var` for which `f` gives a value.
fn set(var: &Var, f: impl Fn(usize, usize) -> Option<f32>) {
    let dims = var.dims().to_vec();
    let cols = *dims.last().unwrap();
    let mut values = var.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    for (i, v) in values.iter_mut().enumerate() {
        if let Some(new) = f(i / cols, i % cols) {
            *v = new;
        }
    }
    var.set(&Tensor::from_vec(values, dims, &Device::Cpu).unwrap())
        .unwrap();
}

/// Trains `activation`'s network from its seed's weights changed by
/// `inject`, and returns how it diverged and the `divergence` text.
fn diverge(
    dir: &Path,
    name: &str,
    activation: Activation,
    inject: impl Fn(&Mlp),
) -> (Diverged, String) {
    let data = helpers::synthetic_dataset(&dir.join("data"), 200, 50);
    let start = dir.join(format!("{name}.safetensors"));
    let mut cfg = helpers::small_config(activation);
    let model = build_model(&cfg, data.train.image_size(), &Device::Cpu).unwrap();
    inject(&model);
    checkpoint::save(&model, &start).unwrap();
    cfg.init_from = Some(start);
    let run_dir = dir.join(name);
    let err = train(name, &data, &cfg, &run_dir).unwrap_err();
    let diverged = err
        .downcast_ref::<Diverged>()
        .unwrap_or_else(|| panic!("{name}: not a divergence: {err:#}"))
        .clone();
    let events = helpers::events(&helpers::only_event_file(&run_dir)).events;
    let text = events
        .iter()
        .filter_map(|e| match &e.what {
            Some(event::What::Summary(s)) => Some(s),
            _ => None,
        })
        .flat_map(|s| &s.value)
        .find(|v| v.tag == tags::DIVERGENCE)
        .map(|v| match &v.value {
            Some(Value::Tensor(t)) => String::from_utf8(t.string_val[0].clone()).unwrap(),
            other => panic!("not text: {other:?}"),
        })
        .unwrap_or_else(|| panic!("{name}: no divergence text"));
    (diverged, text)
}

fn found(diverged: &Diverged) -> &Origin {
    match &diverged.origin {
        Located::Found(origin) => origin,
        other => panic!("{}: not located: {other}", diverged.run),
    }
}

/// A huge column in layer k's kernel (3e38), fed by a layer whose outputs
/// are all large and positive (ReLU over a bias of 10; layer 1 is fed the
/// images): that unit's pre-activation overflows to inf at once, and ReLU
/// carries it on until the loss is NaN. Located at layer k's
/// pre-activation (the output layer's: the logits).
#[test]
fn a_forward_overflow_is_located_at_the_layer_it_was_injected_in() {
    let dir = tempfile::tempdir().unwrap();
    for (layer, site) in [
        (1, Site::PreActivation),
        (4, Site::PreActivation),
        (6, Site::Logits),
    ] {
        let name = format!("forward-{layer}");
        let (diverged, text) = diverge(dir.path(), &name, Activation::Relu, |m| {
            if layer > 1 {
                set(&m.layers[layer - 2].bias, |_, _| Some(10.0));
            }
            set(&m.layers[layer - 1].kernel, |_, c| (c == 0).then_some(3e38));
        });
        let origin = found(&diverged);
        assert_eq!(diverged.iteration, 0, "{name}");
        assert_eq!(origin.iteration, 0, "{name}");
        assert_eq!((origin.layer, origin.site), (Some(layer), site), "{origin}");
        assert_eq!(origin.site.pass(), Pass::Forward);
        assert_eq!(origin.value, f32::INFINITY, "{origin}");
        // The other units' pre-activations are ordinary numbers.
        let largest = origin.largest_finite.expect("finite values beside it");
        assert!(largest > 0.0 && largest < 1e6, "{origin}");
        let said = origin.to_string();
        let what = if layer == 6 {
            "logits"
        } else {
            "pre-activation"
        };
        let want = format!(
            "layer {layer}'s {what} overflowed to inf in the forward pass at iteration 0 \
             (largest finite |value| "
        );
        assert!(said.starts_with(&want), "{said}");
        assert!(diverged.to_string().contains(&said), "{diverged}");
        assert!(text.contains(&said), "{text}");
        // TensorBoard's own loader shows the same words in the Text dashboard.
        if let Some(python) = helpers::python() {
            let loaded = helpers::tensorboard_load(&python, &dir.path().join(&name));
            let shown = &loaded["runs"]["."]["divergence"];
            assert_eq!(shown["plugin"], "text", "{name}: {shown}");
            let shown = shown["points"][0][1].as_str().unwrap();
            assert!(shown.contains(&said), "{name}: {shown}");
        }
    }
}

/// Layer L's outputs all zero (zero kernel and bias; tanh(0) = 0) hide a
/// huge layer L+1 (1e30) from the forward pass, which stays finite (the
/// loss is ln 10), while the output layer's huge column (1e30) sends a
/// gradient of about 1e28 back, which layer L+1's kernel makes overflow
/// (to ±inf, or NaN where overflowing products of both signs meet):
/// located at the gradient reaching layer L's activation, in the backward
/// pass, where the run's own check sees only that layer 1's kernel
/// gradient is not finite.
#[test]
fn a_backward_overflow_is_located_at_the_layer_it_was_injected_in() {
    let dir = tempfile::tempdir().unwrap();
    for layer in [2, 4] {
        let name = format!("backward-{layer}");
        let (diverged, text) = diverge(dir.path(), &name, Activation::Tanh, |m| {
            set(&m.layers[layer - 1].kernel, |_, _| Some(0.0));
            set(&m.layers[layer].kernel, |_, _| Some(1e30));
            set(&m.layers[5].kernel, |_, c| {
                Some(if c == 0 { 1e30 } else { 0.0 })
            });
        });
        let origin = found(&diverged);
        assert_eq!(diverged.iteration, 0, "{name}");
        assert_eq!(origin.iteration, 0, "{name}");
        assert_eq!(
            (origin.layer, origin.site),
            (Some(layer), Site::ActivationGradient),
            "{origin}"
        );
        assert_eq!(origin.site.pass(), Pass::Backward);
        // ±inf products, or their sum across units of both signs: NaN.
        assert!(!origin.value.is_finite(), "{origin}");
        // The run's own check names the first parameter, from the input,
        // whose gradient is not finite: layer 1's kernel, since the overflow
        // flows down to it; where it began is layer `layer`.
        let cause = diverged.cause.to_string();
        assert!(
            cause.contains("the gradient of layer 1's kernel"),
            "{cause}"
        );
        let said = origin.to_string();
        let whose = format!("layer {layer}'s activation's gradient ");
        assert!(
            said.starts_with(&format!("{whose}overflowed to "))
                || said.starts_with(&format!("{whose}became NaN")),
            "{said}"
        );
        assert!(
            said.contains(" in the backward pass at iteration 0 ("),
            "{said}"
        );
        assert!(diverged.to_string().contains(&said), "{diverged}");
        assert!(text.contains(&said), "{text}");
    }
}
