//! Histograms of log10 |value|: a layer's gradients as decades, so that
//! layers whose gradients are 1e-6 and 1e-3 fall into different buckets
//! (TensorBoard's own histograms are linear, and put both on zero).
//!
//! Exact zeros have no logarithm: they are left out and counted, for the
//! `zero_grad_i` scalar; NaN and infinities are left out (the linear
//! histogram of the same values counts them). Buckets are a tenth of a
//! decade wide, bucket `k` holding the magnitudes with log10 in
//! `((k-1)/10, k/10]` (TensorFlow's right-closed rule), and only the buckets
//! from the smallest value's to the largest's are written.
//!
//! The logarithm is computed from the float's bits (exponent, and a series
//! in the mantissa) rather than by `log10`, which costs about ten times as
//! much: at `--log-every 1` this runs for every kernel gradient of every
//! step on the summary thread. Its error is below a millionth of a decade,
//! or of the logarithm where it exceeds 1 in size (f32's own rounding).

// TODO(merge): use gradscope_candle's log10-|grad| histogram builder (the
// library side of issue 21) once both branches are in; this is the
// trainer's private copy of the same definition.

use gradscope_tensorboard::proto::summary;
use gradscope_tensorboard::summary::{histogram_raw, RawHistogram};
use multiversion::multiversion;

/// Buckets per decade.
const PER_DECADE: f32 = 10.0;
/// The bucket of the smallest positive f32 (1.4e-45) and of the largest
/// (3.4e38), with one to spare each side.
const FIRST_BUCKET: i32 = -451;
const LAST_BUCKET: i32 = 391;
const BUCKETS: usize = (LAST_BUCKET - FIRST_BUCKET + 1) as usize;

/// How many values a block holds: their logarithms are computed together
/// (vectorised), then counted.
const BLOCK: usize = 256;

/// A histogram of log10 |v| for the non-zero finite values of `values`
/// (`None` when there are none), and how many were exactly zero.
pub fn histogram(tag: &str, values: &[f32]) -> (Option<summary::Value>, usize) {
    let mut counts = vec![0u32; BUCKETS];
    let mut logs = [0f32; BLOCK];
    let (mut zeros, mut num) = (0usize, 0usize);
    let (mut min, mut max, mut sum, mut sum_squares) =
        (f64::INFINITY, f64::NEG_INFINITY, 0.0f64, 0.0f64);
    for block in values.chunks(BLOCK) {
        let logs = &mut logs[..block.len()];
        zeros += log10_abs(block, logs);
        for &l in logs.iter() {
            // NaN marks a value left out (zero or not finite).
            if l.is_nan() {
                continue;
            }
            let k = (l * PER_DECADE).ceil() as i32;
            counts[(k.clamp(FIRST_BUCKET, LAST_BUCKET) - FIRST_BUCKET) as usize] += 1;
            let l = f64::from(l);
            min = min.min(l);
            max = max.max(l);
            sum += l;
            sum_squares += l * l;
            num += 1;
        }
    }
    if num == 0 {
        return (None, zeros);
    }
    let bucket = |l: f64| (l * f64::from(PER_DECADE)).ceil() as i32;
    let (first, last) = (bucket(min), bucket(max));
    let limits: Vec<f64> = (first..=last)
        .map(|k| f64::from(k) / f64::from(PER_DECADE))
        .collect();
    let bucket_counts: Vec<f64> = (first..=last)
        .map(|k| f64::from(counts[(k - FIRST_BUCKET) as usize]))
        .collect();
    let raw = RawHistogram {
        min,
        max,
        num: num as f64,
        sum,
        sum_squares,
        bucket_limits: &limits,
        bucket_counts: &bucket_counts,
    };
    // The limits ascend and match the counts one for one, and the tag
    // comes from `tags`: a failure here is a bug, reported as no histogram.
    (histogram_raw(tag, &raw).ok(), zeros)
}

/// log10 |v| of each of `values` into `out` (NaN for a zero or a value
/// that is not finite); returns how many were exactly zero. Selects, not
/// branches, so that it vectorises.
#[multiversion(targets = "simd")]
fn log10_abs(values: &[f32], out: &mut [f32]) -> usize {
    let mut zeros = 0usize;
    for (v, out) in values.iter().zip(out.iter_mut()) {
        let a = v.abs();
        zeros += usize::from(a == 0.0);
        // Subnormals are scaled into the normal range first.
        let subnormal = a < f32::MIN_POSITIVE;
        let scaled = if subnormal { a * 16_777_216.0 } else { a };
        let bits = scaled.to_bits();
        let exponent = ((bits >> 23) as i32 - 127 - if subnormal { 24 } else { 0 }) as f32;
        // The mantissa in [1, 2), and ln of it by the series of atanh:
        // ln m = 2 (s + s³/3 + s⁵/5 + ...), s = (m - 1) / (m + 1) < 1/3.
        let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
        let s = (m - 1.0) / (m + 1.0);
        let s2 = s * s;
        let series = 1.0 + s2 * (1.0 / 3.0 + s2 * (0.2 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0))));
        let ln_m = 2.0 * s * series;
        let log2 = exponent + ln_m * std::f32::consts::LOG2_E;
        let usable = a > 0.0 && a.is_finite();
        *out = if usable {
            log2 * std::f32::consts::LOG10_2
        } else {
            f32::NAN
        };
    }
    zeros
}

#[cfg(test)]
mod tests {
    use super::*;
    use gradscope_tensorboard::proto::summary::value::Value;

    fn proto(tag: &str, values: &[f32]) -> (gradscope_tensorboard::proto::HistogramProto, usize) {
        let (value, zeros) = histogram(tag, values);
        match value.expect("a histogram").value {
            Some(Value::Histo(h)) => (h, zeros),
            other => panic!("not a histogram: {other:?}"),
        }
    }

    #[test]
    fn the_logarithm_is_within_a_millionth() {
        let mut values: Vec<f32> = (0..20_000)
            .map(|i| 10f32.powf(-40.0 + i as f32 * 0.0039) * if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        values.extend([
            f32::MIN_POSITIVE,
            f32::from_bits(1),
            f32::MAX,
            1.0,
            2.0,
            1.999_999_9,
        ]);
        let mut out = vec![0.0; values.len()];
        assert_eq!(log10_abs(&values, &mut out), 0);
        for (v, l) in values.iter().zip(&out) {
            let want = f64::from(v.abs()).log10();
            assert!(
                (f64::from(*l) - want).abs() < 1e-6 * want.abs().max(1.0),
                "{v:e}: {l} against {want}"
            );
        }
    }

    #[test]
    fn zeros_are_counted_and_non_finite_values_left_out() {
        let values = [0.0, -0.0, 1e-3, f32::NAN, f32::INFINITY, -1e-5, 0.0];
        let (h, zeros) = proto("g", &values);
        assert_eq!(zeros, 3, "0.0, -0.0 and 0.0");
        assert_eq!(h.num, 2.0);
        assert!((h.min - -5.0).abs() < 1e-6 && (h.max - -3.0).abs() < 1e-6);
        assert!((h.sum - -8.0).abs() < 1e-5, "{}", h.sum);
        assert!((h.sum_squares - 34.0).abs() < 1e-4);
        assert_eq!(h.bucket.iter().sum::<f64>(), 2.0);
        // Nothing but zeros: no histogram, every zero counted.
        assert_eq!(histogram("g", &[0.0; 300]), (None, 300));
        assert_eq!(histogram("g", &[]), (None, 0));
    }

    #[test]
    fn buckets_are_tenths_of_a_decade_closed_on_the_right() {
        // log10 1.2e-3 is -2.92: the bucket (-3.0, -2.9]; 2e-3 is -2.70
        // (-2.7, -2.6]; 5e-2 is -1.30 (-1.4, -1.3].
        let (h, _) = proto("g", &[1.2e-3, 2e-3, 2e-3, -5e-2]);
        let first = h.bucket_limit[0];
        assert!((first - -2.9).abs() < 1e-9, "{:?}", h.bucket_limit);
        assert_eq!(h.bucket_limit.len(), h.bucket.len());
        let count_at = |edge: f64| {
            let i = h
                .bucket_limit
                .iter()
                .position(|&e| (e - edge).abs() < 1e-9)
                .unwrap_or_else(|| panic!("no edge {edge}: {:?}", h.bucket_limit));
            h.bucket[i]
        };
        assert_eq!(count_at(-2.9), 1.0);
        assert_eq!(count_at(-2.6), 2.0);
        assert_eq!(count_at(-1.3), 1.0);
        assert_eq!(count_at(-2.0), 0.0);
        assert_eq!(h.bucket.iter().sum::<f64>(), 4.0);
        assert!(h.bucket_limit.windows(2).all(|w| w[0] < w[1]));
    }
}
