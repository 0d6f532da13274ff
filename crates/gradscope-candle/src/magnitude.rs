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

use std::sync::OnceLock;

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
    let table = log2_table();
    let mut logs = Vec::with_capacity(values.len());
    let (mut zeros, mut nonfinite) = (0, 0);
    // One pass: the logs, their sums, and the extremes as magnitude bits
    // (which order like the magnitudes), whose exact log10 is taken once.
    let (mut smallest, mut largest) = (u32::MAX, 0u32);
    let (mut sum, mut sum_squares) = (0f64, 0f64);
    for &v in values {
        let magnitude = v.to_bits() & 0x7fff_ffff;
        let l = match magnitude >> 23 {
            0xff => {
                nonfinite += 1;
                continue;
            }
            0 if magnitude == 0 => {
                zeros += 1;
                continue;
            }
            // Subnormal: rare, and without the implicit leading 1 the
            // table does not apply.
            0 => v.abs().log10(),
            exponent => fast_log10(table, exponent, magnitude),
        };
        smallest = smallest.min(magnitude);
        largest = largest.max(magnitude);
        let wide = f64::from(l);
        sum += wide;
        sum_squares += wide * wide;
        logs.push(l);
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
    let exact_log10 = |bits: u32| f64::from(f32::from_bits(bits)).log10();
    let (min, max) = (exact_log10(smallest), exact_log10(largest));
    // Bucket k's right edge is k / 10: a value goes to ceil(10 · log10 |v|).
    // f32's magnitudes span log10 -45.2 to 38.6, so at most 840 buckets.
    // Truncation and a comparison rather than `ceil`, which is a libm call
    // on x86-64 without SSE4.1 and took most of the time.
    let bucket = |l: f64| {
        let scaled = l * per_decade;
        let truncated = scaled as i64;
        truncated + i64::from(scaled > truncated as f64)
    };
    // The fast logs of the extremes may sit a hair beside the exact ones:
    // the buckets span both.
    let (mut first, mut last) = (bucket(min), bucket(max));
    for &l in &logs {
        let k = bucket(f64::from(l));
        first = first.min(k);
        last = last.max(k);
    }
    let mut counts = vec![0f64; (last - first + 1) as usize];
    for &l in &logs {
        counts[(bucket(f64::from(l)) - first) as usize] += 1.0;
    }
    histogram.bucket_limits = (first..=last).map(|k| k as f64 / per_decade).collect();
    histogram.bucket_counts = counts;
    histogram.min = min;
    histogram.max = max;
    histogram.sum = sum;
    histogram.sum_squares = sum_squares;
    histogram
}

/// log2(1 + i / 256) for i in 0..=256.
fn log2_table() -> &'static [f32; LOG2_TABLE_LEN] {
    static TABLE: OnceLock<[f32; LOG2_TABLE_LEN]> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = [0f32; LOG2_TABLE_LEN];
        for (i, t) in table.iter_mut().enumerate() {
            *t = (1.0 + i as f64 / (LOG2_TABLE_LEN - 1) as f64).log2() as f32;
        }
        table
    })
}

const LOG2_TABLE_LEN: usize = 257;

/// log10 of a normal f32 magnitude from its bits: the exponent plus log2
/// of the mantissa, interpolated linearly in [`log2_table`], in f32: within
/// 1e-5 of log10 (a value that close to a bucket edge may land in the
/// bucket beside it; the histogram's min and max are exact). libm's
/// `log10f` is a call per value that vectorises nothing.
#[inline]
fn fast_log10(table: &[f32; LOG2_TABLE_LEN], exponent: u32, magnitude: u32) -> f32 {
    let mantissa = magnitude & 0x7f_ffff;
    let i = (mantissa >> 15) as usize;
    let fraction = (mantissa & 0x7fff) as f32 * (1.0 / 32768.0);
    let log2_mantissa = table[i] + (table[i + 1] - table[i]) * fraction;
    (exponent as f32 - 127.0 + log2_mantissa) * std::f32::consts::LOG10_2
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
        // Values within the fast log's 1e-5 of an edge may go either way:
        // left out of this exact comparison.
        let mut values = values;
        values.retain(|&v| {
            let tenths = f64::from(v).abs().log10() * 10.0;
            v == 0.0 || (tenths - tenths.round()).abs() > 1e-4
        });
        assert!(values.len() > 1990);
        let h = log10_abs_histogram(&values);
        assert_eq!(h.zeros, values.iter().filter(|v| **v == 0.0).count());
        assert_eq!(h.num + h.zeros, values.len());
        for (i, &limit) in h.bucket_limits.iter().enumerate() {
            let below = limit - 0.1;
            let want = values
                .iter()
                .filter(|v| **v != 0.0)
                .map(|&v| f64::from(v).abs().log10())
                .filter(|&l| l > below + 1e-9 && l <= limit + 1e-9)
                .count();
            // A value within 1e-5 of an edge could go either way; none is.
            assert_eq!(h.bucket_counts[i], want as f64, "bucket {limit}");
        }
        assert!(h.bucket_limits.windows(2).all(|w| w[1] > w[0]));
        let raw = h.raw();
        assert_eq!(raw.bucket_counts.iter().sum::<f64>(), h.num as f64);
    }

    #[test]
    fn the_fast_log10_is_within_1e_5() {
        let table = log2_table();
        let mut worst = 0f64;
        let mut bits = f32::MIN_POSITIVE.to_bits();
        while bits < f32::MAX.to_bits() {
            let v = f32::from_bits(bits);
            let fast = f64::from(fast_log10(table, bits >> 23, bits));
            worst = worst.max((fast - f64::from(v).log10()).abs());
            bits += 4099; // every exponent, many mantissas
        }
        assert!(worst < 1e-5, "{worst}");
        // Subnormals take the exact path.
        let tiny = log10_abs_histogram(&[f32::from_bits(3)]);
        assert!((tiny.min - f64::from(f32::from_bits(3)).log10()).abs() < 1e-5);
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
