//! How many summary events per second gradscope's event writer sustains,
//! built and written through the library's public API the way the training
//! loop does: `builders::scalar` / `builders::histogram` into
//! `builders::summary_event`, then `EventWriter::write_event`. Each repeat
//! times a fresh writer in a temporary directory from `create` to `close`
//! (which flushes and syncs), so the last buffered bytes are paid for.
//!
//! `bench/tbx_writer_rate.py` times tensorboardX's `add_scalar` and
//! `add_histogram` the same way on the same values; `scripts/bench.sh
//! writer` runs both and prints the ratios.
//!
//!   cargo run --release --example writer_rate -- [--scalars N] [--histograms N] [--repeats R]

#[path = "../benches/support/mod.rs"]
mod support;

use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;
use gradscope_tensorboard::proto::summary;
use gradscope_tensorboard::summary::{histogram, scalar, summary_event, wall_time_now};
use gradscope_tensorboard::EventWriter;

/// Times writing scalar events and 7,840-value histogram events.
#[derive(Parser)]
struct Args {
    /// Scalar events per repeat (one value each, as tensorboardX writes them).
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..))]
    scalars: u64,
    /// Histogram events per repeat.
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u64).range(1..))]
    histograms: u64,
    /// Timed repeats of each; the median rate is reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    repeats: u64,
}

/// Events per second writing `n` events made by `event_values(step)`.
fn rate(n: u64, mut event_values: impl FnMut(u64) -> Vec<summary::Value>) -> Result<f64> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let start = Instant::now();
    let mut writer = EventWriter::create(dir.path())?;
    for step in 0..n {
        let event = summary_event(step as i64, wall_time_now(), event_values(step));
        writer.write_event(&event)?;
    }
    writer.close()?;
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

fn median(mut rates: Vec<f64>) -> f64 {
    rates.sort_by(f64::total_cmp);
    rates[rates.len() / 2]
}

fn main() -> Result<()> {
    let args = Args::parse();
    let values = support::histogram_values();
    println!(
        "values: {} normal-ish, checksum {:.9e}",
        values.len(),
        support::checksum(&values)
    );

    let mut scalars = Vec::new();
    let mut histograms = Vec::new();
    for _ in 0..args.repeats {
        scalars.push(rate(args.scalars, |step| {
            vec![scalar("loss", values[step as usize % values.len()])]
        })?);
        histograms.push(rate(args.histograms, |_| {
            vec![histogram("histogram_1", &values).0]
        })?);
    }
    let (scalars, histograms) = (median(scalars), median(histograms));
    println!(
        "scalar events: {} per repeat, median {scalars:.0} events/s",
        args.scalars
    );
    println!(
        "histogram events ({} values): {} per repeat, median {histograms:.0} events/s",
        values.len(),
        args.histograms
    );
    // For scripts/bench.sh.
    println!("scalar_events_per_s={scalars:.1}");
    println!("histogram_events_per_s={histograms:.1}");
    Ok(())
}
