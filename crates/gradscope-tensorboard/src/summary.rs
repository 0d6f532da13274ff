//! Summary builders: pure functions from values to protobuf messages.
//!
//! Nothing here touches a file; [`EventWriter`](crate::EventWriter) frames
//! and writes what these return. Keeping the two apart (as tensorboardX
//! does) means the builders are tested on values alone.
//!
//! ```
//! use gradscope_tensorboard::summary::{scalar, summary_event, text};
//!
//! let event = summary_event(100, 1.7e9, vec![scalar("loss", 0.25), text("note", "*ok*")]);
//! assert_eq!(event.step, 100);
//! ```

use std::time::{SystemTime, UNIX_EPOCH};

use prost::Message;

use crate::histogram::{self, Histogram};
use crate::proto::{
    event, summary, summary_metadata, DataClass, DataType, Event, Summary, SummaryMetadata,
    TensorProto, TensorShapeProto, TextPluginData,
};

/// The `file_version` every TensorBoard event file starts with.
pub const FILE_VERSION: &str = "brain.Event:2";

/// Seconds since the Unix epoch, as event `wall_time` wants it.
pub fn wall_time_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The first event of a file: its format version.
pub fn file_version_event(wall_time: f64) -> Event {
    Event {
        wall_time,
        step: 0,
        what: Some(event::What::FileVersion(FILE_VERSION.to_string())),
    }
}

/// A scalar as `simple_value`, the form both of TensorBoard's loaders read
/// directly (values are float32 on disk).
pub fn scalar(tag: &str, value: f32) -> summary::Value {
    summary::Value {
        tag: tag.to_string(),
        value: Some(summary::value::Value::SimpleValue(value)),
        ..Default::default()
    }
}

/// A histogram of `values` with TensorFlow's default buckets. Non-finite
/// values are left out; the count comes back with the value so the caller
/// can report it.
pub fn histogram(tag: &str, values: &[f32]) -> (summary::Value, usize) {
    let Histogram { proto, non_finite } = histogram::buckets(values);
    let value = summary::Value {
        tag: tag.to_string(),
        value: Some(summary::value::Value::Histo(proto)),
        ..Default::default()
    };
    (value, non_finite)
}

/// A histogram whose buckets the caller made (tensorboardX's
/// `add_histogram_raw`): bucket `i` counts the values in
/// `(bucket_limits[i - 1], bucket_limits[i]]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawHistogram<'a> {
    /// The smallest value.
    pub min: f64,
    /// The largest value.
    pub max: f64,
    /// How many values.
    pub num: f64,
    /// Their sum.
    pub sum: f64,
    /// The sum of their squares.
    pub sum_squares: f64,
    /// Each bucket's right edge, ascending.
    pub bucket_limits: &'a [f64],
    /// Each bucket's count.
    pub bucket_counts: &'a [f64],
}

/// A histogram summary of caller-made buckets, checked: as many limits as
/// counts (at least one), limits ascending, counts finite and not negative.
///
/// ```
/// use gradscope_tensorboard::summary::{histogram_raw, RawHistogram};
///
/// let raw = RawHistogram {
///     min: -1.0, max: 2.0, num: 4.0, sum: 2.5, sum_squares: 6.25,
///     bucket_limits: &[0.0, 1.0, 2.0],
///     bucket_counts: &[1.0, 2.0, 1.0],
/// };
/// assert!(histogram_raw("h", &raw).is_ok());
/// let ragged = RawHistogram { bucket_counts: &[1.0], ..raw };
/// assert!(histogram_raw("h", &ragged).is_err());
/// ```
pub fn histogram_raw(
    tag: &str,
    raw: &RawHistogram<'_>,
) -> Result<summary::Value, crate::SummaryError> {
    use crate::SummaryError;
    crate::error::check_tag(tag)?;
    let (limits, counts) = (raw.bucket_limits, raw.bucket_counts);
    if limits.is_empty() || limits.len() != counts.len() {
        return Err(SummaryError::invalid(
            tag,
            "bucket_counts",
            format!(
                "one count per bucket limit ({}, at least 1), got {}",
                limits.len(),
                counts.len()
            ),
        ));
    }
    if let Some(i) = (1..limits.len())
        .find(|&i| limits[i - 1].partial_cmp(&limits[i]) != Some(std::cmp::Ordering::Less))
    {
        return Err(SummaryError::invalid(
            tag,
            "bucket_limits",
            format!(
                "ascending limits, got {} then {} at {i}",
                limits[i - 1],
                limits[i]
            ),
        ));
    }
    if let Some(c) = counts
        .iter()
        .find(|c| !c.is_finite() || c.is_sign_negative() && **c != 0.0)
    {
        return Err(SummaryError::invalid(
            tag,
            "bucket_counts",
            format!("finite counts of 0 or more, got {c}"),
        ));
    }
    Ok(summary::Value {
        tag: tag.to_string(),
        value: Some(summary::value::Value::Histo(crate::proto::HistogramProto {
            min: raw.min,
            max: raw.max,
            num: raw.num,
            sum: raw.sum,
            sum_squares: raw.sum_squares,
            bucket_limit: limits.to_vec(),
            bucket: counts.to_vec(),
        })),
        ..Default::default()
    })
}

/// The metadata that routes a summary value to a TensorBoard plugin:
/// `plugin_name`, the plugin's own serialized `content`, and the data class
/// both of TensorBoard's loaders file the value under.
pub fn plugin_metadata(
    plugin_name: &str,
    content: Vec<u8>,
    data_class: DataClass,
) -> SummaryMetadata {
    SummaryMetadata {
        plugin_data: Some(summary_metadata::PluginData {
            plugin_name: plugin_name.to_string(),
            content,
        }),
        data_class: data_class as i32,
        ..Default::default()
    }
}

/// An event carrying summary values at `step`.
pub fn summary_event(step: i64, wall_time: f64, values: Vec<summary::Value>) -> Event {
    Event {
        wall_time,
        step,
        what: Some(event::What::Summary(Summary { value: values })),
    }
}

/// The plugin name TensorBoard's Text dashboard reads.
pub const TEXT_PLUGIN_NAME: &str = "text";

/// A text summary holding `markdown` under `tag`, for TensorBoard's Text
/// dashboard: a scalar `DT_STRING` tensor marked for the "text" plugin,
/// which the dashboard renders as markdown (tables included) at its step.
pub fn text(tag: &str, markdown: &str) -> summary::Value {
    let content = TextPluginData { version: 0 }.encode_to_vec();
    summary::Value {
        tag: tag.to_string(),
        metadata: Some(plugin_metadata(
            TEXT_PLUGIN_NAME,
            content,
            DataClass::Tensor,
        )),
        value: Some(summary::value::Value::Tensor(TensorProto {
            dtype: DataType::DtString as i32,
            // No dimensions: a scalar, which the dashboard renders as one
            // markdown document rather than as a table of strings.
            tensor_shape: Some(TensorShapeProto::default()),
            string_val: vec![markdown.as_bytes().to_vec()],
            ..Default::default()
        })),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalar_round_trips_through_protobuf() {
        let event = summary_event(200, 1.5, vec![scalar("loss", 0.25)]);
        let decoded = Event::decode(event.encode_to_vec().as_slice()).unwrap();
        assert_eq!(decoded.step, 200);
        let Some(event::What::Summary(s)) = decoded.what else {
            panic!("not a summary")
        };
        assert_eq!(s.value[0].tag, "loss");
        assert_eq!(
            s.value[0].value,
            Some(summary::value::Value::SimpleValue(0.25))
        );
    }

    #[test]
    fn histogram_reports_skipped_values() {
        let (value, skipped) = histogram("h", &[1.0, f32::NAN]);
        assert_eq!(skipped, 1);
        let Some(summary::value::Value::Histo(h)) = value.value else {
            panic!("not a histogram")
        };
        assert_eq!(h.num, 1.0);
    }

    #[test]
    fn file_version_is_brain_event_2() {
        let e = file_version_event(3.0);
        assert_eq!(
            e.what,
            Some(event::What::FileVersion("brain.Event:2".into()))
        );
    }
    #[test]
    fn a_scalar_string_tensor_for_the_text_plugin() {
        let value = text("config", "| a | b |\n| --- | --- |\n| 1 | 2 |\n");
        let bytes = Summary { value: vec![value] }.encode_to_vec();
        let decoded = &Summary::decode(bytes.as_slice()).unwrap().value[0];
        assert_eq!(decoded.tag, "config");
        let metadata = decoded.metadata.as_ref().unwrap();
        let plugin = metadata.plugin_data.as_ref().unwrap();
        assert_eq!(plugin.plugin_name, "text");
        assert_eq!(
            TextPluginData::decode(plugin.content.as_slice())
                .unwrap()
                .version,
            0
        );
        assert_eq!(metadata.data_class, DataClass::Tensor as i32);
        let Some(summary::value::Value::Tensor(t)) = &decoded.value else {
            panic!("not a tensor: {decoded:?}")
        };
        assert_eq!(t.dtype, DataType::DtString as i32);
        assert!(t.tensor_shape.as_ref().unwrap().dim.is_empty());
        assert_eq!(
            t.string_val,
            [b"| a | b |\n| --- | --- |\n| 1 | 2 |\n".to_vec()]
        );
    }
}
