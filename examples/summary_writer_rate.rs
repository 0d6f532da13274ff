//! Per-call throughput of gradscope-tensorboard's `SummaryWriter`, the API
//! a user calls: `add_scalar`, `add_histogram` of 10,000 values and
//! `add_image` of a 256 x 256 RGB image. Each repeat times a fresh writer
//! in a temporary directory from its creation to `close` (which flushes
//! and syncs), so the last buffered bytes are paid for.
//!
//! `bench/tbx_summary_writer_rate.py` times tensorboardX's `add_scalar`,
//! `add_histogram(bins="tensorflow")` and `add_image` the same way on the
//! same values; `scripts/bench.sh writer` runs both and prints the ratios.
//!
//!   cargo run --release --example summary_writer_rate -- [--scalars N] [--histograms N] [--images N] [--repeats R]

#[path = "../benches/support/mod.rs"]
mod support;

use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;
use gradscope_tensorboard::image::Image;
use gradscope_tensorboard::SummaryWriter;

/// Values per histogram.
const HISTOGRAM_VALUES: usize = 10_000;
/// The image's side, in pixels.
const SIDE: usize = 256;

/// Times SummaryWriter's add_scalar, add_histogram and add_image.
#[derive(Parser)]
struct Args {
    /// add_scalar calls per repeat.
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..))]
    scalars: u64,
    /// add_histogram calls (10,000 values each) per repeat.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..))]
    histograms: u64,
    /// add_image calls (256 x 256 RGB) per repeat.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u64).range(1..))]
    images: u64,
    /// Timed repeats of each; the median rate is reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    repeats: u64,
}

/// Calls per second making `n` calls of `call(writer, step)`.
fn rate(n: u64, call: impl Fn(&SummaryWriter, i64) -> Result<()>) -> Result<f64> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let start = Instant::now();
    let writer = SummaryWriter::new(dir.path())?;
    for step in 0..n as i64 {
        call(&writer, step)?;
    }
    writer.close()?;
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

fn median(mut rates: Vec<f64>) -> f64 {
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

/// The image's bytes, height-width-channel: a hash of the index, noisy
/// enough that PNG compression has work to do (the Python side computes
/// the same bytes).
fn image_bytes() -> Vec<u8> {
    (0..SIDE * SIDE * 3)
        .map(|k| ((k as u64 * 2_654_435_761) >> 13) as u8)
        .collect()
}

fn main() -> Result<()> {
    let args = Args::parse();
    let values = support::normalish(HISTOGRAM_VALUES, 1, 0.01);
    let pixels = image_bytes();
    println!(
        "values: {} normal-ish, checksum {:.9e}; image {SIDE}x{SIDE}x3, byte sum {}",
        values.len(),
        support::checksum(&values),
        pixels.iter().map(|&b| u64::from(b)).sum::<u64>()
    );
    let image = Image::hwc(&pixels[..], SIDE, SIDE, 3);
    let (mut scalars, mut histograms, mut images) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..args.repeats {
        scalars.push(rate(args.scalars, |w, step| {
            let v = values[step as usize % values.len()];
            Ok(w.add_scalar("loss", v, step)?)
        })?);
        histograms.push(rate(args.histograms, |w, step| {
            w.add_histogram("weights", &values, step)?;
            Ok(())
        })?);
        images.push(rate(args.images, |w, step| {
            Ok(w.add_image("noise", &image, step)?)
        })?);
    }
    let (s, h, i) = (median(scalars), median(histograms), median(images));
    println!("gradscope-tensorboard SummaryWriter");
    println!(
        "add_scalar: {} per repeat, median {s:.0} calls/s",
        args.scalars
    );
    println!(
        "add_histogram ({HISTOGRAM_VALUES} values): {} per repeat, median {h:.0} calls/s",
        args.histograms
    );
    println!(
        "add_image ({SIDE}x{SIDE} RGB): {} per repeat, median {i:.0} calls/s",
        args.images
    );
    // For scripts/bench.sh.
    println!("api_scalar_calls_per_s={s:.1}");
    println!("api_histogram_calls_per_s={h:.1}");
    println!("api_image_calls_per_s={i:.1}");
    Ok(())
}
