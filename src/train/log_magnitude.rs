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
//! in the mantissa) rather than by `log10`, a library call per value, and
//! the buckets by rounding with a float addition, so that the pass over the
//! values vectorises: on the default network the six histograms take about
//! as long as the six linear ones of the same gradients. Even so, at every
//! step of `--log-every 1` they made the summary thread the bottleneck, so
//! they are logged at the diagnosed steps only (`summarizer`). The
//! logarithm's error is below a millionth of a decade, or of the logarithm
//! where it exceeds 1 in size (f32's own rounding).

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
/// Where values left out are counted (past the last bucket).
const LEFT_OUT: u16 = BUCKETS as u16;

/// How many values a block holds: their logarithms and buckets are
/// computed together (vectorised), then counted.
const BLOCK: usize = 256;
/// Independent lanes of the vectorised pass's sums.
const LANES: usize = 8;
/// Sets of counters, one per value in a group of four: neighbouring
/// gradients often share a bucket, and incrementing a counter again before
/// its last increment is stored stalls on that store.
const SETS: usize = 4;

/// A block's sums, per lane, over the values kept.
#[derive(Clone, Copy)]
struct Lanes {
    sum: [f32; LANES],
    sum_squares: [f32; LANES],
    min: [f32; LANES],
    max: [f32; LANES],
    zeros: [u32; LANES],
}

impl Lanes {
    fn new() -> Lanes {
        Lanes {
            sum: [0.0; LANES],
            sum_squares: [0.0; LANES],
            min: [f32::INFINITY; LANES],
            max: [f32::NEG_INFINITY; LANES],
            zeros: [0; LANES],
        }
    }
}

/// A histogram of log10 |v| for the non-zero finite values of `values`
/// (`None` when there are none), and how many were exactly zero.
pub fn histogram(tag: &str, values: &[f32]) -> (Option<summary::Value>, usize) {
    let width = BUCKETS + 1;
    let mut counts = vec![0u32; SETS * width];
    let mut index = [0u16; BLOCK];
    let (mut zeros, mut min, mut max, mut sum, mut sum_squares) =
        (0usize, f32::INFINITY, f32::NEG_INFINITY, 0.0f64, 0.0f64);
    for block in values.chunks(BLOCK) {
        let index = &mut index[..block.len()];
        let lanes = log10_abs(block, index);
        for lane in 0..LANES {
            sum += f64::from(lanes.sum[lane]);
            sum_squares += f64::from(lanes.sum_squares[lane]);
            min = min.min(lanes.min[lane]);
            max = max.max(lanes.max[lane]);
            zeros += lanes.zeros[lane] as usize;
        }
        let mut groups = index.chunks_exact(SETS);
        for group in &mut groups {
            for (set, &i) in group.iter().enumerate() {
                counts[set * width + usize::from(i)] += 1;
            }
        }
        for &i in groups.remainder() {
            counts[usize::from(i)] += 1;
        }
    }
    let count = |k: usize| -> u32 { (0..SETS).map(|set| counts[set * width + k]).sum() };
    let num = values.len() - count(usize::from(LEFT_OUT)) as usize;
    if num == 0 {
        return (None, zeros);
    }
    let (first, last) = (bucket(min), bucket(max));
    let limits: Vec<f64> = (first..=last)
        .map(|k| f64::from(k) / f64::from(PER_DECADE))
        .collect();
    let bucket_counts: Vec<f64> = (first..=last)
        .map(|k| f64::from(count((k - FIRST_BUCKET) as usize)))
        .collect();
    let raw = RawHistogram {
        min: f64::from(min),
        max: f64::from(max),
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

/// 1.5 · 2^23: adding it to an f32 below 2^22 in size rounds it to an
/// integer, which the sum's bits then hold.
const ROUNDING: f32 = 12_582_912.0;

/// The bucket of a logarithm `l`: `ceil(10 l)`, clamped to the buckets.
/// `l` must be finite and below 4e5 in size (every [`log10_positive`] is
/// below 46). Rounded by adding [`ROUNDING`] and corrected by one
/// comparison, so that it vectorises: `as i32` saturates, and compiles to
/// a scalar conversion per value.
#[inline(always)]
fn bucket(l: f32) -> i32 {
    let x = l * PER_DECADE;
    let nearest = (x + ROUNDING).to_bits() as i32 - ROUNDING.to_bits() as i32;
    let k = if (nearest as f32) < x {
        nearest + 1
    } else {
        nearest
    };
    k.clamp(FIRST_BUCKET, LAST_BUCKET)
}

/// log10 |v| of each of `values`: each one's bucket into `index`
/// ([`LEFT_OUT`] for a zero or a value that is not finite), their sums per
/// lane. Selects, not branches, so that it vectorises.
#[multiversion(targets = "simd")]
fn log10_abs(values: &[f32], index: &mut [u16]) -> Lanes {
    let mut lanes = Lanes::new();
    let mut chunks = values
        .chunks_exact(LANES)
        .zip(index.chunks_exact_mut(LANES));
    for (values, index) in &mut chunks {
        for lane in 0..LANES {
            let v = values[lane];
            let a = v.abs();
            let l = log10_positive(a);
            let kept = a > 0.0 && a < f32::INFINITY;
            let k = (bucket(l) - FIRST_BUCKET) as u16;
            index[lane] = if kept { k } else { LEFT_OUT };
            let l = if kept { l } else { 0.0 };
            lanes.sum[lane] += l;
            lanes.sum_squares[lane] += l * l;
            lanes.min[lane] = if kept && l < lanes.min[lane] {
                l
            } else {
                lanes.min[lane]
            };
            lanes.max[lane] = if kept && l > lanes.max[lane] {
                l
            } else {
                lanes.max[lane]
            };
            lanes.zeros[lane] += u32::from(a == 0.0);
        }
    }
    let rest = values.len() - values.len() % LANES;
    for (i, &v) in values.iter().enumerate().skip(rest) {
        let a = v.abs();
        let kept = a > 0.0 && a < f32::INFINITY;
        lanes.zeros[0] += u32::from(a == 0.0);
        if !kept {
            index[i] = LEFT_OUT;
            continue;
        }
        let l = log10_positive(a);
        index[i] = (bucket(l) - FIRST_BUCKET) as u16;
        lanes.sum[0] += l;
        lanes.sum_squares[0] += l * l;
        lanes.min[0] = lanes.min[0].min(l);
        lanes.max[0] = lanes.max[0].max(l);
    }
    lanes
}

/// log10 `a` for a positive `a` (meaningless for 0, inf or NaN, which the
/// callers leave out), from the float's bits: the exponent, and the
/// mantissa's logarithm by the series of atanh.
#[inline(always)]
fn log10_positive(a: f32) -> f32 {
    // Subnormals are scaled into the normal range first.
    let subnormal = a < f32::MIN_POSITIVE;
    let scaled = if subnormal { a * 16_777_216.0 } else { a };
    let bits = scaled.to_bits();
    let exponent = ((bits >> 23) as i32 - 127 - if subnormal { 24 } else { 0 }) as f32;
    // The mantissa in [1, 2), and ln of it: ln m = 2 (s + s³/3 + s⁵/5 +
    // ...), s = (m - 1) / (m + 1) < 1/3.
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let series = 1.0 + s2 * (1.0 / 3.0 + s2 * (0.2 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0))));
    let log2 = exponent + 2.0 * s * series * std::f32::consts::LOG2_E;
    log2 * std::f32::consts::LOG10_2
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
        let out: Vec<f32> = values.iter().map(|v| log10_positive(v.abs())).collect();
        for (v, l) in values.iter().zip(&out) {
            let want = f64::from(v.abs()).log10();
            assert!(
                (f64::from(*l) - want).abs() < 1e-6 * want.abs().max(1.0),
                "{v:e}: {l} against {want}"
            );
        }
    }

    #[test]
    fn the_bucket_is_the_ceiling_of_ten_logarithms() {
        for i in -4_600..=4_600 {
            for l in [i as f32 * 0.01, i as f32 * 0.01 + 1e-4, i as f32 * 0.1] {
                let want = ((l * PER_DECADE).ceil() as i32).clamp(FIRST_BUCKET, LAST_BUCKET);
                assert_eq!(bucket(l), want, "{l}");
            }
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
