//! What an `add_histogram` of 10,000 `f32`s and an `add_image` of a 28x28
//! gray image cost the calling thread, with the work on that thread (sync,
//! the default) and with `SummaryWriterBuilder::background`.
//!
//! The `background_*` cases time the calls only while the queue has room:
//! after each [`CAPACITY`] calls the clock stops while `flush` lets the
//! worker catch up, as a training step's own work would. The
//! `background_sustained` case times calls back to back, so that the
//! caller waits for the worker whenever the queue is full: the worker's
//! throughput, on the same cores.
//!
//! `cargo bench -p gradscope-tensorboard --bench background`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use gradscope_tensorboard::image::Image;
use gradscope_tensorboard::SummaryWriter;

/// The background writers' queue, and the calls timed between flushes.
const CAPACITY: usize = 64;

/// `n` values, roughly normal with standard deviation 0.05 (a layer's
/// weights): the sum of four uniforms from a fixed-seed generator.
fn weights(n: usize) -> Vec<f32> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    (0..n)
        .map(|_| (uniform() + uniform() + uniform() + uniform()) * 0.087)
        .collect()
}

/// Times `calls` of `call` in chunks of at most [`CAPACITY`], flushing the
/// writer untimed after each chunk; `prepare` makes each call's argument
/// untimed.
fn timed_between_flushes<T>(
    writer: &SummaryWriter,
    calls: u64,
    mut prepare: impl FnMut() -> T,
    mut call: impl FnMut(T),
) -> Duration {
    let mut timed = Duration::ZERO;
    let mut left = calls;
    while left > 0 {
        let chunk = left.min(CAPACITY as u64);
        let arguments: Vec<T> = (0..chunk).map(|_| prepare()).collect();
        let start = Instant::now();
        for argument in arguments {
            call(argument);
        }
        timed += start.elapsed();
        writer.flush().unwrap();
        left -= chunk;
    }
    timed
}

fn caller_cost(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let sync = SummaryWriter::new(dir.path().join("sync")).unwrap();
    let background = SummaryWriter::builder(dir.path().join("background"))
        .background(CAPACITY)
        .build()
        .unwrap();
    let values = weights(10_000);

    let mut group = c.benchmark_group("add_histogram_10000_f32");
    group.bench_function("sync", |b| {
        b.iter(|| {
            sync.add_histogram("weights", black_box(&values), 1)
                .unwrap()
        })
    });
    group.bench_function("background_slice", |b| {
        b.iter_custom(|calls| {
            timed_between_flushes(
                &background,
                calls,
                || (),
                |()| {
                    background
                        .add_histogram("weights", black_box(&values), 1)
                        .unwrap();
                },
            )
        })
    });
    group.bench_function("background_vec", |b| {
        b.iter_custom(|calls| {
            timed_between_flushes(
                &background,
                calls,
                || values.clone(),
                |owned| {
                    background
                        .add_histogram("weights", black_box(owned), 1)
                        .unwrap();
                },
            )
        })
    });
    group.bench_function("background_sustained", |b| {
        b.iter(|| {
            background
                .add_histogram("weights", black_box(&values), 1)
                .unwrap()
        })
    });
    group.finish();
    background.flush().unwrap();

    let pixels: Vec<u8> = (0..28 * 28).map(|i| (i * 7 % 256) as u8).collect();
    let image = Image::hwc(&pixels, 28, 28, 1);
    let mut group = c.benchmark_group("add_image_28x28");
    group.bench_function("sync", |b| {
        b.iter(|| sync.add_image("digit", black_box(&image), 1).unwrap())
    });
    group.bench_function("background", |b| {
        b.iter_custom(|calls| {
            timed_between_flushes(
                &background,
                calls,
                || (),
                |()| background.add_image("digit", black_box(&image), 1).unwrap(),
            )
        })
    });
    group.bench_function("background_sustained", |b| {
        b.iter(|| background.add_image("digit", black_box(&image), 1).unwrap())
    });
    group.finish();

    let mut group = c.benchmark_group("add_scalar");
    group.bench_function("sync", |b| {
        b.iter(|| sync.add_scalar("loss", black_box(0.5), 1).unwrap())
    });
    group.bench_function("background", |b| {
        b.iter_custom(|calls| {
            timed_between_flushes(
                &background,
                calls,
                || (),
                |()| background.add_scalar("loss", black_box(0.5), 1).unwrap(),
            )
        })
    });
    group.finish();
    background.close().unwrap();
    sync.close().unwrap();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = caller_cost
}
criterion_main!(benches);
