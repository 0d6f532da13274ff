//! The experiment itself, on real MNIST digits: sigmoid's gradient vanishes
//! far more than ReLU's and leaky ReLU's, and that costs accuracy.
//!
//! Needs `data/mnist` (`scripts/fetch-data.sh`). Skipped with a message when
//! it is missing, unless GRADSCOPE_REQUIRE_MNIST is set (`scripts/test.sh`
//! sets it), in which case a missing data set fails the test.

use std::path::Path;

use clap::Parser;
use gradscope::{Cli, Command};

#[test]
fn sigmoid_vanishes_and_loses_accuracy() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    if !data.is_dir() {
        assert!(
            std::env::var_os("GRADSCOPE_REQUIRE_MNIST").is_none(),
            "{} is missing: run scripts/fetch-data.sh",
            data.display()
        );
        eprintln!(
            "SKIPPED: {} missing; run scripts/fetch-data.sh",
            data.display()
        );
        return;
    }
    let logs = tempfile::tempdir().unwrap();
    let cli = Cli::try_parse_from([
        "gradscope",
        "--scenario",
        "all",
        "--no-progress",
        "--data-dir",
        data.to_str().unwrap(),
        "--logdir",
        logs.path().to_str().unwrap(),
    ])
    .unwrap();
    let Command::Train(args) = cli.command() else {
        panic!("not a training command")
    };
    let runs = gradscope::run_experiment(&args.experiment().unwrap(), || {}).unwrap();
    let [sigmoid, relu, leaky] = &runs[..] else {
        panic!("expected three runs, got {}", runs.len())
    };
    assert_eq!(
        (
            sigmoid.name.as_str(),
            relu.name.as_str(),
            leaky.name.as_str()
        ),
        ("sigmoid", "relu", "leaky_relu")
    );
    for other in [relu, leaky] {
        assert!(
            sigmoid.attenuation() >= 3.0 * other.attenuation(),
            "sigmoid attenuates {:.1}x, {} {:.1}x",
            sigmoid.attenuation(),
            other.name,
            other.attenuation()
        );
    }
    assert!(
        sigmoid.test_acc <= relu.test_acc - 0.20,
        "sigmoid test acc {} vs relu {}",
        sigmoid.test_acc,
        relu.test_acc
    );
    for run in ["sigmoid", "relu", "leaky_relu"] {
        assert!(logs.path().join(run).is_dir());
    }
}
