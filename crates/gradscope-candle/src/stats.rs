//! The gradient statistics, defined once: what [`GradMonitor`](crate::GradMonitor)
//! logs and what gradscope's trainer logs and reports, so the two cannot
//! disagree on a number.
//!
//! ```
//! use gradscope_candle::stats::{attenuation, mean_abs, update_ratio, GradStats};
//!
//! assert_eq!(mean_abs(&[0.5, -1.5]), 1.0);
//! // Two layers, two logged steps: the first layer's gradient is a tenth
//! // of the last one's, so the gradient weakens 10x on its way back.
//! let mut stats = GradStats::new(2);
//! stats.record(&[1e-4, 1e-3]);
//! stats.record(&[3e-4, 3e-3]);
//! assert!((attenuation(&stats.averages()) - 10.0).abs() < 1e-9);
//! // An optimizer step a hundredth of the weights' size.
//! assert!((update_ratio(&[3.0, 4.0], &[3.03, 4.04]).unwrap() + 2.0).abs() < 1e-4);
//! ```

use gradscope_tensorboard::histogram::sum_of;

/// Mean absolute value, the measure of how much gradient a layer receives
/// (the vanishing-gradient literature's). A non-finite value makes the
/// result non-finite, on purpose: a NaN gradient must show, not be averaged
/// away. 0 for no values.
///
/// ```
/// use gradscope_candle::stats::mean_abs;
/// assert_eq!(mean_abs(&[1.0, -3.0]), 2.0);
/// assert!(mean_abs(&[1.0, f32::NAN]).is_nan());
/// ```
pub fn mean_abs(values: &[f32]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    sum_of(values, f64::abs) / values.len() as f64
}

/// The statistics of one tensor's values (a parameter's gradient).
///
/// ```
/// use gradscope_candle::stats::TensorStats;
/// let stats = TensorStats::new(&[3.0, -4.0, f32::INFINITY]);
/// assert_eq!((stats.max_abs, stats.norm, stats.nonfinite), (4.0, 5.0, 1));
/// assert!(stats.mean_abs.is_infinite()); // made non-finite on purpose
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct TensorStats {
    /// [`mean_abs`] of the values.
    pub mean_abs: f64,
    /// The largest finite |value|.
    pub max_abs: f64,
    /// The L2 norm of the finite values.
    pub norm: f64,
    /// NaN and infinite values: left out of the others but `mean_abs`,
    /// which they make non-finite on purpose.
    pub nonfinite: usize,
}

impl TensorStats {
    /// The statistics of `values`: each a vectorised pass of its own,
    /// without branches (one loop testing each value took about 4x as
    /// long on a 7,840-value layer).
    pub fn new(values: &[f32]) -> TensorStats {
        let finite_or_zero = |v: f64| if v.is_finite() { v.abs() } else { 0.0 };
        let max_abs = values
            .iter()
            .fold(0f64, |m, &v| m.max(finite_or_zero(f64::from(v))));
        let nonfinite = sum_of(values, |v| if v.is_finite() { 0.0 } else { 1.0 });
        TensorStats {
            mean_abs: mean_abs(values),
            max_abs,
            norm: norm(values),
            nonfinite: nonfinite as usize,
        }
    }
}

/// The L2 norm of the finite values: what `--clip-norm` and
/// `torch.nn.utils.clip_grad_norm_` call a gradient's norm, NaN and
/// infinities left out (they are counted apart, see [`TensorStats`]).
///
/// ```
/// use gradscope_candle::stats::norm;
/// assert_eq!(norm(&[3.0, -4.0, f32::NAN]), 5.0);
/// ```
pub fn norm(values: &[f32]) -> f64 {
    sum_of(values, |v| if v.is_finite() { v * v } else { 0.0 }).sqrt()
}

/// Each layer's (or layer group's) mean |grad|, accumulated over the
/// logged steps of a run.
///
/// ```
/// use gradscope_candle::stats::GradStats;
/// let mut stats = GradStats::new(2);
/// stats.record(&[1.0, 4.0]);
/// stats.record(&[3.0, 8.0]);
/// assert_eq!(stats.averages(), [2.0, 6.0]);
/// ```
#[derive(Debug, Clone, Default)]
pub struct GradStats {
    sums: Vec<f64>,
    samples: usize,
}

impl GradStats {
    /// No steps yet, for `layers` layers.
    pub fn new(layers: usize) -> GradStats {
        GradStats {
            sums: vec![0.0; layers],
            samples: 0,
        }
    }

    /// Records one logged step: `per_layer[i]` is layer i+1's mean |grad|.
    /// Extra values are ignored; missing ones count as 0.
    pub fn record(&mut self, per_layer: &[f64]) {
        for (sum, v) in self.sums.iter_mut().zip(per_layer) {
            *sum += v;
        }
        self.samples += 1;
    }

    /// Each layer's mean |grad| averaged over the recorded steps, input
    /// first (zeros before any step).
    pub fn averages(&self) -> Vec<f64> {
        let n = self.samples.max(1) as f64;
        self.sums.iter().map(|s| s / n).collect()
    }

    /// How many steps were recorded.
    pub fn steps(&self) -> usize {
        self.samples
    }

    /// Each layer's sum of mean |grad| over the recorded steps: with
    /// [`steps`](Self::steps), what [`GradStats::from_sums`] continues
    /// from exactly (a run resumed from a checkpoint).
    pub fn sums(&self) -> &[f64] {
        &self.sums
    }

    /// The statistics whose [`sums`](Self::sums) and
    /// [`steps`](Self::steps) these are.
    ///
    /// ```
    /// use gradscope_candle::stats::GradStats;
    /// let mut stats = GradStats::new(2);
    /// stats.record(&[1.0, 4.0]);
    /// let mut resumed = GradStats::from_sums(stats.sums().to_vec(), stats.steps());
    /// resumed.record(&[3.0, 8.0]);
    /// assert_eq!(resumed.averages(), [2.0, 6.0]);
    /// ```
    pub fn from_sums(sums: Vec<f64>, steps: usize) -> GradStats {
        GradStats {
            sums,
            samples: steps,
        }
    }
}

/// Last layer's mean |grad| over the first layer's (`averages`, input
/// first): how many times weaker the gradient is by the time it reaches the
/// input. 1 means no vanishing; NaN for no layers.
///
/// ```
/// use gradscope_candle::stats::attenuation;
/// assert_eq!(attenuation(&[5.8e-4, 1.8e-3, 2.2e-2]), 2.2e-2 / 5.8e-4);
/// assert!(attenuation(&[]).is_nan());
/// ```
pub fn attenuation(averages: &[f64]) -> f64 {
    match (averages.first(), averages.last()) {
        (Some(&first), Some(&last)) => last / first,
        _ => f64::NAN,
    }
}

/// log10(‖after − before‖ / ‖before‖) (Frobenius norms): the size of an
/// optimizer step relative to the weights it changed. About -3 is the usual
/// healthy figure (CS231n's rule of thumb); much lower, the layer barely
/// learns; near 0, each step rewrites it. `None` where the ratio is not a
/// finite number: weights of norm 0 (a zero-initialised bias at its first
/// step) or a step that changed nothing, which get no point rather than an
/// infinite one.
///
/// ```
/// use gradscope_candle::stats::update_ratio;
/// assert!((update_ratio(&[1.0; 100], &[1.001; 100]).unwrap() + 3.0).abs() < 1e-3);
/// assert_eq!(update_ratio(&[0.0, 0.0], &[0.1, 0.1]), None);
/// assert_eq!(update_ratio(&[1.0, 2.0], &[1.0, 2.0]), None);
/// ```
pub fn update_ratio(before: &[f32], after: &[f32]) -> Option<f64> {
    // Eight f32 lanes, which the compiler vectorises (a sum in f64 took
    // 8 µs for the default network's kernels at every logged step); the
    // rounding is far below what a log10 shows.
    const LANES: usize = 8;
    let (mut step, mut size) = ([0f32; LANES], [0f32; LANES]);
    let pairs = before.chunks_exact(LANES).zip(after.chunks_exact(LANES));
    for (b, a) in pairs {
        for i in 0..LANES {
            let d = a[i] - b[i];
            step[i] += d * d;
            size[i] += b[i] * b[i];
        }
    }
    let n = before.len().min(after.len());
    let tail = n - n % LANES;
    let (mut step, mut size) = (
        step.iter().map(|&v| f64::from(v)).sum::<f64>(),
        size.iter().map(|&v| f64::from(v)).sum::<f64>(),
    );
    for (&b, &a) in before[tail..n].iter().zip(&after[tail..n]) {
        let (b, a) = (f64::from(b), f64::from(a));
        step += (a - b) * (a - b);
        size += b * b;
    }
    let ratio = (step.sqrt() / size.sqrt()).log10();
    ratio.is_finite().then_some(ratio)
}

/// The cosine between the step an optimizer took (`after − before`) and the
/// negative gradient `grad` it was given: 1 for plain SGD, below 1 where
/// momentum, Adam's per-value scaling or weight decay turned the step away
/// from steepest descent, and near 0 or negative where the step no longer
/// follows this gradient at all (Adam with stale moments, a gradient that
/// flips sign each step). `None` where the step or the gradient is zero,
/// or any figure is not finite, or the lengths differ.
///
/// ```
/// use gradscope_candle::stats::step_cosine;
/// // SGD: the step is -lr · grad.
/// let cos = step_cosine(&[1.0, 2.0], &[0.9, 2.2], &[1.0, -2.0]).unwrap();
/// assert!((cos - 1.0).abs() < 1e-6);
/// // A step along the gradient (ascent) is -1; orthogonal, 0.
/// assert!((step_cosine(&[0.0], &[1.0], &[1.0]).unwrap() + 1.0).abs() < 1e-12);
/// assert!(step_cosine(&[0.0, 0.0], &[1.0, 0.0], &[0.0, 1.0]).unwrap().abs() < 1e-12);
/// assert_eq!(step_cosine(&[1.0], &[1.0], &[1.0]), None); // no step
/// ```
pub fn step_cosine(before: &[f32], after: &[f32], grad: &[f32]) -> Option<f64> {
    if before.len() != after.len() || before.len() != grad.len() {
        return None;
    }
    // Eight f32 lanes the compiler vectorises, as in `update_ratio`; the
    // sums go to f64 before they are combined.
    const LANES: usize = 8;
    let (mut dot, mut step, mut size) = ([0f32; LANES], [0f32; LANES], [0f32; LANES]);
    let n = before.len();
    let whole = n - n % LANES;
    for i in (0..whole).step_by(LANES) {
        for k in 0..LANES {
            let d = after[i + k] - before[i + k];
            let g = grad[i + k];
            dot[k] -= d * g;
            step[k] += d * d;
            size[k] += g * g;
        }
    }
    let total = |lanes: [f32; LANES]| lanes.iter().map(|&v| f64::from(v)).sum::<f64>();
    let (mut dot, mut step, mut size) = (total(dot), total(step), total(size));
    for i in whole..n {
        let d = f64::from(after[i]) - f64::from(before[i]);
        let g = f64::from(grad[i]);
        dot -= d * g;
        step += d * d;
        size += g * g;
    }
    cosine_from_sums(dot, step, size)
}

/// a·b / (‖a‖ ‖b‖) from the sums a·b, ‖a‖² and ‖b‖², clamped to [-1, 1];
/// `None` where either norm is zero or the result is not finite. For
/// callers that gather the sums themselves, as gradscope's fused Adam does
/// in its update: [`step_cosine`] is this with a = the step, b = −grad.
///
/// ```
/// use gradscope_candle::stats::cosine_from_sums;
/// assert_eq!(cosine_from_sums(3.0, 9.0, 1.0), Some(1.0));
/// assert_eq!(cosine_from_sums(0.0, 0.0, 4.0), None);
/// ```
pub fn cosine_from_sums(dot: f64, a_squares: f64, b_squares: f64) -> Option<f64> {
    let denominator = (a_squares * b_squares).sqrt();
    let cosine = dot / denominator;
    (denominator > 0.0 && cosine.is_finite()).then(|| cosine.clamp(-1.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn update_ratio_agrees_with_the_plain_sum_across_lane_boundaries() {
        for n in [1, 7, 8, 9, 100, 1001] {
            let before: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin() + 0.1).collect();
            let after: Vec<f32> = before.iter().map(|b| b * 1.01 + 1e-4).collect();
            let (mut step, mut size) = (0f64, 0f64);
            for (&b, &a) in before.iter().zip(&after) {
                step += f64::from(a - b).powi(2);
                size += f64::from(b).powi(2);
            }
            let plain = (step.sqrt() / size.sqrt()).log10();
            let ours = update_ratio(&before, &after).unwrap();
            assert!((ours - plain).abs() < 1e-4, "n={n}: {ours} vs {plain}");
        }
    }

    #[test]
    fn step_cosine_agrees_with_the_plain_sum_across_lane_boundaries() {
        for n in [1, 7, 8, 9, 100, 1001] {
            let grad: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37 + 0.5).sin()).collect();
            let before: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            // A step part along -grad, part along a fixed other direction.
            let after: Vec<f32> = (0..n)
                .map(|i| before[i] - 0.01 * grad[i] + 0.004 * (i as f32 * 1.3).cos())
                .collect();
            let (mut dot, mut dd, mut gg) = (0f64, 0f64, 0f64);
            for i in 0..n {
                let d = f64::from(after[i] - before[i]);
                let g = f64::from(grad[i]);
                dot -= d * g;
                dd += d * d;
                gg += g * g;
            }
            let plain = dot / (dd.sqrt() * gg.sqrt());
            let ours = step_cosine(&before, &after, &grad).unwrap();
            assert!((ours - plain).abs() < 1e-5, "n={n}: {ours} vs {plain}");
            assert!(ours > 0.3 && ours <= 1.0, "n={n}: {ours}");
        }
        assert_eq!(step_cosine(&[1.0], &[2.0], &[0.0]), None);
        assert_eq!(step_cosine(&[1.0], &[2.0], &[f32::NAN]), None);
        assert_eq!(step_cosine(&[1.0, 2.0], &[2.0], &[1.0]), None);
    }

    #[test]
    fn empty_and_non_finite_inputs_give_no_ratio() {
        assert_eq!(update_ratio(&[], &[]), None);
        assert_eq!(update_ratio(&[1.0], &[f32::NAN]), None);
        assert_eq!(TensorStats::new(&[]).mean_abs, 0.0);
    }

    #[test]
    fn mean_abs_and_nan() {
        assert_eq!(mean_abs(&[1.0, -3.0]), 2.0);
        assert_eq!(mean_abs(&[]), 0.0);
        assert!(mean_abs(&[1.0, f32::NAN]).is_nan());
    }

    #[test]
    fn mean_abs_covers_every_lane_and_the_remainder() {
        for n in (1..40).chain([7_840, 7_843]) {
            let values: Vec<f32> = (0..n).map(|i| (i as f32 - 11.5) * 0.25).collect();
            let plain = values.iter().map(|v| f64::from(v.abs())).sum::<f64>() / n as f64;
            let ours = mean_abs(&values);
            assert!(
                (ours - plain).abs() <= 1e-12 * plain,
                "n {n}: {ours} vs {plain}"
            );
            let mut poisoned = values.clone();
            poisoned[n - 1] = f32::NAN;
            assert!(mean_abs(&poisoned).is_nan(), "n {n}");
        }
    }

    #[test]
    fn averages_over_logged_steps_and_attenuation() {
        let mut s = GradStats::new(2);
        s.record(&[1.0, 10.0]);
        s.record(&[3.0, 50.0]);
        assert_eq!(s.averages(), vec![2.0, 30.0]);
        assert_eq!(attenuation(&s.averages()), 15.0);
    }
}
