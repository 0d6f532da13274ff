//! Deep networks: 50 layers train without NaN for every activation, and at
//! 20 layers skip connections close most of sigmoid's gradient gap.

use gradscope::Activation;
use gradscope::{train, Scenario, TrainConfig};

use crate::helpers;

/// The standard short run, `layers` deep.
fn deep_config(activation: Activation, residual: bool, layers: usize) -> TrainConfig {
    TrainConfig {
        scenario: Scenario::Mlp {
            activation,
            residual,
        },
        layers,
        ..helpers::small_config(activation)
    }
}

#[test]
fn fifty_layers_train_without_nan_for_every_activation() {
    let dir = tempfile::tempdir().unwrap();
    let data = helpers::synthetic_dataset(&dir.path().join("data"), 200, 20);
    for activation in Activation::ALL {
        for residual in [false, true] {
            let name = format!("{activation}-{residual}");
            let (run, _) = train(
                &name,
                &data,
                &deep_config(activation, residual, 50),
                &dir.path().join(&name),
            )
            .unwrap_or_else(|e| panic!("{name}: {e:#}"));
            assert!(run.final_loss.is_finite(), "{name}");
            assert_eq!(run.mean_grad.len(), 50);
            assert!(
                run.mean_grad.iter().all(|g| g.is_finite()),
                "{name}: {:?}",
                run.mean_grad
            );
        }
    }
}

#[test]
fn residual_connections_close_sigmoids_gap_at_twenty_layers() {
    let dir = tempfile::tempdir().unwrap();
    let data = helpers::synthetic_dataset(&dir.path().join("data"), 200, 20);
    let (plain, _) = train(
        "plain",
        &data,
        &deep_config(Activation::Sigmoid, false, 20),
        &dir.path().join("p"),
    )
    .unwrap();
    let (residual, _) = train(
        "res",
        &data,
        &deep_config(Activation::Sigmoid, true, 20),
        &dir.path().join("r"),
    )
    .unwrap();
    // Orders of magnitude between last and first layer without skips...
    assert!(
        plain.attenuation() > 1e6,
        "plain: {:e}",
        plain.attenuation()
    );
    // ...and most of that gap closed with them.
    assert!(
        residual.attenuation() < plain.attenuation() / 1e4,
        "residual {:e} vs plain {:e}",
        residual.attenuation(),
        plain.attenuation()
    );
}
