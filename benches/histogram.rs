//! `gradscope_tensorboard::histogram::buckets` on 7,840 values (the default network's
//! first kernel or its gradient) and on 100 (a 10 x 10 hidden kernel, of
//! which the default network logs ten histograms a step): the per-tag cost
//! of a histogram summary before any protobuf or file work.

mod support;

use criterion::{criterion_group, criterion_main, Criterion};
use gradscope_tensorboard::histogram::buckets;

fn histogram(c: &mut Criterion) {
    let gradients = support::histogram_values();
    // Glorot-uniform weights of that layer are about 30 times larger.
    let weights = support::normalish(support::HISTOGRAM_VALUES, 2, 0.05);
    let mut group = c.benchmark_group("histogram");
    group.bench_function("buckets_7840_gradients", |b| {
        b.iter(|| buckets(std::hint::black_box(&gradients)))
    });
    group.bench_function("buckets_7840_weights", |b| {
        b.iter(|| buckets(std::hint::black_box(&weights)))
    });
    let small = support::normalish(100, 3, 0.3);
    group.bench_function("buckets_100_weights", |b| {
        b.iter(|| buckets(std::hint::black_box(&small)))
    });
    group.finish();
}

criterion_group!(benches, histogram);
criterion_main!(benches);
