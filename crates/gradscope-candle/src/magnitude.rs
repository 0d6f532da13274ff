//! Gradient magnitudes on a log scale, for TensorBoard's Histograms and
//! Distributions dashboards.
//!
//! Those dashboards bin values on a linear axis: when a network's
//! gradients vanish, one layer's at 1e-6 and another's at 1e-3 both sit in
//! the bins around zero and look alike (tensorflow/tensorboard#1803). A
//! histogram of log10 |grad| puts them three units apart. Exact zeros have
//! no logarithm: they are counted beside it ([`Log10AbsHistogram::zeros`]),
//! never dropped silently; NaN and infinities are counted too.
//!
//! The buckets are a tenth of a decade wide ([`BUCKETS_PER_DECADE`]),
//! aligned to powers of ten, so histograms of different layers and steps
//! share edges. This is the one definition: [`GradMonitor`](crate::GradMonitor)
//! writes it per parameter, gradscope's trainer per layer.
//!
//! ```
//! use gradscope_candle::magnitude::log10_abs_histogram;
//!
//! let h = log10_abs_histogram(&[1e-6, -1e-6, 1e-3, 0.0, f32::NAN]);
//! assert_eq!((h.num, h.zeros, h.nonfinite), (3, 1, 1));
//! assert!((h.min + 6.0).abs() < 1e-6 && (h.max + 3.0).abs() < 1e-6);
//! let value = h.to_value("grad_log10_abs/fc1.weight")?; // a summary value
//! # Ok::<(), gradscope_tensorboard::SummaryError>(())
//! ```

use gradscope_tensorboard::proto::summary;
use gradscope_tensorboard::summary::{histogram_raw, RawHistogram};
use gradscope_tensorboard::SummaryError;

/// Buckets per power of ten: bucket `k` holds the values whose log10 |v|
/// lies in `((k - 1) / 10, k / 10]`.
pub const BUCKETS_PER_DECADE: u32 = 10;

/// The histogram of log10 |v| over the finite non-zero values of a tensor,
/// with the values left out of it counted.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Log10AbsHistogram {
    /// Each bucket's right edge (a log10), ascending, a tenth apart; from
    /// the smallest value's bucket to the largest's.
    pub bucket_limits: Vec<f64>,
    /// Each bucket's count.
    pub bucket_counts: Vec<f64>,
    /// How many values the histogram holds (finite and non-zero).
    pub num: usize,
    /// The smallest log10 |v| (0 when `num` is 0).
    pub min: f64,
    /// The largest log10 |v| (0 when `num` is 0).
    pub max: f64,
    /// The sum of the log10 |v|.
    pub sum: f64,
    /// The sum of their squares.
    pub sum_squares: f64,
    /// Values exactly zero (either sign), left out.
    pub zeros: usize,
    /// NaN and infinite values, left out.
    pub nonfinite: usize,
}

/// The log10 |v| histogram of `values`; see the [module](self) doc.
///
/// ```
/// use gradscope_candle::magnitude::log10_abs_histogram;
/// let h = log10_abs_histogram(&[0.01, 0.02, 0.5, 0.0]);
/// // 0.01 and 0.02 fall in (-2.1, -2.0] and (-1.7, -1.6]; 0.5 in (-0.4, -0.3].
/// assert_eq!(h.bucket_limits.first().map(|l| (l * 10.0).round()), Some(-20.0));
/// assert_eq!(h.bucket_limits.last().map(|l| (l * 10.0).round()), Some(-3.0));
/// assert_eq!(h.bucket_counts.iter().sum::<f64>(), 3.0);
/// assert_eq!(h.zeros, 1);
/// ```
pub fn log10_abs_histogram(values: &[f32]) -> Log10AbsHistogram {
    let per_decade = f64::from(BUCKETS_PER_DECADE);
    let mut logs = Vec::with_capacity(values.len());
    let (mut zeros, mut nonfinite) = (0, 0);
    for &v in values {
        if !v.is_finite() {
            nonfinite += 1;
        } else if v == 0.0 {
            zeros += 1;
        } else {
            // f32's log10 is within an ulp, far below a bucket's tenth.
            logs.push(v.abs().log10());
        }
    }
    let mut histogram = Log10AbsHistogram {
        bucket_limits: Vec::new(),
        bucket_counts: Vec::new(),
        num: logs.len(),
        min: 0.0,
        max: 0.0,
        sum: 0.0,
        sum_squares: 0.0,
        zeros,
        nonfinite,
    };
    if logs.is_empty() {
        return histogram;
    }
    let (mut min, mut max) = (f32::INFINITY, f32::NEG_INFINITY);
    let (mut sum, mut sum_squares) = (0f64, 0f64);
    for &l in &logs {
        min = min.min(l);
        max = max.max(l);
        let l = f64::from(l);
        sum += l;
        sum_squares += l * l;
    }
    // Bucket k's right edge is k / 10: a value goes to ceil(10 · log10 |v|).
    // f32's magnitudes span log10 -45.2 to 38.6, so at most 840 buckets.
    let bucket = |l: f32| (f64::from(l) * per_decade).ceil() as i64;
    let (first, last) = (bucket(min), bucket(max));
    let mut counts = vec![0f64; (last - first + 1) as usize];
    for &l in &logs {
        counts[(bucket(l) - first) as usize] += 1.0;
    }
    histogram.bucket_limits = (first..=last).map(|k| k as f64 / per_decade).collect();
    histogram.bucket_counts = counts;
    histogram.min = f64::from(min);
    histogram.max = f64::from(max);
    histogram.sum = sum;
    histogram.sum_squares = sum_squares;
    histogram
}

impl Log10AbsHistogram {
    /// The histogram as `gradscope_tensorboard` writes caller-made buckets.
    pub fn raw(&self) -> RawHistogram<'_> {
        RawHistogram {
            min: self.min,
            max: self.max,
            num: self.num as f64,
            sum: self.sum,
            sum_squares: self.sum_squares,
            bucket_limits: &self.bucket_limits,
            bucket_counts: &self.bucket_counts,
        }
    }

    /// A histogram summary value under `tag`; an error for an empty
    /// histogram (no finite non-zero value: nothing to draw, which
    /// [`zeros`](Self::zeros) and [`nonfinite`](Self::nonfinite) tell) or
    /// a bad tag.
    ///
    /// ```
    /// use gradscope_candle::magnitude::log10_abs_histogram;
    /// assert!(log10_abs_histogram(&[0.5]).to_value("h").is_ok());
    /// assert!(log10_abs_histogram(&[0.0]).to_value("h").is_err());
    /// ```
    pub fn to_value(&self, tag: &str) -> Result<summary::Value, SummaryError> {
        histogram_raw(tag, &self.raw())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_match_the_definition_value_by_value() {
        let values: Vec<f32> = (0..2000)
            .map(|i| {
                let x = (i as f32 * 0.7137).sin() * 10f32.powf((i % 13) as f32 - 9.0);
                if i % 97 == 0 {
                    0.0
                } else {
                    x
                }
            })
            .collect();
        let h = log10_abs_histogram(&values);
        assert_eq!(h.zeros, values.iter().filter(|v| **v == 0.0).count());
        assert_eq!(h.num + h.zeros, values.len());
        for (i, &limit) in h.bucket_limits.iter().enumerate() {
            let below = limit - 0.1;
            let want = values
                .iter()
                .filter(|v| **v != 0.0)
                .map(|v| f64::from(v.abs().log10()))
                .filter(|&l| l > below + 1e-9 && l <= limit + 1e-9)
                .count();
            // A value within 1e-9 of an edge could go either way; none is.
            assert_eq!(h.bucket_counts[i], want as f64, "bucket {limit}");
        }
        assert!(h.bucket_limits.windows(2).all(|w| w[1] > w[0]));
        let raw = h.raw();
        assert_eq!(raw.bucket_counts.iter().sum::<f64>(), h.num as f64);
    }

    #[test]
    fn decades_apart_land_ten_buckets_apart() {
        let h = log10_abs_histogram(&[3e-6, 3e-3]);
        assert_eq!(h.bucket_counts.len(), 31);
        assert_eq!(
            (h.bucket_counts[0], h.bucket_counts[30]),
            (1.0, 1.0),
            "{h:?}"
        );
        let extremes = log10_abs_histogram(&[f32::MAX, f32::from_bits(1), -0.0]);
        assert_eq!((extremes.num, extremes.zeros), (2, 1));
        assert!(extremes.bucket_counts.len() < 850);
        assert!(extremes.to_value("x").is_ok());
    }
}
