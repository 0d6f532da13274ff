//! Statistics of gradients and weights, computed from their host copies,
//! and what a finished run reports: the figures the trainer logs and the
//! reports read back, defined once for both.

use gradscope_tensorboard::histogram::sum_of;

use crate::diagnostics::UnitMeasure;

/// Mean absolute value, the article's measure of how much gradient a layer
/// receives. A non-finite value makes the result non-finite, on purpose:
/// a NaN gradient must show, not be averaged away.
pub fn mean_abs(values: &[f32]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    sum_of(values, f64::abs) / values.len() as f64
}

/// Per-layer mean |gradient|, accumulated over the logged steps of a run.
#[derive(Debug, Clone, Default)]
pub struct GradStats {
    sums: Vec<f64>,
    samples: usize,
}

impl GradStats {
    pub fn new(layers: usize) -> GradStats {
        GradStats {
            sums: vec![0.0; layers],
            samples: 0,
        }
    }

    /// Records one logged step: `per_layer[i]` is layer i+1's mean |grad|.
    pub fn record(&mut self, per_layer: &[f64]) {
        debug_assert_eq!(per_layer.len(), self.sums.len());
        for (sum, v) in self.sums.iter_mut().zip(per_layer) {
            *sum += v;
        }
        self.samples += 1;
    }

    /// Each layer's mean |grad| averaged over the recorded steps, input first.
    pub fn averages(&self) -> Vec<f64> {
        let n = self.samples.max(1) as f64;
        self.sums.iter().map(|s| s / n).collect()
    }
}

/// Last layer's mean |grad| over the first layer's: how many times weaker
/// the gradient is by the time it reaches the input. 1 means no vanishing.
pub fn attenuation(averages: &[f64]) -> f64 {
    match (averages.first(), averages.last()) {
        (Some(&first), Some(&last)) => last / first,
        _ => f64::NAN,
    }
}

/// The mean and the sample standard deviation (divided by n - 1) of
/// `values`, as the seed groups' aggregate runs report them; the deviation
/// of a single value is 0. `None` for no values.
///
/// ```
/// let (mean, std) = gradscope::stats::mean_std(&[1.0, 3.0]).unwrap();
/// assert_eq!((mean, std), (2.0, 2f64.sqrt()));
/// ```
pub fn mean_std(values: &[f64]) -> Option<(f64, f64)> {
    let n = values.len();
    if n == 0 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return Some((mean, 0.0));
    }
    let squares: f64 = values.iter().map(|v| (v - mean).powi(2)).sum();
    Some((mean, (squares / (n - 1) as f64).sqrt()))
}

/// How many times weaker a recurrent run's gradient with respect to its
/// first hidden state is than at its last: the median over the logged
/// steps of ||dL/dh_T|| / ||dL/dh_1|| (`per_step`, NaN values left out;
/// NaN when none is left). The median, not a ratio of averages as
/// [`attenuation`] takes across layers: through hundreds of steps the ratio
/// spans dozens of orders of magnitude from one step to the next, and one
/// step's outlier would otherwise stand for the run. 1 means nothing is
/// lost through time.
///
/// ```
/// use gradscope::stats::time_attenuation;
/// assert_eq!(time_attenuation(&[1e30, 3.0, 2.0, f64::NAN]), 3.0);
/// assert_eq!(time_attenuation(&[1.0, 4.0]), 2.5);
/// assert!(time_attenuation(&[]).is_nan());
/// ```
pub fn time_attenuation(per_step: &[f64]) -> f64 {
    let mut values: Vec<f64> = per_step.iter().copied().filter(|v| !v.is_nan()).collect();
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => values[n / 2],
        _ => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// What a finished run reports.
#[derive(Debug, Clone)]
pub struct RunSummary {
    pub name: String,
    /// Each layer's mean |grad| averaged over the logged steps, input first.
    pub mean_grad: Vec<f64>,
    /// The last logged loss and batch accuracy.
    pub final_loss: f32,
    pub final_batch_acc: f32,
    /// Accuracy on the whole training and test splits after training.
    pub train_acc: f32,
    pub test_acc: f32,
    /// A recurrent run's [`time_attenuation`]; `None` for the MLP.
    pub time_attenuation: Option<f64>,
    /// The hidden layers' dead or saturated fractions at the last
    /// diagnosed step, for [`crate::diagnosis`]; `None` when none was
    /// diagnosed or the activation has no such measure.
    pub units: Option<UnitFractions>,
}

/// Each hidden layer's fraction of dead or saturated units (input first),
/// as [`crate::diagnostics`] defines them.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitFractions {
    pub measure: UnitMeasure,
    pub per_layer: Vec<f64>,
}

impl RunSummary {
    pub fn attenuation(&self) -> f64 {
        attenuation(&self.mean_grad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
