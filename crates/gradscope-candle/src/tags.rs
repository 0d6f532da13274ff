//! Every tag [`GradMonitor`](crate::GradMonitor) writes, named once: the
//! monitor writes them, its Custom Scalars layout ([`crate::layout`]) finds
//! them by [`PerParam::regex`], and readers (gradscope's reports, your own
//! scripts) use the same names.
//!
//! Per parameter `p` (named as the model's `VarMap` names it), one section
//! each in TensorBoard: [`GRAD_MEAN_ABS`], [`GRAD_MAX_ABS`], [`GRAD_NORM`],
//! [`UPDATE_RATIO`], [`UPDATE_COSINE`], [`NONFINITE`], [`GRAD_ZEROS`]
//! (scalars) and [`GRAD`], [`GRAD_LOG10_ABS`], [`WEIGHT`] (histograms).
//! Per layer group `g`: [`GROUP_GRAD_MEAN_ABS`] and
//! [`GROUP_LOG10_GRAD_MEAN_ABS`]. Text: [`GRADIENT_HEALTH`]. At the end:
//! [`ATTENUATION`].
//!
//! ```
//! use gradscope_candle::tags::{GRAD_MEAN_ABS, GROUP_GRAD_MEAN_ABS};
//! assert_eq!(GRAD_MEAN_ABS.tag("fc1.weight"), "grad_mean_abs/fc1.weight");
//! assert_eq!(GROUP_GRAD_MEAN_ABS.regex(), "^group_grad_mean_abs/");
//! ```

use gradscope_tensorboard::custom_scalars::layout::escape;

/// A family of tags, one per parameter or layer group: a prefix ending in
/// `/` (so TensorBoard draws the family as one section) and the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerParam {
    prefix: &'static str,
}

impl PerParam {
    /// The family `<prefix><name>`.
    pub const fn new(prefix: &'static str) -> PerParam {
        PerParam { prefix }
    }

    /// The tag of `name` (a parameter's or a layer group's).
    pub fn tag(self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// A regular expression matching every tag of the family, for the
    /// Custom Scalars dashboard's charts.
    pub fn regex(self) -> String {
        format!("^{}", escape(self.prefix))
    }

    /// The name a tag of this family carries, if it is one.
    ///
    /// ```
    /// use gradscope_candle::tags::GRAD_NORM;
    /// assert_eq!(GRAD_NORM.name("grad_norm/fc.bias"), Some("fc.bias"));
    /// assert_eq!(GRAD_NORM.name("loss"), None);
    /// ```
    pub fn name(self, tag: &str) -> Option<&str> {
        tag.strip_prefix(self.prefix)
    }
}

/// Scalar: the mean |value| of a parameter's gradient
/// ([`stats::mean_abs`](crate::stats::mean_abs)).
pub const GRAD_MEAN_ABS: PerParam = PerParam::new("grad_mean_abs/");
/// Scalar: the largest finite |value| of a parameter's gradient.
pub const GRAD_MAX_ABS: PerParam = PerParam::new("grad_max_abs/");
/// Scalar: the L2 norm of a parameter's gradient (finite values).
pub const GRAD_NORM: PerParam = PerParam::new("grad_norm/");
/// Scalar: log10 of the optimizer step's size relative to the parameter's
/// ([`stats::update_ratio`](crate::stats::update_ratio)).
pub const UPDATE_RATIO: PerParam = PerParam::new("update_ratio/");
/// Histogram: a parameter's gradient.
pub const GRAD: PerParam = PerParam::new("grad/");
/// Histogram: log10 |value| of a parameter's gradient, exact zeros left
/// out ([`magnitude::log10_abs_histogram`](crate::magnitude::log10_abs_histogram)):
/// gradients decades apart sit decades apart.
pub const GRAD_LOG10_ABS: PerParam = PerParam::new("grad_log10_abs/");
/// Scalar: how many values of a parameter's gradient are exactly zero (the
/// ones [`GRAD_LOG10_ABS`] leaves out).
pub const GRAD_ZEROS: PerParam = PerParam::new("grad_zeros/");
/// Scalar: the cosine between the optimizer's step and the negative
/// gradient ([`stats::step_cosine`](crate::stats::step_cosine)).
pub const UPDATE_COSINE: PerParam = PerParam::new("update_cosine/");
/// Histogram: a parameter's values.
pub const WEIGHT: PerParam = PerParam::new("weight/");
/// Scalar: how many NaN or infinite values a parameter's gradient held,
/// written only when there are any.
pub const NONFINITE: PerParam = PerParam::new("nonfinite/");
/// Scalar: the mean |grad| over every value of a layer group (the
/// parameters sharing the name before their last `.`).
pub const GROUP_GRAD_MEAN_ABS: PerParam = PerParam::new("group_grad_mean_abs/");
/// Scalar: log10 of [`GROUP_GRAD_MEAN_ABS`], for charts without a log scale
/// (the Custom Scalars dashboard has none, and vanishing gradients span
/// decades).
pub const GROUP_LOG10_GRAD_MEAN_ABS: PerParam = PerParam::new("group_log10_grad_mean_abs/");

/// Text: the gradient health report, at the first observed step
/// ([`Connectivity`](crate::Connectivity)) and at the first step whose
/// gradients held NaN or infinite values.
pub const GRADIENT_HEALTH: &str = "gradient_health";

/// Scalar, once at the end: the last layer's mean |grad| over the first
/// layer's, each averaged over the logged steps
/// ([`stats::attenuation`](crate::stats::attenuation)).
pub const ATTENUATION: &str = "attenuation";
