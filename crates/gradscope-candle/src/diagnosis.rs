//! A model's gradient flow in words: which layers' gradients vanish or
//! explode relative to the last layer's, and which layers have many dead or
//! saturated units, with the numbers and the thresholds.
//!
//! The thresholds are defined here, once: [`VANISHING_BELOW`],
//! [`EXPLODING_ABOVE`], [`UNITS_FLAGGED_FROM`].
//!
//! ```
//! use gradscope_candle::diagnosis::Diagnosis;
//! use gradscope_candle::units::{UnitFractions, UnitMeasure};
//!
//! let units = UnitFractions { measure: UnitMeasure::Dead, per_layer: vec![0.0, 0.6] };
//! let d = Diagnosis::new(&[1e-4, 2e-3, 5e-3], Some(&units));
//! assert_eq!(d.vanishing, [(1, 0.02)]);
//! assert!(d.exploding.is_empty());
//! assert_eq!(d.flagged_units, [(2, 0.6)]);
//! assert!(d.lines("relu")[0].contains("layer 1"));
//! ```

use crate::units::{UnitFractions, UnitMeasure};

/// A layer's gradient vanishes when its mean |grad| is below this fraction
/// of the last layer's.
pub const VANISHING_BELOW: f64 = 0.1;
/// A layer's gradient explodes when its mean |grad| is above this many
/// times the last layer's.
pub const EXPLODING_ABOVE: f64 = 10.0;
/// A layer is called dead (or saturated) when at least this fraction of its
/// units is, at the last diagnosed step.
pub const UNITS_FLAGGED_FROM: f64 = 0.5;

/// What [`Diagnosis::new`] finds in a run.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Diagnosis {
    /// The last layer's mean |grad|, the reference.
    pub last: f64,
    /// Layers (from 1) whose mean |grad| is below [`VANISHING_BELOW`] of
    /// the last layer's, with that ratio.
    pub vanishing: Vec<(usize, f64)>,
    /// Layers whose mean |grad| is above [`EXPLODING_ABOVE`] times the
    /// last layer's, with that ratio.
    pub exploding: Vec<(usize, f64)>,
    /// The unit measure of the run's activation, if it has one.
    pub measure: Option<UnitMeasure>,
    /// Hidden layers (from 1) with at least [`UNITS_FLAGGED_FROM`] of their
    /// units dead or saturated, with that fraction.
    pub flagged_units: Vec<(usize, f64)>,
    /// The hidden layer with the most such units, and its fraction.
    pub most_units: Option<(usize, f64)>,
}

impl Diagnosis {
    /// Judges a run from each layer's mean |grad| (input first, averaged
    /// over the logged steps, as [`GradStats::averages`](crate::stats::GradStats::averages)
    /// gives them) and its hidden layers' dead or saturated fractions at
    /// the last diagnosed step, if it has them.
    pub fn new(mean_grad: &[f64], units: Option<&UnitFractions>) -> Diagnosis {
        let last = mean_grad.last().copied().unwrap_or(f64::NAN);
        let ratios = mean_grad
            .iter()
            .enumerate()
            .map(|(l, g)| (l + 1, g / last))
            .take(mean_grad.len().saturating_sub(1));
        let (mut vanishing, mut exploding) = (Vec::new(), Vec::new());
        for (layer, ratio) in ratios {
            if ratio < VANISHING_BELOW {
                vanishing.push((layer, ratio));
            } else if ratio > EXPLODING_ABOVE {
                exploding.push((layer, ratio));
            }
        }
        let fractions = units.map(|u| u.per_layer.as_slice()).unwrap_or_default();
        let numbered = || fractions.iter().enumerate().map(|(l, &f)| (l + 1, f));
        Diagnosis {
            last,
            vanishing,
            exploding,
            measure: units.map(|u| u.measure),
            flagged_units: numbered()
                .filter(|&(_, f)| f >= UNITS_FLAGGED_FROM)
                .collect(),
            most_units: numbered().fold(None, |best, (l, f)| match best {
                Some((_, b)) if b >= f => best,
                _ => Some((l, f)),
            }),
        }
    }

    /// The diagnosis as sentences, one per finding, each starting with
    /// `run`.
    pub fn lines(&self, run: &str) -> Vec<String> {
        let layers = |found: &[(usize, f64)]| {
            found
                .iter()
                .map(|(l, r)| format!("layer {l} ({r:.2}x)"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let reference = format!("the last layer's mean |grad| {:.2e}", self.last);
        let mut lines = vec![if self.vanishing.is_empty() {
            format!(
                "{run}: no layer's gradient vanishes (none below {VANISHING_BELOW}x {reference})"
            )
        } else {
            format!(
                "{run}: gradients vanish in {} (below {VANISHING_BELOW}x {reference})",
                layers(&self.vanishing)
            )
        }];
        if !self.exploding.is_empty() {
            lines.push(format!(
                "{run}: gradients explode in {} (above {EXPLODING_ABOVE}x {reference})",
                layers(&self.exploding)
            ));
        }
        if let (Some(measure), Some((most, fraction))) = (self.measure, self.most_units) {
            let (word, definition) = (measure.word(), measure.definition());
            let percent = |f: f64| format!("{:.0}%", f * 100.0);
            lines.push(if self.flagged_units.is_empty() {
                format!(
                    "{run}: no layer has {} or more {word} units ({definition}; at the last \
                     diagnosed step; most: layer {most}, {})",
                    percent(UNITS_FLAGGED_FROM),
                    percent(fraction)
                )
            } else {
                let flagged: Vec<String> = self
                    .flagged_units
                    .iter()
                    .map(|&(l, f)| format!("layer {l} ({})", percent(f)))
                    .collect();
                format!(
                    "{run}: {word} units in {} ({definition}; at the last diagnosed step; \
                     flagged from {})",
                    flagged.join(", "),
                    percent(UNITS_FLAGGED_FROM)
                )
            });
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_split_layers_and_are_said() {
        let units = UnitFractions {
            measure: UnitMeasure::Saturated,
            per_layer: vec![0.1, 0.2],
        };
        // Ratios to the last layer: 0.05, 50, 2 (neither), and the last.
        let d = Diagnosis::new(&[5e-4, 0.5, 2e-2, 1e-2], Some(&units));
        let layers = |found: &[(usize, f64)]| found.iter().map(|f| f.0).collect::<Vec<_>>();
        assert_eq!(layers(&d.vanishing), [1]);
        assert_eq!(layers(&d.exploding), [2]);
        assert_eq!(d.flagged_units, []);
        assert_eq!(d.most_units, Some((2, 0.2)));
        let lines = d.lines("sigmoid");
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[0].contains("layer 1 (0.05x)"), "{lines:?}");
        assert!(lines[0].contains("below 0.1x the last layer's mean |grad| 1.00e-2"));
        assert!(lines[1].contains("layer 2 (50.00x)"), "{lines:?}");
        assert!(lines[2].contains("no layer has 50% or more saturated units"));
        assert!(lines[2].contains("most: layer 2, 20%"), "{lines:?}");
    }

    #[test]
    fn a_healthy_run_without_units_says_only_that() {
        let d = Diagnosis::new(&[0.5, 1.0], None);
        let lines = d.lines("linear");
        assert_eq!(
            lines,
            [
                "linear: no layer's gradient vanishes (none below 0.1x the last layer's mean \
              |grad| 1.00e0)"
            ]
        );
    }
}
