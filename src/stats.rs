//! What a finished run reports, and the statistics across seeds and
//! through time. The gradient statistics themselves (mean |grad|,
//! attenuation, the update ratio, dead and saturated units) are
//! [`gradscope_candle`]'s, re-exported here: the trainer, the reports and
//! the `GradMonitor` of any candle model compute the same numbers.

pub use gradscope_candle::stats::{attenuation, mean_abs, norm, update_ratio, GradStats};
pub use gradscope_candle::units::UnitFractions;

use gradscope_candle::diagnosis::Diagnosis;

/// The mean and the sample standard deviation (divided by n - 1) of
/// `values`, as the seed groups' aggregate runs report them; the deviation
/// of a single value is 0. `None` for no values.
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
    /// A recurrent run's `time_attenuation`; `None` for the MLP.
    pub time_attenuation: Option<f64>,
    /// The hidden layers' dead or saturated fractions at the last
    /// diagnosed step, for the diagnosis; `None` when none was diagnosed or
    /// the activation has no such measure.
    pub units: Option<UnitFractions>,
}

impl RunSummary {
    /// Last layer's mean |grad| over the first's ([`attenuation`]).
    pub fn attenuation(&self) -> f64 {
        attenuation(&self.mean_grad)
    }

    /// The run's gradient flow judged in words.
    pub fn diagnosis(&self) -> Diagnosis {
        Diagnosis::new(&self.mean_grad, self.units.as_ref())
    }
}

#[cfg(test)]
mod tests {
    /// Formerly a doctest: the module is private.
    #[test]
    fn mean_std_of_two() {
        let (mean, std) = crate::stats::mean_std(&[1.0, 3.0]).unwrap();
        assert_eq!((mean, std), (2.0, 2f64.sqrt()));
    }

    /// Formerly a doctest: the module is private.
    #[test]
    fn time_attenuation_median() {
        use crate::stats::time_attenuation;
        assert_eq!(time_attenuation(&[1e30, 3.0, 2.0, f64::NAN]), 3.0);
        assert_eq!(time_attenuation(&[1.0, 4.0]), 2.5);
        assert!(time_attenuation(&[]).is_nan());
    }
}
