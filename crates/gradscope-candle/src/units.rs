//! Dead and saturated units: a hidden layer's units that pass no gradient
//! back on a batch, defined once for every model that can compute its
//! pre-activations.
//!
//! ```
//! use gradscope_candle::units::{dead_fraction, saturated_fraction};
//!
//! // Two examples (rows), two units (columns): the second unit is never
//! // positive, so it is dead on this batch.
//! assert_eq!(dead_fraction(&[0.5, -1.0, -0.2, 0.0], 2), 0.5);
//! // sigmoid'(6) = 0.0025 is below 1% of sigmoid'(0) = 0.25; sigmoid'(4) is not.
//! let sigmoid_derivative = |x: f64| {
//!     let s = 1.0 / (1.0 + (-x).exp());
//!     s * (1.0 - s)
//! };
//! assert_eq!(saturated_fraction(&[6.0, 4.0, -7.0, 9.0], 2, sigmoid_derivative), 0.5);
//! ```

/// A unit is saturated on an example when the activation's derivative there
/// is below this fraction of the derivative's maximum (0.25 for sigmoid, 1
/// for tanh, both at 0).
pub const SATURATION_THRESHOLD: f64 = 0.01;

/// Which unit measure an activation gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitMeasure {
    /// The ReLU family (ReLU, leaky ReLU, ELU, SELU, GELU, softplus): a unit
    /// is dead on a batch when its pre-activation is at most 0 for every
    /// example ([`dead_fraction`]).
    Dead,
    /// Sigmoid and tanh: a unit is saturated on a batch when its derivative
    /// is below [`SATURATION_THRESHOLD`] of its maximum for every example
    /// ([`saturated_fraction`]).
    Saturated,
}

impl UnitMeasure {
    /// The fraction of the layer's units this measure finds on the batch
    /// whose pre-activations are `z` (`batch × units`, row-major);
    /// `derivative` is the activation's (used by [`UnitMeasure::Saturated`]).
    ///
    /// ```
    /// use gradscope_candle::units::UnitMeasure;
    /// let relu_derivative = |x: f64| if x > 0.0 { 1.0 } else { 0.0 };
    /// assert_eq!(UnitMeasure::Dead.fraction(&[-1.0, 2.0], 2, relu_derivative), 0.5);
    /// ```
    pub fn fraction(self, z: &[f32], units: usize, derivative: impl Fn(f64) -> f64) -> f64 {
        match self {
            UnitMeasure::Dead => dead_fraction(z, units),
            UnitMeasure::Saturated => saturated_fraction(z, units, derivative),
        }
    }

    /// What a unit found by this measure is called: "dead", "saturated".
    pub fn word(self) -> &'static str {
        match self {
            UnitMeasure::Dead => "dead",
            UnitMeasure::Saturated => "saturated",
        }
    }

    /// The definition, in words, as the diagnosis quotes it.
    pub fn definition(self) -> &'static str {
        match self {
            UnitMeasure::Dead => "pre-activation at most 0 on every example of the batch",
            UnitMeasure::Saturated => {
                "derivative below 1% of its maximum on every example of the batch"
            }
        }
    }
}

/// Each hidden layer's fraction of dead or saturated units, input first.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitFractions {
    /// What was counted.
    pub measure: UnitMeasure,
    /// One fraction (0 to 1) per hidden layer, input first.
    pub per_layer: Vec<f64>,
}

/// The fraction of columns (units) of `z` (`batch × units`, row-major)
/// where every row satisfies `inactive`. 0 for no units.
fn fraction_of_units(z: &[f32], units: usize, inactive: impl Fn(f32) -> bool) -> f64 {
    if units == 0 || z.is_empty() {
        return 0.0;
    }
    let mut all = vec![true; units];
    for row in z.chunks_exact(units) {
        for (all, &v) in all.iter_mut().zip(row) {
            *all &= inactive(v);
        }
    }
    all.iter().filter(|&&a| a).count() as f64 / units as f64
}

/// The fraction of units dead on the batch `z` (`batch × units`
/// pre-activations, row-major): pre-activation at most 0 (or NaN) for every
/// example, so the unit passes no signal forward and (for ReLU) no gradient
/// back.
pub fn dead_fraction(z: &[f32], units: usize) -> f64 {
    fraction_of_units(z, units, |v| v.is_nan() || v <= 0.0)
}

/// The fraction of units saturated on the batch `z` (`batch × units`
/// pre-activations, row-major): `derivative(z)` below
/// [`SATURATION_THRESHOLD`] of `derivative(0)` for every example. For an
/// activation whose derivative is even and falls with |z|, as sigmoid's and
/// tanh's.
pub fn saturated_fraction(z: &[f32], units: usize, derivative: impl Fn(f64) -> f64) -> f64 {
    let bound = saturation_bound(derivative);
    fraction_of_units(z, units, |v| f64::from(v).abs() > bound)
}

/// The |z| beyond which `derivative(z)` is below [`SATURATION_THRESHOLD`]
/// of `derivative(0)`: found once by bisection, so that a batch's units are
/// compared with it instead of each computing an exponential.
fn saturation_bound(derivative: impl Fn(f64) -> f64) -> f64 {
    let threshold = SATURATION_THRESHOLD * derivative(0.0);
    let (mut low, mut high) = (0.0f64, 64.0f64);
    for _ in 0..60 {
        let mid = 0.5 * (low + high);
        if derivative(mid) < threshold {
            high = mid;
        } else {
            low = mid;
        }
    }
    low
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tanh_derivative(x: f64) -> f64 {
        1.0 - x.tanh().powi(2)
    }

    #[test]
    fn units_count_only_when_inactive_on_every_example() {
        // 3 examples x 3 units: unit 0 positive once, unit 1 never (0 and NaN
        // count as not positive), unit 2 always.
        let z = [-1.0, 0.0, 2.0, 0.5, -3.0, 1.0, -0.1, f32::NAN, 4.0];
        assert_eq!(dead_fraction(&z, 3), 1.0 / 3.0);
        assert_eq!(dead_fraction(&[], 3), 0.0);
        assert_eq!(dead_fraction(&z, 0), 0.0);
        // tanh'(3) = 0.0099 < 0.01; tanh'(2.6) = 0.022.
        assert_eq!(
            saturated_fraction(&[3.0, -3.0, 2.6, 3.0], 2, tanh_derivative),
            0.5
        );
    }

    /// The bound is where the derivative crosses 1% of its maximum, so
    /// comparing |z| with it is the derivative's definition.
    #[test]
    fn saturation_is_the_derivatives_threshold() {
        let threshold = SATURATION_THRESHOLD * tanh_derivative(0.0);
        for i in -4000..4000 {
            let v = i as f32 * 0.003;
            let by_derivative = tanh_derivative(f64::from(v)) < threshold;
            assert_eq!(
                saturated_fraction(&[v], 1, tanh_derivative) == 1.0,
                by_derivative,
                "{v}"
            );
        }
    }
}
