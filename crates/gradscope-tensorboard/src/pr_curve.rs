//! Precision-recall curves, for TensorBoard's PR Curves dashboard.
//!
//! A curve is a float32 tensor of shape `[6, num_thresholds]`: per threshold
//! `i / (num_thresholds - 1)`, the true positives, false positives, true
//! negatives, false negatives, precision and recall of calling "positive"
//! every prediction at or above it. The summary's metadata names the
//! "pr_curves" plugin and holds the threshold count.
//!
//! ```
//! use gradscope_tensorboard::pr_curve::{pr_curve, DEFAULT_NUM_THRESHOLDS};
//!
//! let labels = [true, false, true, true];
//! let predictions = [0.9, 0.4, 0.6, 0.2];
//! let value = pr_curve("pr", &labels, &predictions, DEFAULT_NUM_THRESHOLDS)?;
//! assert_eq!(value.tag, "pr");
//! # Ok::<(), gradscope_tensorboard::SummaryError>(())
//! ```

use prost::Message;

use crate::error::{check_tag, SummaryError};
use crate::proto::{
    summary, tensor_shape_proto, DataClass, DataType, PrCurvePluginData, TensorProto,
    TensorShapeProto,
};
use crate::summary::plugin_metadata;

/// The plugin name TensorBoard's PR Curves dashboard reads.
pub const PLUGIN_NAME: &str = "pr_curves";
/// Thresholds when the caller names none (TensorBoard's and tensorboardX's
/// default).
pub const DEFAULT_NUM_THRESHOLDS: u32 = 127;
/// The most thresholds a curve may have: each costs 24 bytes a step.
pub const MAX_NUM_THRESHOLDS: u32 = 1 << 16;

/// Precision and recall are counts divided by at least this, so an empty
/// denominator gives 0 rather than NaN (as TensorBoard's own summary does).
const MINIMUM_COUNT: f64 = 1e-7;

/// A curve's six rows, computed by the caller: one value per threshold in
/// each, all of the same length (at least 2).
#[derive(Debug, Clone, Copy)]
pub struct PrCounts<'a> {
    /// True positives per threshold.
    pub true_positives: &'a [f64],
    /// False positives per threshold.
    pub false_positives: &'a [f64],
    /// True negatives per threshold.
    pub true_negatives: &'a [f64],
    /// False negatives per threshold.
    pub false_negatives: &'a [f64],
    /// Precision per threshold.
    pub precision: &'a [f64],
    /// Recall per threshold.
    pub recall: &'a [f64],
}

/// The curve of binary `labels` against `predictions` (probabilities in
/// [0, 1]; NaN or out-of-range predictions are left out, as tensorboardX
/// leaves them out) at `num_thresholds` evenly spaced thresholds.
pub fn pr_curve(
    tag: &str,
    labels: &[bool],
    predictions: &[f32],
    num_thresholds: u32,
) -> Result<summary::Value, SummaryError> {
    check_tag(tag)?;
    check_thresholds(tag, num_thresholds)?;
    if labels.len() != predictions.len() {
        return Err(SummaryError::invalid(
            tag,
            "predictions",
            format!(
                "one prediction per label ({}), got {}",
                labels.len(),
                predictions.len()
            ),
        ));
    }
    let n = num_thresholds as usize;
    // Bucket k holds predictions p with floor(p * (n - 1)) == k, in f32 as
    // tensorboardX computes it from float32 predictions.
    let mut tp_buckets = vec![0f64; n];
    let mut fp_buckets = vec![0f64; n];
    let scale = (n - 1) as f32;
    for (&label, &p) in labels.iter().zip(predictions) {
        let k = (p * scale).floor();
        if !(0.0..=scale).contains(&k) {
            continue; // NaN, below 0 or above 1
        }
        let bucket = if label {
            &mut tp_buckets
        } else {
            &mut fp_buckets
        };
        bucket[k as usize] += 1.0;
    }
    // Reverse cumulative sums: predictions at or above each threshold.
    let suffix = |b: &[f64]| {
        let mut out = b.to_vec();
        for i in (0..n - 1).rev() {
            out[i] += out[i + 1];
        }
        out
    };
    let tp = suffix(&tp_buckets);
    let fp = suffix(&fp_buckets);
    let tn: Vec<f64> = fp.iter().map(|f| fp[0] - f).collect();
    let fn_: Vec<f64> = tp.iter().map(|t| tp[0] - t).collect();
    let precision: Vec<f64> = (0..n)
        .map(|i| tp[i] / (tp[i] + fp[i]).max(MINIMUM_COUNT))
        .collect();
    let recall: Vec<f64> = (0..n)
        .map(|i| tp[i] / (tp[i] + fn_[i]).max(MINIMUM_COUNT))
        .collect();
    Ok(curve_value(tag, [&tp, &fp, &tn, &fn_, &precision, &recall]))
}

/// A curve from counts the caller computed (tensorboardX's
/// `add_pr_curve_raw`); the threshold count is the rows' length.
///
/// ```
/// use gradscope_tensorboard::pr_curve::{pr_curve_raw, PrCounts};
///
/// let counts = PrCounts {
///     true_positives: &[3.0, 1.0],
///     false_positives: &[1.0, 0.0],
///     true_negatives: &[0.0, 1.0],
///     false_negatives: &[0.0, 2.0],
///     precision: &[0.75, 1.0],
///     recall: &[1.0, 0.333],
/// };
/// assert!(pr_curve_raw("pr", &counts).is_ok());
/// let short = PrCounts { recall: &[1.0], ..counts };
/// assert!(pr_curve_raw("pr", &short).is_err());
/// ```
pub fn pr_curve_raw(tag: &str, counts: &PrCounts<'_>) -> Result<summary::Value, SummaryError> {
    check_tag(tag)?;
    let rows = [
        ("true_positives", counts.true_positives),
        ("false_positives", counts.false_positives),
        ("true_negatives", counts.true_negatives),
        ("false_negatives", counts.false_negatives),
        ("precision", counts.precision),
        ("recall", counts.recall),
    ];
    let n = counts.true_positives.len();
    for (name, row) in rows {
        if row.len() != n {
            return Err(SummaryError::invalid(
                tag,
                name,
                format!("as many values as true_positives ({n}), got {}", row.len()),
            ));
        }
    }
    let n = u32::try_from(n).unwrap_or(u32::MAX);
    check_thresholds(tag, n)?;
    Ok(curve_value(tag, rows.map(|(_, row)| row)))
}

fn check_thresholds(tag: &str, n: u32) -> Result<(), SummaryError> {
    if !(2..=MAX_NUM_THRESHOLDS).contains(&n) {
        return Err(SummaryError::invalid(
            tag,
            "num_thresholds",
            format!("2 to {MAX_NUM_THRESHOLDS} thresholds, got {n}"),
        ));
    }
    Ok(())
}

fn curve_value(tag: &str, rows: [&[f64]; 6]) -> summary::Value {
    let n = rows[0].len();
    let content = PrCurvePluginData {
        version: 0,
        num_thresholds: n as u32,
    }
    .encode_to_vec();
    let dim = |size: usize| tensor_shape_proto::Dim {
        size: size as i64,
        ..Default::default()
    };
    summary::Value {
        tag: tag.to_string(),
        metadata: Some(plugin_metadata(PLUGIN_NAME, content, DataClass::Tensor)),
        value: Some(summary::value::Value::Tensor(TensorProto {
            dtype: DataType::DtFloat as i32,
            tensor_shape: Some(TensorShapeProto {
                dim: vec![dim(6), dim(n)],
                ..Default::default()
            }),
            float_val: rows
                .iter()
                .flat_map(|r| r.iter().map(|&x| x as f32))
                .collect(),
            ..Default::default()
        })),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(value: &summary::Value) -> Vec<Vec<f32>> {
        let Some(summary::value::Value::Tensor(t)) = &value.value else {
            panic!("no tensor")
        };
        let dims: Vec<i64> = t
            .tensor_shape
            .as_ref()
            .unwrap()
            .dim
            .iter()
            .map(|d| d.size)
            .collect();
        assert_eq!(dims[0], 6);
        t.float_val
            .chunks(dims[1] as usize)
            .map(<[f32]>::to_vec)
            .collect()
    }

    #[test]
    fn counts_at_three_thresholds() {
        // Thresholds 0, 0.5, 1.
        let labels = [true, false, true, false, true];
        let predictions = [1.0, 0.7, 0.5, 0.2, 0.1];
        let v = pr_curve("pr", &labels, &predictions, 3).unwrap();
        let r = rows(&v);
        assert_eq!(r[0], [3.0, 2.0, 1.0]); // TP: >= 0, >= 0.5, >= 1
        assert_eq!(r[1], [2.0, 1.0, 0.0]); // FP
        assert_eq!(r[2], [0.0, 1.0, 2.0]); // TN
        assert_eq!(r[3], [0.0, 1.0, 2.0]); // FN
        assert_eq!(r[4], [0.6, 2.0 / 3.0, 1.0]);
        assert_eq!(r[5], [1.0, 2.0 / 3.0, 1.0 / 3.0]);
        let plugin = v.metadata.unwrap().plugin_data.unwrap();
        assert_eq!(plugin.plugin_name, "pr_curves");
        let data = PrCurvePluginData::decode(plugin.content.as_slice()).unwrap();
        assert_eq!(data.num_thresholds, 3);
    }

    #[test]
    fn nan_and_out_of_range_predictions_are_left_out() {
        let v = pr_curve("pr", &[true, true, false], &[f32::NAN, 1.5, -0.1], 127).unwrap();
        let r = rows(&v);
        assert!(r[0].iter().chain(&r[1]).all(|&x| x == 0.0));
        assert!(r[4].iter().all(|&x| x == 0.0), "precision 0, not NaN");
    }

    #[test]
    fn bad_input_is_an_error() {
        let e = pr_curve("pr", &[true], &[0.5, 0.5], 127).unwrap_err();
        assert!(e.to_string().contains("`predictions`"), "{e}");
        for n in [0, 1, MAX_NUM_THRESHOLDS + 1] {
            let e = pr_curve("pr", &[], &[], n).unwrap_err();
            assert!(e.to_string().contains("`num_thresholds`"), "{e}");
        }
        let one = [1.0];
        let counts = PrCounts {
            true_positives: &one,
            false_positives: &one,
            true_negatives: &one,
            false_negatives: &one,
            precision: &one,
            recall: &one,
        };
        assert!(pr_curve_raw("pr", &counts).is_err());
    }
}
