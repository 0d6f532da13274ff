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
//! The views of gradient flow (docs/views.md): per layer the scalar
//! [`LOG10_MEAN_GRAD`]; at the diagnosed steps [`UPDATE_RATIO`],
//! [`DEAD_FRACTION`] or [`SATURATED_FRACTION`], the [`ACTIVATIONS`]
//! histograms and the [`FIRST_LAYER_KERNELS`] and [`GRADIENT_FLOW`] images;
//! at the end the [`DIAGNOSIS`] text.
//!
//! The Custom Scalars dashboard's layout, written with every run, finds
//! these tags by the regular expressions of [`PerLayer::regex`] and
//! [`exactly`].
//!
//! ```
//! assert_eq!(gradscope::tags::mean_grad(1), "mean_1");
//! assert_eq!(gradscope::tags::grad_histogram(6), "histogram_6");
//! ```

use gradscope_tensorboard::custom_scalars::layout::escape;

/// Cross-entropy of the logged step's training batch.
pub const LOSS: &str = "loss";
/// Accuracy on the logged step's training batch.
pub const ACC: &str = "acc";
/// Accuracy on the whole test set after training.
pub const TEST_ACC: &str = "test_acc";
/// Accuracy on the whole training set after training.
pub const TRAIN_ACC: &str = "train_acc";
/// Last layer's averaged mean |grad| over the first layer's: the same tag
/// as `GradMonitor`'s, defined by [`gradscope_candle::tags`].
pub use gradscope_candle::tags::ATTENUATION;
/// Text: the run's configuration, at step 0.
pub const CONFIG: &str = "config";
/// Text: the run's row of the vanishing-gradient table, at the end.
pub const VANISHING: &str = "vanishing_gradient";

/// A regular expression matching the tag `tag` and nothing else.
///
/// ```
/// assert_eq!(gradscope::tags::exactly(gradscope::tags::LOSS), "^loss$");
/// ```
pub fn exactly(tag: &str) -> String {
    format!("^{}$", escape(tag))
}

/// A family of per-layer tags: a prefix followed by the layer's number
/// (from 1, nearest the input). The tags and the regular expression that
/// matches all of them (for the Custom Scalars dashboard's charts) come
/// from the one prefix.
///
/// ```
/// use gradscope::tags::MEAN_GRAD;
/// assert_eq!(MEAN_GRAD.tag(3), "mean_3");
/// assert_eq!(MEAN_GRAD.regex(), r"^mean_\d+$");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerLayer {
    prefix: &'static str,
}

impl PerLayer {
    /// The family of tags `<prefix><layer>`.
    pub const fn new(prefix: &'static str) -> PerLayer {
        PerLayer { prefix }
    }

    /// The tag of layer `layer`.
    pub fn tag(self, layer: usize) -> String {
        format!("{}{layer}", self.prefix)
    }

    /// A regular expression matching every layer's tag and nothing else of
    /// ours.
    pub fn regex(self) -> String {
        format!(r"^{}\d+$", escape(self.prefix))
    }
}

/// Scalar: layer `i`'s mean |dLoss/dW| over its kernel ([`mean_grad`]).
pub const MEAN_GRAD: PerLayer = PerLayer::new("mean_");
/// Scalar: log10 of [`MEAN_GRAD`], for charts without a log scale (the
/// Custom Scalars dashboard has none, and the layers' values span decades).
pub const LOG10_MEAN_GRAD: PerLayer = PerLayer::new("log10_mean_");

/// Histogram, diagnosed steps (every logged step at the default
/// `--log-every 200`): log10 |dLoss/dW| of layer `i`'s kernel
/// gradient, exact zeros left out (counted in [`ZERO_GRAD`]): the layers'
/// gradients decades apart, where the linear [`grad_histogram`] puts them
/// all on zero. Buckets of a tenth of a decade.
pub const LOG10_ABS_GRAD: PerLayer = PerLayer::new("log10_abs_grad_");
/// Scalar, with [`LOG10_ABS_GRAD`]: how many entries of layer `i`'s kernel
/// gradient are exactly zero (left out of it).
pub const ZERO_GRAD: PerLayer = PerLayer::new("zero_grad_");

// The per-layer diagnostics below are logged at the diagnosed steps: the
// logged steps, at most one per 200 iterations (`train::views`), so at
// every logged step of the default `--log-every 200`. docs/views.md defines them.

/// Scalar, hidden layers of the ReLU family (ReLU, leaky ReLU, ELU, SELU,
/// GELU, softplus): the fraction of the layer's units that are dead on the
/// logged batch, those whose pre-activation is at most 0 for every example
/// (see `gradscope_candle::units`).
pub const DEAD_FRACTION: PerLayer = PerLayer::new("dead_fraction_");
/// Scalar, hidden layers of sigmoid or tanh: the fraction of the layer's
/// units saturated on the logged batch, those whose derivative is below 1%
/// of its maximum for every example.
pub const SATURATED_FRACTION: PerLayer = PerLayer::new("saturated_fraction_");
/// Scalar, every layer: log10(‖ΔW‖ / ‖W‖) of the optimizer's step of the
/// layer's kernel at the logged step (Frobenius norms, W before the step).
pub const UPDATE_RATIO: PerLayer = PerLayer::new("update_ratio_");
/// Histogram, hidden layers: the activation's outputs f(x·W + b) on the
/// logged batch (before a skip connection adds the layer's input back).
pub const ACTIVATIONS: PerLayer = PerLayer::new("activations_");

// The optimizer's side (docs/views.md): the gradient's norms and the
// clipping at every logged step, Adam's moments and the step's cosine at
// the diagnosed steps.

/// Scalar: ‖dLoss/dW‖ of layer `i`'s kernel before any clipping (L2 norm).
pub const GRAD_NORM: PerLayer = PerLayer::new("grad_norm_");
/// Scalar, fused Adam: ‖m‖ of Adam's first moment of layer `i`'s kernel,
/// after the logged step's update.
pub const ADAM_M_NORM: PerLayer = PerLayer::new("adam_m_norm_");
/// Scalar, fused Adam: ‖v‖ of the second moment, likewise.
pub const ADAM_V_NORM: PerLayer = PerLayer::new("adam_v_norm_");
/// Scalar, fused Adam: the cosine between the step the optimizer took on
/// layer `i`'s kernel (W_after − W_before) and the negative gradient.
pub const UPDATE_COSINE: PerLayer = PerLayer::new("update_cosine_");
/// Scalar, with `--clip-norm`: the global norm of every parameter's
/// gradient before clipping (what clipping compares with the bound).
pub const GLOBAL_GRAD_NORM: &str = "grad_norm";
/// Scalar, with `--clip-norm`: the fraction of the iterations since the
/// last logged step (this one included) whose gradients were clipped.
pub const CLIPPED_FRACTION: &str = "clipped_fraction";

/// Image: the first layer's kernel, one picture per unit (its weights over
/// the input image), tiled; at the first and the last diagnosed step.
pub const FIRST_LAYER_KERNELS: &str = "first_layer_kernels";
/// Image: the bar chart of every layer's mean |grad| (log scale) at a
/// logged step, at most one per 200 iterations.
pub const GRADIENT_FLOW: &str = "gradient_flow";
/// Text, at the end of a diverged run: what turned non-finite and where
/// the first non-finite value was (`train::origin`).
pub const DIVERGENCE: &str = "divergence";
/// Text: the run's diagnosis in words (vanishing, exploding, dead and
/// saturated layers), at the end.
pub const DIAGNOSIS: &str = "diagnosis";

/// Scalar: layer `layer`'s mean |dLoss/dW| over its kernel (layers count
/// from 1, nearest the input).
pub fn mean_grad(layer: usize) -> String {
    MEAN_GRAD.tag(layer)
}

/// Histogram: layer `layer`'s kernel gradient.
pub fn grad_histogram(layer: usize) -> String {
    format!("histogram_{layer}")
}

/// Histogram: layer `layer`'s kernel.
pub fn weight_histogram(layer: usize) -> String {
    format!("hist_weights_{layer}")
}

/// Scalar, in a seed group's aggregate run (`<run>/mean`, see
/// `crate::seeds`): how many seeds the mean and standard deviation are
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
    format!("{TIME_GRAD_AT}{numerator}_{denominator}")
}

/// The start of every [`time_grad_at`] tag.
const TIME_GRAD_AT: &str = "time_grad_at_";

/// The regular expression (for the Custom Scalars dashboard) matching the
/// gradient at the first and last time steps and at the fixed fractions of
/// the sequence between them.
///
/// ```
/// let re = gradscope::tags::time_grad_points_regex();
/// assert_eq!(re, "^(time_grad_first|time_grad_last|time_grad_at_\\d+_\\d+)$");
/// ```
pub fn time_grad_points_regex() -> String {
    format!(
        "^({}|{}|{}\\d+_\\d+)$",
        escape(TIME_GRAD_FIRST),
        escape(TIME_GRAD_LAST),
        escape(TIME_GRAD_AT)
    )
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
