//! `gradscope plot LOGDIR`: PNG figures of the runs under `LOGDIR/plots/`.
//!
//! - `accuracy.png`: training-batch accuracy (`acc`) of each run over steps;
//! - `grad_first_last.png`: mean |grad| of the first layer (`mean_1`) and of
//!   the last (`mean_N`) of each run over steps, log scale, two panels with
//!   one y range so their heights compare;
//! - `grad_per_layer.png`: each layer's mean |grad| averaged over the logged
//!   steps (the table's `|g| Ln`), one bar per run, log scale: the vanishing
//!   at a glance.
//! - `time_grad_RUN.png`, for each recurrent run: ||dL/dh_t|| against t,
//!   one curve per logged step, from its `time_grad/t…` scalars: the figure
//!   the run shows in TensorBoard's Images dashboard
//!   ([`crate::time_profile::draw`]).
//!
//! A seed group with an aggregate run (`RUN/mean`, see [`crate::seeds`])
//! is drawn as that run: its mean as the line and a band of one standard
//! deviation around it (`t/lower` to `t/upper`) in the line figures, its
//! seeds' own runs left out; the legend says how many seeds.
//!
//! A run keeps one colour in every figure: its place among the logdir's
//! runs sorted by name. A figure no run has data for is skipped and named.
//! Log-scale panels leave out values that are not positive and finite.
//!
//! Drawing is plotters' bitmap backend into memory with the DejaVu Sans font
//! compiled in (no system fonts needed, see [`crate::figure`]); [`write_png`]
//! encodes the pixels.

use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use gradscope_tensorboard::logdir::{Logdir, Run};
use gradscope_tensorboard::storage;
use plotters::prelude::*;

use crate::figure::{
    drawing, gradient_flow, legend, log_range, loggable, render, Area, Bars, FONT,
};

use crate::report::compare::averaged_mean_grad;
use crate::seeds;
use crate::tags;

/// Where figures go, under the logdir.
pub const PLOTS_DIR: &str = "plots";
pub const ACCURACY: &str = "accuracy.png";
pub const GRAD_FIRST_LAST: &str = "grad_first_last.png";
pub const GRAD_PER_LAYER: &str = "grad_per_layer.png";

/// What `plot` made, and which figures had no data.
#[derive(Debug, Default)]
pub struct Figures {
    pub written: Vec<PathBuf>,
    pub skipped: Vec<String>,
}

/// The run of `plot`: figures for the logdir at `path`.
pub fn run(path: &Path) -> Result<()> {
    let logdir = Logdir::load_dir(path)?;
    for file in logdir.damaged_files() {
        eprintln!("{}", super::problem(file).unwrap_or_default());
    }
    let figures = plot(&logdir, &path.join(PLOTS_DIR))?;
    for written in &figures.written {
        let _ = writeln!(std::io::stdout(), "{}", written.display());
    }
    for skipped in &figures.skipped {
        eprintln!("note: {skipped}");
    }
    let failed = logdir.failed_files();
    if failed > 0 {
        bail!("{failed} event file(s) could not be read; the figures lack their runs");
    }
    Ok(())
}

/// Draws every figure there is data for into `out_dir`, one thread per
/// figure: at the end of training both cores are free, and a figure's lines
/// take a few ms to draw.
pub fn plot(logdir: &Logdir, out_dir: &Path) -> Result<Figures> {
    let series = Series::of(logdir);
    let mut figures = Figures::default();
    storage::create_dir_all(out_dir)
        .with_context(|| format!("{}: cannot create the plots folder", out_dir.display()))?;
    let mut to_draw = Vec::new();
    for figure in &FIGURES {
        let has_data = series.runs.iter().any(|r| match figure.needs {
            Needs::Accuracy => !r.acc.is_empty(),
            Needs::Gradients => !r.mean_grad.is_empty(),
        });
        if has_data {
            to_draw.push(figure);
        } else {
            let tag = match figure.needs {
                Needs::Accuracy => tags::ACC.to_string(),
                Needs::Gradients => tags::mean_grad(1),
            };
            let skipped = format!("{} skipped: no run logged `{tag}`", figure.file);
            figures.skipped.push(skipped);
        }
    }
    if to_draw.is_empty() {
        bail!(
            "{}: nothing to plot: no run has `{}` or `{}` scalars",
            logdir.root.display(),
            tags::ACC,
            tags::mean_grad(1)
        );
    }
    let drawn: Vec<Result<PathBuf>> = std::thread::scope(|scope| {
        let threads: Vec<_> = to_draw
            .iter()
            .map(|figure| {
                let series = &series;
                scope.spawn(move || {
                    let path = out_dir.join(figure.file);
                    let pixels = render(figure.size, |area| (figure.draw)(series, area))?;
                    write_png(&path, figure.size, &pixels)?;
                    Ok(path)
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap_or_else(|_| Err(anyhow!("drawing a figure panicked")))
            })
            .collect()
    });
    for path in drawn {
        figures.written.push(path?);
    }
    for run in &logdir.runs {
        let curves = time_curves(run);
        if curves.is_empty() {
            continue;
        }
        let file = format!(
            "{TIME_GRAD_PREFIX}{}.png",
            run.name.replace(['/', '\\'], "_")
        );
        let path = out_dir.join(file);
        let pixels = crate::time_profile::draw(&run.name, &curves)?;
        write_png(&path, crate::time_profile::SIZE, &pixels)?;
        figures.written.push(path);
    }
    Ok(figures)
}

/// The start of the recurrent runs' figures' file names.
pub const TIME_GRAD_PREFIX: &str = "time_grad_";

/// A recurrent run's logged profiles: per logged step, `(t, ||dL/dh_t||)`
/// from its `time_grad/t…` scalars, in order of t.
fn time_curves(run: &Run) -> Vec<crate::time_profile::Curve> {
    let mut by_step: std::collections::BTreeMap<i64, Vec<(usize, f64)>> = Default::default();
    for (tag, data) in &run.tags {
        let Some(t) = tags::time_grad_step(tag) else {
            continue;
        };
        for point in &data.points {
            if let Some(v) = point.value {
                by_step.entry(point.step).or_default().push((t, v));
            }
        }
    }
    by_step
        .into_iter()
        .map(|(step, mut points)| {
            points.sort_by_key(|p| p.0);
            (step, points)
        })
        .collect()
}

/// One figure: its file, the data it needs, how to draw it, its size.
struct Figure {
    file: &'static str,
    needs: Needs,
    draw: fn(&Series, &Area<'_>) -> Result<()>,
    size: (u32, u32),
}

enum Needs {
    Accuracy,
    Gradients,
}

const FIGURES: [Figure; 3] = [
    Figure {
        file: ACCURACY,
        needs: Needs::Accuracy,
        draw: accuracy,
        size: (960, 600),
    },
    Figure {
        file: GRAD_FIRST_LAST,
        needs: Needs::Gradients,
        draw: grad_first_last,
        size: (1280, 560),
    },
    Figure {
        file: GRAD_PER_LAYER,
        needs: Needs::Gradients,
        draw: grad_per_layer,
        size: (960, 600),
    },
];

/// What the figures draw, per run, with the run's colour.
struct Series {
    runs: Vec<RunSeries>,
}

struct RunSeries {
    name: String,
    colour: RGBColor,
    acc: Vec<(i64, f64)>,
    first: Vec<(i64, f64)>,
    last: Vec<(i64, f64)>,
    mean_grad: Vec<f64>,
    /// For a seed group's aggregate run, each line's band: (step, lower,
    /// upper); empty otherwise.
    bands: Bands,
}

#[derive(Default)]
struct Bands {
    acc: Vec<(i64, f64, f64)>,
    first: Vec<(i64, f64, f64)>,
    last: Vec<(i64, f64, f64)>,
}

impl Series {
    fn of(logdir: &Logdir) -> Series {
        // Seed groups drawn through their aggregate run.
        let aggregated: Vec<&str> = (logdir.runs.iter())
            .filter_map(|r| r.name.strip_suffix(&format!("/{}", seeds::MEAN_RUN)))
            .collect();
        let runs = logdir
            .runs
            .iter()
            .filter(|r| !seeds::seed_of(&r.name).is_some_and(|(g, _)| aggregated.contains(&g)))
            .enumerate()
            .map(|(i, run)| {
                let mean_grad = averaged_mean_grad(run);
                let last = tags::mean_grad(mean_grad.len().max(1));
                let is_mean = run.tags.contains_key(tags::SEED_COUNT);
                let name = match run.last_scalar(tags::SEED_COUNT).filter(|_| is_mean) {
                    Some(n) => format!("{} (mean ± std, {n} seeds)", run.name),
                    None => run.name.clone(),
                };
                let band = |tag: &str| {
                    if is_mean {
                        thin_band(band(run, tag))
                    } else {
                        Vec::new()
                    }
                };
                RunSeries {
                    name,
                    colour: run_colour(i),
                    acc: thin(run.scalars(tags::ACC)),
                    first: thin(run.scalars(&tags::mean_grad(1))),
                    last: thin(run.scalars(&last)),
                    mean_grad,
                    bands: Bands {
                        acc: band(tags::ACC),
                        first: band(&tags::mean_grad(1)),
                        last: band(&last),
                    },
                }
            })
            .collect();
        Series { runs }
    }
}

/// The band of `tag` in an aggregate run: (step, lower, upper) where both
/// edges were logged.
fn band(run: &Run, tag: &str) -> Vec<(i64, f64, f64)> {
    let upper = run.scalars(&tags::upper_of(tag));
    (run.scalars(&tags::lower_of(tag)).into_iter())
        .filter_map(|(step, lo)| {
            let i = upper.binary_search_by_key(&step, |p| p.0).ok()?;
            Some((step, lo, upper[i].1))
        })
        .collect()
}

fn thin_band(points: Vec<(i64, f64, f64)>) -> Vec<(i64, f64, f64)> {
    let lower = thin(points.iter().map(|p| (p.0, p.1)).collect());
    (lower.into_iter())
        .filter_map(|(step, lo)| {
            let i = points.binary_search_by_key(&step, |p| p.0).ok()?;
            Some((step, lo, points[i].2))
        })
        .collect()
}

/// The band as a polygon: the upper edge forward, the lower edge back;
/// `floor` replaces lower edges a log scale cannot show.
fn band_polygon(band: &[(i64, f64, f64)], floor: Option<f64>) -> Vec<(i64, f64)> {
    let lower = |v: f64| match floor {
        Some(floor) if !loggable(v) || v < floor => floor,
        _ => v,
    };
    let upper = band.iter().map(|&(s, _, hi)| (s, hi));
    let back = band.iter().rev().map(|&(s, lo, _)| (s, lower(lo)));
    upper.chain(back).collect()
}

/// A qualitative palette (distinct in hue and lightness); runs past its
/// end reuse it.
fn run_colour(index: usize) -> RGBColor {
    const PALETTE: [RGBColor; 10] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
    ];
    PALETTE[index % PALETTE.len()]
}

fn accuracy(series: &Series, root: &Area) -> Result<()> {
    let steps = step_range(series.runs.iter().flat_map(|r| &r.acc));
    let mut chart = ChartBuilder::on(root)
        .caption("Training-batch accuracy (acc)", (FONT, 26))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(steps, 0f64..1f64)
        .map_err(drawing)?;
    chart
        .configure_mesh()
        .x_desc("step")
        .y_desc("accuracy")
        .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
        .label_style((FONT, 16))
        .axis_desc_style((FONT, 18))
        .draw()
        .map_err(drawing)?;
    for run in series.runs.iter().filter(|r| !r.bands.acc.is_empty()) {
        let band = band_polygon(&run.bands.acc, None);
        chart
            .draw_series([Polygon::new(band, run.colour.mix(0.2).filled())])
            .map_err(drawing)?;
    }
    for run in series.runs.iter().filter(|r| !r.acc.is_empty()) {
        let style = run.colour.stroke_width(3);
        chart
            .draw_series(LineSeries::new(run.acc.iter().copied(), style))
            .map_err(drawing)?
            .label(&run.name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], style));
    }
    legend(&mut chart, SeriesLabelPosition::LowerRight)
}

fn grad_first_last(series: &Series, root: &Area) -> Result<()> {
    let root = root
        .titled(
            "Mean |gradient| of the first and the last layer",
            (FONT, 26),
        )
        .map_err(drawing)?;
    let runs: Vec<&RunSeries> = series
        .runs
        .iter()
        .filter(|r| !r.mean_grad.is_empty())
        .collect();
    let all = runs.iter().flat_map(|r| r.first.iter().chain(&r.last));
    let steps = step_range(all.clone());
    let band_edges = runs
        .iter()
        .flat_map(|r| r.bands.first.iter().chain(&r.bands.last))
        .flat_map(|&(_, lo, hi)| [lo, hi]);
    let decades = log_range(all.map(|p| p.1).chain(band_edges));
    let width = root.dim_in_pixel().0;
    let (left, right) = root.split_horizontally(width / 2);
    let panels = [
        (&left, "first layer (mean_1, nearest the input)", true),
        (&right, "last layer (mean_N, the output layer)", false),
    ];
    for (area, caption, is_first) in panels {
        let mut chart = ChartBuilder::on(area)
            .caption(caption, (FONT, 20))
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(steps.clone(), decades.clone().log_scale())
            .map_err(drawing)?;
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc("mean |gradient| (log scale)")
            .y_label_formatter(&|v| format!("{v:.0e}"))
            .label_style((FONT, 16))
            .axis_desc_style((FONT, 18))
            .draw()
            .map_err(drawing)?;
        for run in &runs {
            let band = if is_first {
                &run.bands.first
            } else {
                &run.bands.last
            };
            if !band.is_empty() {
                let band = band_polygon(band, Some(decades.start));
                chart
                    .draw_series([Polygon::new(band, run.colour.mix(0.2).filled())])
                    .map_err(drawing)?;
            }
        }
        for run in &runs {
            let points = if is_first { &run.first } else { &run.last };
            let style = run.colour.stroke_width(3);
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied().filter(|p| loggable(p.1)),
                    style,
                ))
                .map_err(drawing)?
                .label(&run.name)
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 24, y)], style));
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)?;
    }
    Ok(())
}

fn grad_per_layer(series: &Series, root: &Area) -> Result<()> {
    let bars: Vec<Bars> = series
        .runs
        .iter()
        .filter(|r| !r.mean_grad.is_empty())
        .map(|r| Bars {
            name: &r.name,
            colour: r.colour,
            values: &r.mean_grad,
        })
        .collect();
    gradient_flow(
        root,
        "Mean |gradient| per layer, averaged over the logged steps",
        &bars,
    )
}

/// More points than a panel is pixels wide only cost drawing time (a
/// `--log-every 1` run has thousands, and each segment of a 3-pixel line is
/// a filled polygon): keep every k-th point, and the last. The narrowest
/// panels (`grad_first_last.png`'s) are about 500 pixels wide.
fn thin(points: Vec<(i64, f64)>) -> Vec<(i64, f64)> {
    const MAX_POINTS: usize = 500;
    if points.len() <= MAX_POINTS {
        return points;
    }
    let stride = points.len().div_ceil(MAX_POINTS);
    let last = *points.last().expect("more than MAX_POINTS points");
    let mut thinned: Vec<(i64, f64)> = points.into_iter().step_by(stride).collect();
    if thinned.last() != Some(&last) {
        thinned.push(last);
    }
    thinned
}

/// Steps spanned by the points, never empty.
fn step_range<'a>(points: impl Iterator<Item = &'a (i64, f64)>) -> Range<i64> {
    let (lo, hi) = points.fold((i64::MAX, i64::MIN), |(lo, hi), p| {
        (lo.min(p.0), hi.max(p.0))
    });
    if lo > hi {
        0..1
    } else {
        lo..hi.max(lo + 1)
    }
}

/// Writes 8-bit RGB `pixels` as a PNG at `path` (a file, or an object in
/// object storage), whole: a failure never leaves half a figure (see
/// [`storage::write`]).
pub fn write_png(path: &Path, (width, height): (u32, u32), pixels: &[u8]) -> Result<()> {
    let result = (|| -> Result<()> {
        let mut encoded = Vec::new();
        let mut encoder = png::Encoder::new(&mut encoded, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        // Line plots on a flat background compress well at the fast level;
        // the default level spent longer than drawing them.
        encoder.set_compression(png::Compression::Fast);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(pixels)?;
        writer.finish()?;
        storage::write(path, &encoded)?;
        Ok(())
    })();
    result.with_context(|| format!("{}: cannot write the figure", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_series_are_thinned_keeping_both_ends() {
        let points: Vec<(i64, f64)> = (0..7500).map(|i| (i, i as f64)).collect();
        let thinned = thin(points);
        assert!((400..=501).contains(&thinned.len()), "{}", thinned.len());
        assert_eq!(thinned.first(), Some(&(0, 0.0)));
        assert_eq!(thinned.last(), Some(&(7499, 7499.0)));
        let short: Vec<(i64, f64)> = (0..10).map(|i| (i, 0.0)).collect();
        assert_eq!(thin(short.clone()), short);
    }

    #[test]
    fn log_range_covers_whole_decades() {
        let r = log_range([5.79e-4, 2.21e-2, 0.0, f64::NAN].into_iter());
        assert!((r.start / 1e-4 - 1.0).abs() < 1e-6, "{r:?}");
        assert!((r.end / 0.1 - 1.0).abs() < 1e-6, "{r:?}");
        assert_eq!(log_range([].into_iter()), 0.1..1.0);
        // Every value lies inside.
        assert!(r.contains(&5.79e-4) && r.contains(&2.21e-2));
        let one = log_range([1e-3].into_iter());
        assert!(one.end > one.start);
    }

    #[test]
    fn seed_groups_are_drawn_as_their_mean_with_a_band() {
        use gradscope_tensorboard::summary::{scalar, summary_event};
        let dir = tempfile::tempdir().unwrap();
        let write = |run: &str, values: Vec<(&str, f32)>| {
            let mut w = gradscope_tensorboard::EventWriter::create(&dir.path().join(run)).unwrap();
            let values = values.into_iter().map(|(t, v)| scalar(t, v)).collect();
            w.write_event(&summary_event(5, 1.0, values)).unwrap();
            w.close().unwrap();
        };
        for seed in ["relu/seed-1", "relu/seed-2", "tanh/seed-1", "sigmoid"] {
            write(seed, vec![(tags::ACC, 0.5)]);
        }
        let (acc, lower, upper) = (
            tags::ACC,
            tags::lower_of(tags::ACC),
            tags::upper_of(tags::ACC),
        );
        write(
            "relu/mean",
            vec![
                (acc, 0.5),
                (&lower, 0.25),
                (&upper, 0.75),
                (tags::SEED_COUNT, 2.0),
            ],
        );
        let series = Series::of(&Logdir::load(dir.path()).unwrap());
        let names: Vec<&str> = series.runs.iter().map(|r| r.name.as_str()).collect();
        // relu's seeds through relu/mean; tanh has no mean: its seed stays.
        assert_eq!(
            names,
            ["relu/mean (mean ± std, 2 seeds)", "sigmoid", "tanh/seed-1"]
        );
        assert_eq!(series.runs[0].bands.acc, [(5, 0.25, 0.75)]);
        assert!(series.runs[1].bands.acc.is_empty());
        let band = [(0, -1.0, 2.0), (10, 0.5, 3.0)];
        assert_eq!(
            band_polygon(&band, Some(0.1)),
            [(0, 2.0), (10, 3.0), (10, 0.5), (0, 0.1)]
        );
    }

    #[test]
    fn colours_follow_the_run_index() {
        assert_eq!(run_colour(0), run_colour(10));
        assert_ne!(run_colour(0), run_colour(1));
    }
}
