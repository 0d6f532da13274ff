//! Every tag gradscope writes, named once: the training side writes these
//! and the reports (`compare`, `plot`, REPORT.md, the HParams metrics) read
//! the same names back.
//!
//! Per logged step, for the training batch: [`LOSS`] and [`ACC`]; per dense
//! layer `i` (1 nearest the input): the scalar [`mean_grad(i)`](mean_grad)
//! and the histograms [`grad_histogram(i)`](grad_histogram) and
//! [`weight_histogram(i)`](weight_histogram). At the start of a run: the
//! [`CONFIG`] text. At its end: [`TEST_ACC`], [`TRAIN_ACC`],
//! [`ATTENUATION`] and the [`VANISHING`] text.
//!
//! ```
//! assert_eq!(gradscope::tags::mean_grad(1), "mean_1");
//! assert_eq!(gradscope::tags::grad_histogram(6), "histogram_6");
//! ```

/// Cross-entropy of the logged step's training batch.
pub const LOSS: &str = "loss";
/// Accuracy on the logged step's training batch.
pub const ACC: &str = "acc";
/// Accuracy on the whole test set after training.
pub const TEST_ACC: &str = "test_acc";
/// Accuracy on the whole training set after training.
pub const TRAIN_ACC: &str = "train_acc";
/// Last layer's averaged mean |grad| over the first layer's.
pub const ATTENUATION: &str = "attenuation";
/// Text: the run's configuration, at step 0.
pub const CONFIG: &str = "config";
/// Text: the run's row of the vanishing-gradient table, at the end.
pub const VANISHING: &str = "vanishing_gradient";

/// Scalar: layer `layer`'s mean |dLoss/dW| over its kernel (layers count
/// from 1, nearest the input).
pub fn mean_grad(layer: usize) -> String {
    format!("mean_{layer}")
}

/// Histogram: layer `layer`'s kernel gradient.
pub fn grad_histogram(layer: usize) -> String {
    format!("histogram_{layer}")
}

/// Histogram: layer `layer`'s kernel.
pub fn weight_histogram(layer: usize) -> String {
    format!("hist_weights_{layer}")
}
