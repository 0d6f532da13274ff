//! Drawing figures into memory: what the report's PNGs
//! ([`crate::report::plot`]) and a training run's images (the gradient-flow
//! bar chart at diagnosed steps, `train::views`) share.
//!
//! plotters' bitmap backend draws into an RGB buffer ([`render`]) with the
//! DejaVu Sans font compiled in, so figures look the same on every machine
//! and need no system fonts.

use std::ops::Range;
use std::sync::OnceLock;

use anyhow::{anyhow, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

/// The font family every figure uses (DejaVu Sans, registered by [`render`]).
pub const FONT: &str = "sans-serif";

/// A drawing area in memory.
pub type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// One run's bars in [`gradient_flow`]: a value per layer, input first.
pub struct Bars<'a> {
    pub name: &'a str,
    pub colour: RGBColor,
    pub values: &'a [f64],
}

/// The gradient-flow bar chart: each layer's mean |grad|, one bar per run
/// in each layer's slot, on a log scale of whole decades, with a legend of
/// the runs when there are several; values that are not positive and
/// finite are left out.
pub fn gradient_flow(root: &Area, caption: &str, runs: &[Bars]) -> Result<()> {
    let layers = runs.iter().map(|r| r.values.len()).max().unwrap_or(1);
    let decades = log_range(runs.iter().flat_map(|r| r.values.iter().copied()));
    let x = 0.5..layers as f64 + 0.5;
    let mut chart = ChartBuilder::on(root)
        .caption(caption, (FONT, 26))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(x, decades.clone().log_scale())
        .map_err(drawing)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc("layer (1 = nearest the input)")
        .y_desc("mean |gradient| (log scale)")
        // One label per layer; plotters picks the positions, so any that
        // fall between layers stay blank.
        .x_labels(layers)
        .x_label_formatter(&|v| {
            if (v - v.round()).abs() < 1e-6 {
                format!("{}", v.round())
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .draw()
        .map_err(drawing)?;
    // Each layer's slot (width 1) holds one bar per run, with a gap either side.
    let bar = 0.8 / runs.len().max(1) as f64;
    for (i, run) in runs.iter().enumerate() {
        let colour = run.colour;
        let bars = run
            .values
            .iter()
            .enumerate()
            .filter(|(_, g)| loggable(**g))
            .map(move |(l, &g)| {
                let left = (l + 1) as f64 - 0.4 + bar * i as f64;
                Rectangle::new([(left, decades.start), (left + bar, g)], colour.filled())
            });
        chart
            .draw_series(bars)
            .map_err(drawing)?
            .label(run.name)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], colour.filled()));
    }
    // One run's chart says what it is in its caption.
    if runs.len() > 1 {
        legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    }
    Ok(())
}

/// Draws the chart's legend at `position`, in the figures' style.
pub fn legend<'a, X, Y>(
    chart: &mut ChartContext<'a, BitMapBackend<'a>, Cartesian2d<X, Y>>,
    position: SeriesLabelPosition,
) -> Result<()>
where
    X: plotters::coord::ranged1d::Ranged,
    Y: plotters::coord::ranged1d::Ranged,
{
    chart
        .configure_series_labels()
        .position(position)
        .label_font((FONT, 18))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .margin(12)
        .draw()
        .map_err(drawing)
}

/// Whether a log scale can show `v`.
pub fn loggable(v: f64) -> bool {
    v.is_finite() && v > 0.0
}

/// Whole decades around the positive, finite values.
pub fn log_range(values: impl Iterator<Item = f64>) -> Range<f64> {
    let (lo, hi) = values
        .filter(|&v| loggable(v))
        .fold((f64::INFINITY, 0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if lo > hi {
        return 0.1..1.0;
    }
    let lo = 10f64.powf(lo.log10().floor());
    let hi = 10f64.powf(hi.log10().ceil()).max(lo * 10.0);
    // A hair wider, so rounding in plotters' tick search cannot drop the
    // end decades' labels.
    lo * (1.0 - 1e-9)..hi * (1.0 + 1e-9)
}

/// Draws into an RGB buffer of `size` (width, height) with the embedded
/// font registered.
pub fn render(size: (u32, u32), draw: impl FnOnce(&Area) -> Result<()>) -> Result<Vec<u8>> {
    register_font()?;
    let mut pixels = vec![0u8; size.0 as usize * size.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
        root.fill(&WHITE).map_err(drawing)?;
        draw(&root)?;
        root.present().map_err(drawing)?;
    }
    Ok(pixels)
}

fn register_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(anyhow!(
            "the compiled-in DejaVu Sans font could not be loaded"
        ))
    }
}

/// A plotters error, as ours.
pub fn drawing<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow!("drawing a figure: {e}")
}

/// The first layer's kernel as pictures, one per unit, tiled in a grid:
/// unit `j`'s weights over the input pixels (column `j` of the `(inputs,
/// units)` row-major `kernel`) laid out as the `rows × cols` input image,
/// each scaled to its own range (darkest its smallest weight, brightest its
/// largest; a unit of equal weights is mid-gray), enlarged `zoom` times and
/// separated by gray gaps. Returns 8-bit gray pixels, their height and
/// width; `None` if the kernel is not `rows · cols` inputs wide.
pub fn unit_tiles(
    kernel: &[f32],
    units: usize,
    (rows, cols): (usize, usize),
    zoom: usize,
) -> Option<(Vec<u8>, usize, usize)> {
    const GAP_SHADE: u8 = 128;
    let inputs = rows * cols;
    if units == 0 || inputs == 0 || kernel.len() != inputs * units {
        return None;
    }
    let zoom = zoom.max(1);
    let across = (units as f64).sqrt().ceil() as usize;
    let down = units.div_ceil(across);
    let gap = zoom;
    let (tile_h, tile_w) = (rows * zoom, cols * zoom);
    let height = down * tile_h + (down - 1) * gap;
    let width = across * tile_w + (across - 1) * gap;
    let mut pixels = vec![GAP_SHADE; height * width];
    for unit in 0..units {
        let weight = |pixel: usize| kernel[pixel * units + unit];
        let (lo, hi) = (0..inputs)
            .map(weight)
            .filter(|w| w.is_finite())
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), w| {
                (lo.min(w), hi.max(w))
            });
        let shade = |w: f32| -> u8 {
            // No finite range (a flat unit, or no finite weight at all).
            if hi <= lo || !hi.is_finite() || !w.is_finite() {
                GAP_SHADE
            } else {
                ((w - lo) / (hi - lo) * 255.0).round() as u8
            }
        };
        let (top, left) = (
            (unit / across) * (tile_h + gap),
            (unit % across) * (tile_w + gap),
        );
        for r in 0..tile_h {
            for c in 0..tile_w {
                let pixel = (r / zoom) * cols + c / zoom;
                pixels[(top + r) * width + left + c] = shade(weight(pixel));
            }
        }
    }
    Some((pixels, height, width))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Formerly a doctest: the module is private.
    #[test]
    fn figure_module() {
        use crate::figure::{gradient_flow, render, Bars};
        use plotters::style::RGBColor;

        let bars = [Bars {
            name: "sigmoid",
            colour: RGBColor(31, 119, 180),
            values: &[6e-4, 2e-3, 2e-2],
        }];
        let pixels = render((320, 200), |area| gradient_flow(area, "mean |grad|", &bars)).unwrap();
        assert_eq!(pixels.len(), 320 * 200 * 3);
    }

    /// Formerly a doctest: the module is private.
    #[test]
    fn unit_tiles_grid() {
        use crate::figure::unit_tiles;
        // 2x2 images, 3 units: a 2x2 grid of 2x2 tiles with 1-pixel gaps.
        let kernel: Vec<f32> = (0..12).map(|i| i as f32).collect();
        let (pixels, height, width) = unit_tiles(&kernel, 3, (2, 2), 1).unwrap();
        assert_eq!((height, width), (5, 5));
        assert_eq!(pixels.len(), 25);
    }

    /// Each unit is scaled to its own range, laid out as the image, and a
    /// flat unit is mid-gray.
    #[test]
    fn unit_tiles_scale_each_unit_and_keep_the_image_layout() {
        // 1x2 images, 2 units: unit 0 = [0, 10], unit 1 = [5, 5].
        let kernel = [0.0, 5.0, 10.0, 5.0];
        let (pixels, height, width) = unit_tiles(&kernel, 2, (1, 2), 1).unwrap();
        assert_eq!((height, width), (1, 5));
        assert_eq!(pixels, [0, 255, 128, 128, 128]);
        assert!(unit_tiles(&kernel, 3, (1, 2), 1).is_none());
    }
}
