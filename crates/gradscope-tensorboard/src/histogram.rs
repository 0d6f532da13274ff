//! Histogram bucketing with TensorFlow's default bucket edges.
//!
//! TensorFlow's `tf.summary.histogram` (v1) and TensorBoard's histogram and
//! distribution dashboards expect exponential buckets: edges at
//! `±1e-12 · 1.1^k` up to 1e20, a bucket at zero and `±f64::MAX` at the ends.
//! Using the same edges means our histograms look like TensorFlow's and merge
//! with them.

use std::sync::OnceLock;

use multiversion::multiversion;

use crate::proto::HistogramProto;

/// The positive edges, ascending: `1e-12 · 1.1^k` below 1e20, then `MAX`.
fn positive_edges() -> &'static [f64] {
    static POSITIVE: OnceLock<Vec<f64>> = OnceLock::new();
    POSITIVE.get_or_init(|| {
        let mut positive = Vec::new();
        let mut v = 1e-12;
        while v < 1e20 {
            positive.push(v);
            v *= 1.1;
        }
        positive.push(f64::MAX);
        positive
    })
}

/// TensorFlow's default bucket right edges, ascending:
/// `[-MAX, -1e20.., ..., -1e-12, 0, 1e-12, ..., ~1e20, MAX]`.
pub fn default_edges() -> &'static [f64] {
    static EDGES: OnceLock<Vec<f64>> = OnceLock::new();
    EDGES.get_or_init(|| {
        let positive = positive_edges();
        let mut edges: Vec<f64> = positive.iter().rev().map(|v| -v).collect();
        edges.push(0.0);
        edges.extend_from_slice(positive);
        edges
    })
}

/// Finds a value's bucket in O(1) instead of a binary search over ~1,550
/// edges, which dominated histogram time.
///
/// An f32's bit pattern, read as an integer, orders non-negative values; its
/// top 12 bits below the sign (exponent and 4 mantissa bits) cut each octave
/// into 16 slices, each narrower (6.25%) than the 10% between edges, so a
/// slice holds at most one edge. Per slice the table keeps how many positive
/// edges lie below it and the one edge inside it, if any: one lookup and one
/// comparison place any finite value.
struct BucketIndex {
    slices: Box<[Slice; SLICES]>,
    positive: usize,
}

/// What a slice of f32 magnitudes knows about the positive edges, in the
/// integer domain of the magnitudes' bit patterns so that placing a value
/// needs no floating-point comparison. Packed into one `u32`, so that the
/// whole table (16 KB) stays in the L1 cache beside the counts:
///
/// - bits 0-9: the positive edges below the slice's first value;
/// - bits 10-29: where in the slice (the offset of its bit pattern from the
///   slice's first) the first magnitude at or above the edge inside the
///   slice is; one past the slice's end if it holds no edge;
/// - bit 30: whether the first magnitude strictly above that edge is one
///   further on (the edge is itself an f32) rather than the same.
#[derive(Clone, Copy)]
struct Slice(u32);

impl Slice {
    fn new(below: usize, reaches: u32, passes: u32) -> Slice {
        assert!(below < 1 << 10, "{below} edges below a slice");
        assert!(reaches <= SLICE_WIDTH && passes - reaches <= 1);
        Slice(below as u32 | reaches << 10 | (passes - reaches) << 30)
    }

    #[inline]
    fn below(self) -> u32 {
        self.0 & 0x3ff
    }

    #[inline]
    fn reaches_edge(self) -> u32 {
        (self.0 >> 10) & 0xf_ffff
    }

    #[inline]
    fn passes_edge(self) -> u32 {
        self.reaches_edge() + (self.0 >> 30)
    }
}

/// Bits below the slice number in an f32's magnitude.
const SLICE_SHIFT: u32 = 19;
const SLICES: usize = 1 << (31 - SLICE_SHIFT);
/// Bit patterns per slice.
const SLICE_WIDTH: u32 = 1 << SLICE_SHIFT;

impl BucketIndex {
    fn get() -> &'static BucketIndex {
        static INDEX: OnceLock<BucketIndex> = OnceLock::new();
        INDEX.get_or_init(|| {
            let positive = positive_edges();
            // The first bit pattern in `range` whose value satisfies `pred`
            // (monotonic over non-negative patterns).
            let first = |range: std::ops::Range<u32>, pred: &dyn Fn(f64) -> bool| {
                let (mut lo, mut hi) = (range.start, range.end);
                while lo < hi {
                    let mid = lo + (hi - lo) / 2;
                    if pred(f64::from(f32::from_bits(mid))) {
                        hi = mid;
                    } else {
                        lo = mid + 1;
                    }
                }
                lo
            };
            let slices: Vec<Slice> = (0..SLICES as u32)
                .map(|k| {
                    let range = (k << SLICE_SHIFT)..((k + 1) << SLICE_SHIFT);
                    let start = f64::from(f32::from_bits(range.start));
                    let end = f64::from(f32::from_bits(range.end));
                    let below = positive.partition_point(|&e| e < start);
                    let inside: Vec<f64> = positive[below..]
                        .iter()
                        .copied()
                        .take_while(|&e| e < end)
                        .collect();
                    assert!(inside.len() <= 1, "slice {k} holds {} edges", inside.len());
                    // As offsets from the slice's first bit pattern.
                    let (reaches_edge, passes_edge) = match inside.first() {
                        Some(&edge) => (
                            first(range.clone(), &|v| v >= edge) - range.start,
                            first(range, &|v| v > edge) - (k << SLICE_SHIFT),
                        ),
                        None => (SLICE_WIDTH, SLICE_WIDTH),
                    };
                    Slice::new(below, reaches_edge, passes_edge)
                })
                .collect();
            BucketIndex {
                slices: slices
                    .into_boxed_slice()
                    .try_into()
                    .unwrap_or_else(|_| unreachable!("one entry per slice")),
                positive: positive.len(),
            }
        })
    }

    /// `default_edges().partition_point(|&e| e <= x)` for finite `x`: the
    /// index of the bucket `x` falls in. Branch-free: gradient signs are
    /// random, and a mispredicted branch per value would cost more than the
    /// lookup.
    #[inline]
    fn bucket(&self, x: f32) -> usize {
        let bits = x.to_bits();
        let magnitude = bits & 0x7fff_ffff;
        let slice = self.slices[(magnitude >> SLICE_SHIFT) as usize & (SLICES - 1)];
        let offset = magnitude & (SLICE_WIDTH - 1);
        let below = slice.below() as usize;
        // Positive x: every negative edge, zero, and the positive edges <= x.
        let positive = self.positive + 1 + below + usize::from(offset >= slice.reaches_edge());
        // Negative x: the negative edges <= x, i.e. the positive edges >= |x|;
        // -0.0 counts zero's edge too.
        let negative = self.positive - below - usize::from(offset >= slice.passes_edge())
            + usize::from(magnitude == 0);
        if bits >> 31 == 0 {
            positive
        } else {
            negative
        }
    }
}

/// A histogram of finite values plus a count of the non-finite ones it left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// The buckets, count, sum, sum of squares, min and max of the finite
    /// values, as TensorBoard reads them.
    pub proto: HistogramProto,
    /// NaN and ±infinity values that were skipped. They have no bucket, and
    /// one of them would turn `sum` and `sum_squares` into NaN.
    pub non_finite: usize,
}

/// Buckets `values` with TensorFlow's default edges.
///
/// A value `x` lands in the first bucket whose right edge is greater than
/// `x` (TensorFlow's `upper_bound` rule). Runs of empty buckets are collapsed
/// into one zero-count bucket, as TensorFlow encodes them, so a typical
/// gradient histogram has tens of buckets, not 1,500.
pub fn buckets(values: &[f32]) -> Histogram {
    let edges = default_edges();
    let index = BucketIndex::get();
    let range = range(values);
    // NaN and infinities have no bucket and would make the sums NaN: the
    // rest of the work sees the finite values only.
    let finite: Vec<f32>;
    let values = if range.non_finite == 0 {
        values
    } else {
        finite = values.iter().copied().filter(|v| v.is_finite()).collect();
        &finite
    };
    let num = values.len();
    let (sum, sum_squares) = sums(values);
    let mut proto = HistogramProto {
        min: if num == 0 { 0.0 } else { f64::from(range.min) },
        max: if num == 0 { 0.0 } else { f64::from(range.max) },
        num: num as f64,
        sum,
        sum_squares,
        bucket_limit: Vec::new(),
        bucket: Vec::new(),
    };
    if num == 0 {
        proto.bucket_limit.push(*edges.last().expect("edges"));
        proto.bucket.push(0.0);
        return Histogram {
            proto,
            non_finite: range.non_finite,
        };
    }

    // Only the buckets of min and max and those between can be occupied:
    // the empty runs outside them collapse to one bucket each.
    let (first, last) = (index.bucket(range.min), index.bucket(range.max));
    let counts = count(index, first, last, values);
    // At most one bucket per value and one per empty run between them,
    // plus the two runs outside.
    let buckets = (2 * num + 3).min(counts.len() + 2);
    proto.bucket_limit.reserve_exact(buckets);
    proto.bucket.reserve_exact(buckets);
    if first > 0 {
        proto.bucket_limit.push(edges[first - 1]);
        proto.bucket.push(0.0);
    }
    let mut i = 0;
    while i < counts.len() {
        if counts[i] == 0 {
            // A run of empty buckets, reported as one ending where it ends.
            let run = counts[i..].iter().take_while(|&&c| c == 0).count();
            i += run;
            proto.bucket_limit.push(edges[first + i - 1]);
            proto.bucket.push(0.0);
        } else {
            proto.bucket_limit.push(edges[first + i]);
            proto.bucket.push(f64::from(counts[i]));
            i += 1;
        }
    }
    if last + 1 < edges.len() {
        proto.bucket_limit.push(edges[edges.len() - 1]);
        proto.bucket.push(0.0);
    }
    Histogram {
        proto,
        non_finite: range.non_finite,
    }
}

/// How many of the finite `values` fall in each bucket from `first` to
/// `last`, the buckets of their minimum and maximum (so a histogram of
/// a hundred values clears a few dozen counters, not 1,551).
///
/// Neighbouring values of a layer's gradients or weights often share a
/// bucket, and incrementing one counter again before its last increment is
/// stored stalls on that store; four sets of counters, one per value in a
/// group of four, keep those increments independent.
#[multiversion(targets = "simd")]
fn count(index: &BucketIndex, first: usize, last: usize, values: &[f32]) -> Vec<u32> {
    const WAYS: usize = 4;
    const BLOCK: usize = 256;
    let mut counts = vec![[0u32; WAYS]; last + 1 - first];
    let mut found = [0u32; BLOCK];
    for block in values.chunks(BLOCK) {
        for (slot, &value) in found.iter_mut().zip(block) {
            *slot = index.bucket(value) as u32;
        }
        let found = &found[..block.len()];
        let chunks = found.chunks_exact(WAYS);
        let rest = chunks.remainder();
        for chunk in chunks {
            for (way, &b) in chunk.iter().enumerate() {
                counts[b as usize - first][way] += 1;
            }
        }
        for &b in rest {
            counts[b as usize - first][0] += 1;
        }
    }
    counts.iter().map(|ways| ways.iter().sum()).collect()
}

/// The smallest and largest finite values, and how many were not finite.
struct Range {
    min: f32,
    max: f32,
    non_finite: usize,
}

/// Independent lanes for the loops below: the compiler vectorises them, and
/// the sums are not one long dependency chain.
const LANES: usize = 8;
/// More for the f64 sums, whose additions wait on each other: sixteen
/// lanes are two AVX-512 registers each for the sum and the squares.
const SUM_LANES: usize = 16;

/// The [`Range`] of `values`, in [`LANES`] lanes, with selects instead of
/// branches. Compiled also for AVX-512 and AVX2 and picked at run time, as
/// are [`sums`] and [`count`]: a histogram pass for every logged layer at
/// every logged step makes these a writer's main work.
#[multiversion(targets = "simd")]
fn range(values: &[f32]) -> Range {
    let mut min = [f32::INFINITY; LANES];
    let mut max = [f32::NEG_INFINITY; LANES];
    let mut non_finite = [0u32; LANES];
    let chunks = values.chunks_exact(LANES);
    let rest = chunks.remainder();
    // The remainder padded with NaN, which changes nothing but the count of
    // non-finite values, taken back below.
    let mut last = [f32::NAN; LANES];
    last[..rest.len()].copy_from_slice(rest);
    for chunk in chunks
        .map(|c| <[f32; LANES]>::try_from(c).expect("LANES values"))
        .chain([last])
    {
        for lane in 0..LANES {
            let v = chunk[lane];
            let finite = v.abs() < f32::INFINITY;
            let low = if finite { v } else { f32::INFINITY };
            let high = if finite { v } else { f32::NEG_INFINITY };
            min[lane] = if low < min[lane] { low } else { min[lane] };
            max[lane] = if high > max[lane] { high } else { max[lane] };
            non_finite[lane] += u32::from(!finite);
        }
    }
    Range {
        min: min.into_iter().fold(f32::INFINITY, f32::min),
        max: max.into_iter().fold(f32::NEG_INFINITY, f32::max),
        non_finite: non_finite.iter().map(|&n| n as usize).sum::<usize>() - (LANES - rest.len()),
    }
}

/// How many of `values` are NaN or infinite: the count [`buckets`] leaves
/// out, without the rest of its work (a background writer's caller counts
/// them before handing the values over). Summed as `u32`s, which the
/// compiler vectorises (per-lane arrays as in [`range`] came out slower
/// here), in blocks too short for a `u32` to overflow; compiled also for
/// AVX-512 and AVX2.
#[multiversion(targets = "simd")]
pub(crate) fn count_non_finite(values: &[f32]) -> usize {
    values
        .chunks(1 << 24)
        .map(|block| {
            // All exponent bits set: NaN or ±infinity.
            let count: u32 = block
                .iter()
                .map(|v| u32::from(v.to_bits() & 0x7f80_0000 == 0x7f80_0000))
                .sum();
            count as usize
        })
        .sum()
}

/// The sum and the sum of squares of finite `values`, in f64, in
/// [`SUM_LANES`] lanes: one pass each, as two passes over values that sit
/// in the L1 cache cost less than one the compiler cannot vectorise (it
/// paired each lane's sum with its square in scalar code).
fn sums(values: &[f32]) -> (f64, f64) {
    (sum_of(values, |x| x), sum_of(values, |x| x * x))
}

/// The f64 sum of `term(v)` over `values`, in sixteen independent
/// lanes, so that the additions vectorise and do not wait on each other
/// (as one chain of additions, a 7,840-value layer took about 10 µs).
/// Compiled also for AVX-512 and AVX2, picked at run time. Also
/// the mean |grad| that gradscope logs beside each histogram, so the two agree.
#[multiversion(targets = "simd")]
#[inline]
pub fn sum_of(values: &[f32], term: impl Fn(f64) -> f64 + Copy) -> f64 {
    let mut sum = [0f64; SUM_LANES];
    let chunks = values.chunks_exact(SUM_LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for lane in 0..SUM_LANES {
            sum[lane] += term(f64::from(chunk[lane]));
        }
    }
    for (lane, &v) in rest.iter().enumerate() {
        sum[lane] += term(f64::from(v));
    }
    sum.iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nonzero_buckets(h: &HistogramProto) -> Vec<(f64, f64)> {
        h.bucket_limit
            .iter()
            .zip(&h.bucket)
            .filter(|(_, &c)| c > 0.0)
            .map(|(&l, &c)| (l, c))
            .collect()
    }

    #[test]
    fn edges_are_tensorflows_defaults() {
        let edges = default_edges();
        // 774 positive edges below 1e20, plus MAX, mirrored, plus zero.
        assert_eq!(edges.len(), 2 * 775 + 1);
        assert_eq!(edges[0], -f64::MAX);
        assert_eq!(*edges.last().unwrap(), f64::MAX);
        let zero = edges.len() / 2;
        assert_eq!(edges[zero], 0.0);
        assert_eq!(edges[zero + 1], 1e-12);
        assert!((edges[zero + 2] - 1.1e-12).abs() < 1e-24);
        assert!(edges.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn the_bucket_index_agrees_with_a_binary_search() {
        let edges = default_edges();
        let index = BucketIndex::get();
        let reference = |x: f32| edges.partition_point(|&e| e <= f64::from(x));
        let mut values = vec![0.0, -0.0, f32::MIN_POSITIVE, f32::MAX, f32::MIN, 1e-45];
        // Every edge as an f32, and its neighbours on both sides.
        for &e in edges.iter().filter(|e| e.abs() < 3e38) {
            let f = e as f32;
            values.extend([
                f,
                f32::from_bits(f.to_bits() + 1),
                f32::from_bits(f.to_bits().saturating_sub(1)),
            ]);
        }
        // And a spread of ordinary values.
        let mut state = 1u64;
        for _ in 0..200_000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let bits = (state >> 32) as u32;
            let x = f32::from_bits(bits);
            if x.is_finite() {
                values.push(x);
            }
        }
        for x in values {
            assert_eq!(index.bucket(x), reference(x), "{x:e}");
        }
    }

    #[test]
    fn counts_min_max_sum_and_squares() {
        let h = buckets(&[1.0, -2.0, 0.0, 1.0, 3.5]).proto;
        assert_eq!(h.num, 5.0);
        assert_eq!(h.min, -2.0);
        assert_eq!(h.max, 3.5);
        assert_eq!(h.sum, 3.5);
        assert_eq!(h.sum_squares, 1.0 + 4.0 + 0.0 + 1.0 + 12.25);
        // Against a plain search over every edge, collapsing empty runs.
        let edges = default_edges();
        let mut counts = vec![0u32; edges.len()];
        for v in [1.0f64, -2.0, 0.0, 1.0, 3.5] {
            counts[edges.partition_point(|&e| e <= v)] += 1;
        }
        let (mut limits, mut buckets) = (Vec::new(), Vec::new());
        let mut i = 0;
        while i < counts.len() {
            let (mut limit, count) = (edges[i], counts[i]);
            i += 1;
            while count == 0 && i < counts.len() && counts[i] == 0 {
                limit = edges[i];
                i += 1;
            }
            limits.push(limit);
            buckets.push(f64::from(count));
        }
        assert_eq!(
            (h.bucket_limit.clone(), h.bucket.clone()),
            (limits, buckets)
        );
        assert_eq!(h.bucket.iter().sum::<f64>(), 5.0);
        assert_eq!(h.bucket.len(), h.bucket_limit.len());
    }

    /// The lanes, chunks and remainders of the passes over the values,
    /// against plain loops, for every length up to a few chunks and for a
    /// layer's worth, with and without non-finite values among them.
    #[test]
    fn statistics_and_counts_match_plain_loops_at_every_length() {
        let edges = default_edges();
        let mut state = 7u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 3.0
        };
        let lengths = (0..70).chain([7_840, 7_843]);
        for (n, poison) in lengths.flat_map(|n| [(n, false), (n, true)]) {
            let mut values: Vec<f32> = (0..n).map(|_| next()).collect();
            if poison && n > 3 {
                values[1] = f32::NAN;
                values[n - 1] = f32::INFINITY;
            }
            let finite: Vec<f32> = values.iter().copied().filter(|v| v.is_finite()).collect();
            let h = buckets(&values);
            assert_eq!(h.non_finite, n - finite.len(), "n {n}");
            let p = &h.proto;
            assert_eq!(p.num, finite.len() as f64, "n {n}");
            let sum: f64 = finite.iter().map(|&v| f64::from(v)).sum();
            let squares: f64 = finite.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
            assert!(
                (p.sum - sum).abs() <= 1e-9 * (1.0 + sum.abs()),
                "n {n}: {} vs {sum}",
                p.sum
            );
            assert!((p.sum_squares - squares).abs() <= 1e-9 * squares, "n {n}");
            if finite.is_empty() {
                continue;
            }
            let min = finite.iter().copied().fold(f32::INFINITY, f32::min);
            let max = finite.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            assert_eq!((p.min, p.max), (f64::from(min), f64::from(max)), "n {n}");
            // Every value counted in the bucket a binary search finds.
            let mut expected = std::collections::BTreeMap::new();
            for &v in &finite {
                let limit = edges[edges.partition_point(|&e| e <= f64::from(v))];
                *expected.entry(limit.to_bits()).or_insert(0.0) += 1.0;
            }
            let counted: std::collections::BTreeMap<u64, f64> = p
                .bucket_limit
                .iter()
                .zip(&p.bucket)
                .filter(|(_, &c)| c > 0.0)
                .map(|(l, &c)| (l.to_bits(), c))
                .collect();
            assert_eq!(counted, expected, "n {n}");
        }
    }

    #[test]
    fn a_value_goes_to_the_first_edge_above_it() {
        let edges = default_edges();
        let zero = edges.len() / 2;
        // 0 is not < 0, so it lands in the bucket whose right edge is 1e-12.
        let h = buckets(&[0.0]).proto;
        assert_eq!(nonzero_buckets(&h), vec![(edges[zero + 1], 1.0)]);
        // 1.0 lies between 1.1^k·1e-12 edges; check its bucket brackets it.
        let h = buckets(&[1.0]).proto;
        let (limit, _) = nonzero_buckets(&h)[0];
        let k = edges.iter().position(|&e| e == limit).unwrap();
        assert!(edges[k - 1] <= 1.0 && 1.0 < edges[k]);
        // Negative values mirror.
        let h = buckets(&[-1.0]).proto;
        let (limit, _) = nonzero_buckets(&h)[0];
        let k = edges.iter().position(|&e| e == limit).unwrap();
        assert!(edges[k - 1] <= -1.0 && -1.0 < edges[k]);
    }

    #[test]
    fn empty_runs_collapse_into_single_zero_buckets() {
        let h = buckets(&[1.0, 1000.0]).proto;
        // empty run, 1.0's bucket, empty run, 1000's bucket, empty run to MAX
        assert_eq!(h.bucket, vec![0.0, 1.0, 0.0, 1.0, 0.0]);
        assert_eq!(*h.bucket_limit.last().unwrap(), f64::MAX);
    }

    #[test]
    fn count_non_finite_agrees_with_buckets_at_every_length() {
        let specials = [
            f32::NAN,
            f32::INFINITY,
            -f32::NAN,
            f32::NEG_INFINITY,
            f32::MAX,
            1e-40,
        ];
        let values: Vec<f32> = (0..100)
            .map(|i| {
                if i % 3 == 0 {
                    specials[i / 3 % specials.len()]
                } else {
                    i as f32
                }
            })
            .collect();
        for len in 0..values.len() {
            let values = &values[..len];
            assert_eq!(
                count_non_finite(values),
                buckets(values).non_finite,
                "{len}"
            );
        }
    }

    #[test]
    fn nan_and_infinity_are_left_out_and_counted() {
        let hist = buckets(&[1.0, f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 2.0]);
        assert_eq!(hist.non_finite, 3);
        let h = hist.proto;
        assert_eq!(h.num, 2.0);
        assert_eq!(h.sum, 3.0);
        assert_eq!(h.sum_squares, 5.0);
        assert_eq!((h.min, h.max), (1.0, 2.0));
        assert!(h.bucket.iter().all(|c| c.is_finite()));
    }

    #[test]
    fn empty_and_all_nan_inputs_give_one_empty_bucket() {
        for values in [&[][..], &[f32::NAN, f32::NAN][..]] {
            let h = buckets(values).proto;
            assert_eq!(h.num, 0.0);
            assert_eq!((h.min, h.max, h.sum, h.sum_squares), (0.0, 0.0, 0.0, 0.0));
            assert_eq!(h.bucket, vec![0.0]);
            assert_eq!(h.bucket_limit, vec![f64::MAX]);
        }
    }

    #[test]
    fn extreme_finite_values_have_buckets() {
        let h = buckets(&[f32::MAX, f32::MIN, f32::MIN_POSITIVE]).proto;
        assert_eq!(h.num, 3.0);
        assert_eq!(h.bucket.iter().sum::<f64>(), 3.0);
    }
}
