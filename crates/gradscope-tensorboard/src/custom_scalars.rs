//! The Custom Scalars dashboard's layout: categories of charts, each chart
//! several scalar tags in one plot (multiline, tags given as regular
//! expressions) or a value with a lower and an upper bound drawn as a band
//! (margin).
//!
//! ```
//! use gradscope_tensorboard::custom_scalars::{layout, Category, Layout, Margin};
//!
//! let layout = Layout::new().category(
//!     Category::new("losses")
//!         .multiline("train vs test", ["loss/train", "loss/test"])
//!         .margin("accuracy ± sd", [Margin::new("acc/mean", "acc/low", "acc/high")]),
//! );
//! let value = layout.to_value();
//! assert_eq!(value.tag, "custom_scalars__config__");
//! # let _ = layout::escape("a.b");
//! ```

use prost::Message;

use crate::proto::{
    self, chart, margin_chart_content, summary, DataClass, DataType, MarginChartContent,
    MultilineChartContent, TensorProto, TensorShapeProto,
};
use crate::summary::plugin_metadata;

/// The plugin name TensorBoard's Custom Scalars dashboard reads.
pub const PLUGIN_NAME: &str = "custom_scalars";
/// The tag the layout is stored under.
pub const CONFIG_TAG: &str = "custom_scalars__config__";

/// A margin chart's series: three scalar tags (not regular expressions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Margin {
    /// The tag of the line.
    pub value: String,
    /// The tag of the band's lower edge.
    pub lower: String,
    /// The tag of the band's upper edge.
    pub upper: String,
}

impl Margin {
    /// A series of `value` between `lower` and `upper`.
    ///
    /// ```
    /// # use gradscope_tensorboard::custom_scalars::Margin;
    /// let m = Margin::new("acc", "acc_lo", "acc_hi");
    /// assert_eq!(m.lower, "acc_lo");
    /// ```
    pub fn new(value: &str, lower: &str, upper: &str) -> Margin {
        Margin {
            value: value.into(),
            lower: lower.into(),
            upper: upper.into(),
        }
    }
}

/// A collapsible section of charts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Category(proto::Category);

impl Category {
    /// An empty, open category titled `title`.
    ///
    /// ```
    /// # use gradscope_tensorboard::custom_scalars::Category;
    /// let c = Category::new("losses").multiline("all", ["loss/.*"]).closed(true);
    /// assert_eq!(c.into_proto().chart.len(), 1);
    /// ```
    pub fn new(title: &str) -> Category {
        Category(proto::Category {
            title: title.to_string(),
            ..Default::default()
        })
    }

    /// Adds a line chart of every scalar tag matching any of the regular
    /// expressions `tags`.
    pub fn multiline(
        mut self,
        title: &str,
        tags: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.0.chart.push(proto::Chart {
            title: title.to_string(),
            content: Some(chart::Content::Multiline(MultilineChartContent {
                tag: tags.into_iter().map(Into::into).collect(),
            })),
        });
        self
    }

    /// Adds a margin chart: each series a line with a band around it.
    pub fn margin(mut self, title: &str, series: impl IntoIterator<Item = Margin>) -> Self {
        self.0.chart.push(proto::Chart {
            title: title.to_string(),
            content: Some(chart::Content::Margin(MarginChartContent {
                series: series
                    .into_iter()
                    .map(|m| margin_chart_content::Series {
                        value: m.value,
                        lower: m.lower,
                        upper: m.upper,
                    })
                    .collect(),
            })),
        });
        self
    }

    /// Whether the category starts collapsed.
    pub fn closed(mut self, closed: bool) -> Self {
        self.0.closed = closed;
        self
    }

    /// The protobuf message.
    pub fn into_proto(self) -> proto::Category {
        self.0
    }
}

/// The whole dashboard: categories in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Layout {
    /// The categories, top to bottom.
    pub categories: Vec<Category>,
}

impl Layout {
    /// An empty layout.
    ///
    /// ```
    /// # use gradscope_tensorboard::custom_scalars::{Category, Layout};
    /// let l = Layout::new().category(Category::new("a")).category(Category::new("b"));
    /// assert_eq!(l.categories.len(), 2);
    /// ```
    pub fn new() -> Layout {
        Layout::default()
    }

    /// Appends `category`.
    pub fn category(mut self, category: Category) -> Self {
        self.categories.push(category);
        self
    }

    /// The protobuf message.
    pub fn to_proto(&self) -> proto::Layout {
        proto::Layout {
            version: 0,
            category: self.categories.iter().map(|c| c.0.clone()).collect(),
        }
    }

    /// The summary value that carries the layout: a scalar `DT_STRING`
    /// tensor holding the serialized `Layout`, under [`CONFIG_TAG`].
    pub fn to_value(&self) -> summary::Value {
        layout::value(&self.to_proto())
    }
}

/// Lower-level helpers.
pub mod layout {
    use super::*;

    /// The summary value carrying `layout` under [`CONFIG_TAG`].
    ///
    /// ```
    /// # use gradscope_tensorboard::custom_scalars::layout;
    /// let v = layout::value(&Default::default());
    /// assert_eq!(v.metadata.unwrap().plugin_data.unwrap().plugin_name, "custom_scalars");
    /// ```
    pub fn value(layout: &proto::Layout) -> summary::Value {
        summary::Value {
            tag: CONFIG_TAG.to_string(),
            metadata: Some(plugin_metadata(PLUGIN_NAME, Vec::new(), DataClass::Tensor)),
            value: Some(summary::value::Value::Tensor(TensorProto {
                dtype: DataType::DtString as i32,
                tensor_shape: Some(TensorShapeProto::default()),
                string_val: vec![layout.encode_to_vec()],
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    /// `text` with every regular-expression metacharacter escaped, so that
    /// a multiline chart's pattern matches the tag literally.
    ///
    /// ```
    /// # use gradscope_tensorboard::custom_scalars::layout::escape;
    /// assert_eq!(escape("lr (x0.1)"), r"lr \(x0\.1\)");
    /// ```
    pub fn escape(text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            if "\\.+*?()|[]{}^$".contains(c) {
                out.push('\\');
            }
            out.push(c);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_round_trips_with_both_chart_kinds() {
        let l = Layout::new().category(
            Category::new("c")
                .multiline("m", ["a", "b/.*"])
                .margin("g", [Margin::new("v", "lo", "hi")])
                .closed(true),
        );
        let v = l.to_value();
        let Some(summary::value::Value::Tensor(t)) = &v.value else {
            panic!("no tensor")
        };
        assert_eq!(t.dtype, DataType::DtString as i32);
        let decoded = proto::Layout::decode(t.string_val[0].as_slice()).unwrap();
        assert_eq!(decoded, l.to_proto());
        let c = &decoded.category[0];
        assert!(c.closed);
        assert_eq!(
            c.chart[0].content,
            Some(chart::Content::Multiline(MultilineChartContent {
                tag: vec!["a".into(), "b/.*".into()]
            }))
        );
        let Some(chart::Content::Margin(m)) = &c.chart[1].content else {
            panic!("no margin chart")
        };
        assert_eq!(
            (m.series[0].lower.as_str(), m.series[0].upper.as_str()),
            ("lo", "hi")
        );
    }
}
