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

/// The [`GradMonitor`](crate::monitor::GradMonitor)'s tags for parameter
/// `param` (named as the model's `VarMap` names it), one section each in
/// TensorBoard. Scalar: its gradient's mean |value|.
pub fn grad_mean_abs(param: &str) -> String {
    format!("grad_mean_abs/{param}")
}

/// Scalar: the largest |value| of `param`'s gradient.
pub fn grad_max_abs(param: &str) -> String {
    format!("grad_max_abs/{param}")
}

/// Scalar: the L2 norm of `param`'s gradient.
pub fn grad_norm(param: &str) -> String {
    format!("grad_norm/{param}")
}

/// Scalar: log10 of the optimizer step's size relative to `param`'s size.
pub fn update_ratio(param: &str) -> String {
    format!("update_ratio/{param}")
}

/// Histogram: `param`'s gradient.
pub fn grad(param: &str) -> String {
    format!("grad/{param}")
}

/// Histogram: `param` itself.
pub fn weight(param: &str) -> String {
    format!("weight/{param}")
}

/// Scalar: how many NaN or infinite values `param`'s gradient held.
pub fn nonfinite(param: &str) -> String {
    format!("nonfinite/{param}")
}

/// Scalar: the mean |grad| over every value of the layer group `group`.
pub fn group_grad_mean_abs(group: &str) -> String {
    format!("group_grad_mean_abs/{group}")
}

/// Scalar, in a seed group's aggregate run (`<run>/mean`, see
/// [`crate::seeds`]): how many seeds the mean and standard deviation are
/// over (the seeds whose runs finished).
pub const SEED_COUNT: &str = "seeds";

/// Text, in an aggregate run: which seeds it is over and which were left
/// out (not finished).
pub const SEED_GROUP: &str = "seed_group";

/// Scalar, in an aggregate run: the standard deviation across seeds of
/// `tag`, whose mean is logged under `tag` itself.
///
/// ```
/// assert_eq!(gradscope::tags::std_of("loss"), "loss/std");
/// ```
pub fn std_of(tag: &str) -> String {
    format!("{tag}/std")
}

/// Scalar, in an aggregate run: mean minus standard deviation of `tag`
/// across seeds (the lower edge of the band in the margin charts).
pub fn lower_of(tag: &str) -> String {
    format!("{tag}/lower")
}

/// Scalar, in an aggregate run: mean plus standard deviation of `tag`.
pub fn upper_of(tag: &str) -> String {
    format!("{tag}/upper")
}
