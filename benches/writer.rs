//! `EventWriter::write_event` for a prebuilt scalar event and a prebuilt
//! 7,840-value histogram event: encoding, TFRecord framing and buffering,
//! with the background flusher running as in a real run. Building the
//! histogram is the `histogram` bench; building and writing together, with
//! the final flush, is `examples/writer_rate.rs`.
//!
//! Each sample writes a fresh file in a temporary directory (removed after
//! it), so files do not grow without bound over a bench run; creating and
//! closing the writer are outside the timed part.

mod support;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use gradscope_tensorboard::proto::Event;
use gradscope_tensorboard::summary::{histogram, scalar, summary_event};
use gradscope_tensorboard::EventWriter;

fn time_writes(event: &Event, iters: u64) -> Duration {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut writer = EventWriter::create(dir.path()).expect("a new event file");
    let start = Instant::now();
    for _ in 0..iters {
        writer.write_event(event).expect("write_event");
    }
    let elapsed = start.elapsed();
    writer.close().expect("close");
    elapsed
}

fn writer(c: &mut Criterion) {
    let scalar_event = summary_event(200, 1.7e9, vec![scalar("loss", 0.25)]);
    let (value, _) = histogram("histogram_1", &support::histogram_values());
    let histogram_event = summary_event(200, 1.7e9, vec![value]);
    let mut group = c.benchmark_group("writer");
    // Shorter than criterion's default 5 s: the histogram samples write
    // their events to disk.
    group.measurement_time(Duration::from_secs(3));
    group.bench_function("scalar_event", |b| {
        b.iter_custom(|iters| time_writes(&scalar_event, iters))
    });
    group.bench_function("histogram_event_7840", |b| {
        b.iter_custom(|iters| time_writes(&histogram_event, iters))
    });
    group.finish();
}

criterion_group!(benches, writer);
criterion_main!(benches);
