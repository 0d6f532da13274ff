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

/// Recurrent runs, per logged step: ||dL/dh_1||, the gradient of the
/// batch's loss with respect to the first hidden state (the L2 norm over
/// the batch and the hidden units).
pub const TIME_GRAD_FIRST: &str = "time_grad_first";
/// Recurrent runs: ||dL/dh_T||, at the last time step.
pub const TIME_GRAD_LAST: &str = "time_grad_last";
/// Recurrent runs: [`TIME_GRAD_LAST`] over [`TIME_GRAD_FIRST`] at the
/// logged step: how many times weaker the gradient is at t = 1.
pub const TIME_ATTENUATION: &str = "time_attenuation";
/// Image: the recurrent run's ||dL/dh_t|| against t, one curve per logged
/// step so far.
pub const TIME_GRAD_PROFILE: &str = "time_grad_profile";

/// Scalar: ||dL/dh_t|| at the fixed fraction `numerator/denominator` of
/// the sequence (`time_grad_at_1_4` is t = T/4).
///
/// ```
/// assert_eq!(gradscope::tags::time_grad_at(3, 4), "time_grad_at_3_4");
/// ```
pub fn time_grad_at(numerator: usize, denominator: usize) -> String {
    format!("time_grad_at_{numerator}_{denominator}")
}

/// Scalar: ||dL/dh_t|| at time step `t` (from 1), zero-padded to three
/// digits so TensorBoard lists the steps in order: the profile's points.
///
/// ```
/// assert_eq!(gradscope::tags::time_grad(7), "time_grad/t007");
/// ```
pub fn time_grad(t: usize) -> String {
    format!("time_grad/t{t:03}")
}

/// Step `t` of a [`time_grad`] tag, for the readers.
///
/// ```
/// assert_eq!(gradscope::tags::time_grad_step("time_grad/t196"), Some(196));
/// assert_eq!(gradscope::tags::time_grad_step("mean_1"), None);
/// ```
pub fn time_grad_step(tag: &str) -> Option<usize> {
    tag.strip_prefix("time_grad/t")?.parse().ok()
}
