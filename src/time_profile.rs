//! The gradient through time of a recurrent run: ||dL/dh_t|| for t = 1..T
//! at a logged step, what of it is logged, and its figure.
//!
//! At each logged step a recurrent run writes the scalars
//! [`tags::TIME_GRAD_FIRST`] (t = 1), [`tags::TIME_GRAD_LAST`] (t = T),
//! [`tags::TIME_ATTENUATION`] (last / first), [`tags::time_grad_at`] at
//! t = T/4, T/2 and 3T/4 ([`FRACTIONS`], rounded, at least 1), and the
//! profile itself as scalars [`tags::time_grad`]`(t)` at the steps
//! [`points`] picks: every step up to [`MAX_POINTS`] steps, else
//! `MAX_POINTS` steps evenly spread from 1 to T. The training loop draws
//! the profiles logged so far into the image [`tags::TIME_GRAD_PROFILE`]
//! with [`draw`]; `gradscope plot` draws the same figure from the scalars.
//!
//! ||dL/dh_t|| is the L2 norm over the batch and the hidden units of the
//! gradient of the batch's mean loss with respect to `h_t`.

use std::sync::OnceLock;

use anyhow::{anyhow, Result};
use gradscope_tensorboard::proto::summary;
use gradscope_tensorboard::summary::scalar;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::tags;

/// The most time steps whose gradient is logged as a scalar.
pub const MAX_POINTS: usize = 50;

/// The fractions of T with a scalar of their own, besides the ends.
pub const FRACTIONS: [(usize, usize); 3] = [(1, 4), (1, 2), (3, 4)];

/// The figure's size in pixels.
pub const SIZE: (u32, u32) = (800, 500);

/// The time steps (from 1) whose gradient is logged for `steps` steps.
pub fn points(steps: usize) -> Vec<usize> {
    if steps <= MAX_POINTS {
        return (1..=steps).collect();
    }
    let span = (steps - 1) as f64 / (MAX_POINTS - 1) as f64;
    (0..MAX_POINTS)
        .map(|k| 1 + (k as f64 * span).round() as usize)
        .collect()
}

/// The step at `numerator/denominator` of `steps`, rounded, at least 1.
pub fn at_fraction(steps: usize, (numerator, denominator): (usize, usize)) -> usize {
    ((steps * numerator) as f64 / denominator as f64)
        .round()
        .max(1.0) as usize
}

/// A logged step's summary values from its profile, `norms[t - 1]` being
/// ||dL/dh_t||.
pub fn scalars(norms: &[f64]) -> Vec<summary::Value> {
    let (first, last) = (norms[0], norms[norms.len() - 1]);
    let mut values = vec![
        scalar(tags::TIME_GRAD_FIRST, first as f32),
        scalar(tags::TIME_GRAD_LAST, last as f32),
        scalar(tags::TIME_ATTENUATION, attenuation(first, last) as f32),
    ];
    for fraction in FRACTIONS {
        let t = at_fraction(norms.len(), fraction);
        values.push(scalar(
            &tags::time_grad_at(fraction.0, fraction.1),
            norms[t - 1] as f32,
        ));
    }
    for t in points(norms.len()) {
        values.push(scalar(&tags::time_grad(t), norms[t - 1] as f32));
    }
    values
}

/// A logged step's [`tags::TIME_ATTENUATION`], `last / first`, as the
/// scalar holds it (an f32: infinite where ||dL/dh_1|| underflowed to 0).
pub fn attenuation(first: f64, last: f64) -> f64 {
    f64::from((last / first) as f32)
}

/// One curve of the figure: the logged step and its `(t, ||dL/dh_t||)`.
pub type Curve = (i64, Vec<(usize, f64)>);

/// The profile's points as logged: `(t, norms[t - 1])` at [`points`].
pub fn curve(step: i64, norms: &[f64]) -> Curve {
    let points = points(norms.len()).into_iter();
    (step, points.map(|t| (t, norms[t - 1])).collect())
}

/// The most curves one figure draws: past that (a run logged every few
/// steps), an evenly spread selection with the first and the latest, so
/// drawing stays quick and the figure readable.
pub const MAX_CURVES: usize = 25;

/// Draws ||dL/dh_t|| against t on a log scale, one curve per logged step
/// (at most [`MAX_CURVES`]), from dark (early) to light (late), titled
/// `title`: RGB pixels of [`SIZE`].
pub fn draw(title: &str, curves: &[Curve]) -> Result<Vec<u8>> {
    let curves: Vec<&Curve> = if curves.len() <= MAX_CURVES {
        curves.iter().collect()
    } else {
        let span = (curves.len() - 1) as f64 / (MAX_CURVES - 1) as f64;
        (0..MAX_CURVES)
            .map(|k| &curves[(k as f64 * span).round() as usize])
            .collect()
    };
    register_font()?;
    let (width, height) = SIZE;
    let mut pixels = vec![0u8; width as usize * height as usize * 3];
    let steps = curves
        .iter()
        .flat_map(|(_, c)| c.iter().map(|p| p.0))
        .max()
        .unwrap_or(1)
        .max(2);
    let values = curves.iter().flat_map(|(_, c)| c.iter().map(|p| p.1));
    let (lo, hi) = values
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold((f64::INFINITY, 0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    // Drawn as log10 on a linear axis, whole decades at each end: plotters'
    // log axis labels only a few decades of a range this wide.
    let (lo, hi) = if lo > hi {
        (-1.0, 0.0)
    } else {
        let lo = lo.log10().floor();
        (lo, hi.log10().ceil().max(lo + 1.0))
    };
    let decades = (hi - lo).round() as usize;
    let label_every = decades.div_ceil(10).max(1);
    {
        let root = BitMapBackend::with_buffer(&mut pixels, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 22))
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(80)
            .build_cartesian_2d(1usize..steps, lo..hi)
            .map_err(drawing)?;
        chart
            .configure_mesh()
            .x_desc("time step t")
            .y_desc("||dL/dh_t||")
            .y_labels(decades / label_every + 1)
            .light_line_style(WHITE.mix(0.0))
            .label_style((FONT, 16))
            .y_label_formatter(&|v| format!("1e{}", v.round()))
            .draw()
            .map_err(drawing)?;
        let n = curves.len().max(2) - 1;
        for (k, &(step, points)) in curves.iter().enumerate() {
            let colour = shade(k as f64 / n as f64);
            let points = points
                .iter()
                .filter(|p| p.1.is_finite() && p.1 > 0.0)
                .map(|&(t, v)| (t, v.log10()));
            let series = chart
                .draw_series(LineSeries::new(points, colour.stroke_width(2)))
                .map_err(drawing)?;
            // Label the first and the latest curve only: the shade says the rest.
            if k == 0 || k + 1 == curves.len() {
                series.label(format!("step {step}")).legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 16, y + 5)], colour.filled())
                });
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .label_font((FONT, 16))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(drawing)?;
        root.present().map_err(drawing)?;
    }
    Ok(pixels)
}

/// From dark blue (0) to light orange (1).
fn shade(x: f64) -> RGBColor {
    let mix = |a: f64, b: f64| (a + (b - a) * x.clamp(0.0, 1.0)).round() as u8;
    RGBColor(mix(20.0, 250.0), mix(40.0, 160.0), mix(120.0, 30.0))
}

const FONT: &str = "sans-serif";

fn register_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
    });
    ok.then_some(())
        .ok_or_else(|| anyhow!("the compiled-in DejaVu Sans font could not be loaded"))
}

fn drawing<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("drawing the gradient-through-time figure: {e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Formerly a doctest: the module is private.
    #[test]
    fn points_spread() {
        use crate::time_profile::points;
        assert_eq!(points(3), [1, 2, 3]);
        let p = points(784);
        assert_eq!((p.len(), p[0], p[49]), (50, 1, 784));
    }

    #[test]
    fn fractions_and_scalars() {
        assert_eq!(at_fraction(28, (1, 4)), 7);
        assert_eq!(at_fraction(196, (3, 4)), 147);
        assert_eq!(at_fraction(1, (1, 4)), 1);
        let norms: Vec<f64> = (1..=28).map(|t| t as f64).collect();
        let values = scalars(&norms);
        let get = |tag: &str| {
            let v = values.iter().find(|v| v.tag == tag).unwrap();
            match v.value {
                Some(summary::value::Value::SimpleValue(x)) => x,
                _ => panic!("not a simple scalar"),
            }
        };
        assert_eq!(get(tags::TIME_ATTENUATION), 28.0);
        assert_eq!(get(&tags::time_grad_at(1, 2)), 14.0);
        assert_eq!(get(&tags::time_grad(28)), 28.0);
        let image = draw("lstm", &[curve(0, &norms), curve(200, &norms)]).unwrap();
        assert_eq!(image.len(), 800 * 500 * 3);
        assert!(image.iter().any(|&b| b != 255));
        // Past MAX_CURVES, a selection is drawn, the latest among them.
        let many: Vec<Curve> = (0..60).map(|s| curve(s, &norms)).collect();
        assert_eq!(draw("many", &many).unwrap().len(), image.len());
    }
}
