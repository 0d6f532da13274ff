//! The Custom Scalars dashboard's one-chart view of gradient flow: every
//! layer's (or layer group's) mean |grad| on one chart, as log10 (the
//! dashboard has no log scale, and vanishing gradients span decades) and as
//! is, and the optimizer's update ratios on a third.
//!
//! [`GradMonitor`](crate::GradMonitor) writes [`monitor_layout`] into its
//! run; gradscope's trainer builds its own from [`gradient_flow`] with its
//! per-layer tags, so both draw the same charts.
//!
//! ```
//! use gradscope_candle::layout::{gradient_flow, FlowTags};
//!
//! let category = gradient_flow("layer", &FlowTags {
//!     log10_mean_grad: r"^log10_mean_\d+$".into(),
//!     mean_grad: r"^mean_\d+$".into(),
//!     update_ratio: r"^update_ratio_\d+$".into(),
//! });
//! let category = category.into_proto();
//! assert_eq!(category.title, "gradient flow: every layer on one chart");
//! assert_eq!(category.chart[0].title, "log10 mean |grad| per layer");
//! ```

use gradscope_tensorboard::custom_scalars::{Category, Layout};

use crate::tags;

/// The regular expressions that find the three tag families a
/// gradient-flow category draws.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowTags {
    /// log10 of each layer's mean |grad|.
    pub log10_mean_grad: String,
    /// Each layer's mean |grad|.
    pub mean_grad: String,
    /// Each layer's (or parameter's) log10 update ratio.
    pub update_ratio: String,
}

/// The category "gradient flow: every `unit` on one chart", with the charts
/// "log10 mean |grad| per `unit`", "mean |grad| per `unit`" and
/// "log10 |update| / |weights| per `unit`".
pub fn gradient_flow(unit: &str, tags: &FlowTags) -> Category {
    Category::new(&format!("gradient flow: every {unit} on one chart"))
        .multiline(
            &format!("log10 mean |grad| per {unit}"),
            [tags.log10_mean_grad.as_str()],
        )
        .multiline(
            &format!("mean |grad| per {unit}"),
            [tags.mean_grad.as_str()],
        )
        .multiline(
            &format!("log10 |update| / |weights| per {unit}"),
            [tags.update_ratio.as_str()],
        )
}

/// The layout [`GradMonitor`](crate::GradMonitor) writes: its layer groups'
/// [`GROUP_LOG10_GRAD_MEAN_ABS`](tags::GROUP_LOG10_GRAD_MEAN_ABS) and
/// [`GROUP_GRAD_MEAN_ABS`](tags::GROUP_GRAD_MEAN_ABS), and every
/// parameter's [`UPDATE_RATIO`](tags::UPDATE_RATIO), each on one chart.
///
/// ```
/// let layout = gradscope_candle::layout::monitor_layout();
/// let title = &layout.to_proto().category[0].title;
/// assert_eq!(title, "gradient flow: every layer group on one chart");
/// ```
pub fn monitor_layout() -> Layout {
    Layout::new().category(gradient_flow(
        "layer group",
        &FlowTags {
            log10_mean_grad: tags::GROUP_LOG10_GRAD_MEAN_ABS.regex(),
            mean_grad: tags::GROUP_GRAD_MEAN_ABS.regex(),
            update_ratio: tags::UPDATE_RATIO.regex(),
        },
    ))
}
