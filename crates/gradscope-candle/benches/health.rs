//! The per-call cost of the gradient-health checks: `connectivity` on a
//! model of about 10k parameter values (the article's first layer, 784 x
//! 12, and a 12 x 10 head: 9,550 values in four tensors), and the log10
//! |grad| histogram of 7,840 values (the default network's first kernel).

use std::hint::black_box;

use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{linear, VarBuilder, VarMap};
use criterion::{criterion_group, criterion_main, Criterion};
use gradscope_candle::connectivity;
use gradscope_candle::magnitude::log10_abs_histogram;

/// Gradient-like values: signed, spread over about five decades, a few
/// exact zeros (a dead unit's row), from a fixed generator.
fn gradient_like(n: usize) -> Vec<f32> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..n)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let uniform = (state >> 40) as f32 / (1u64 << 24) as f32;
            let sign = if state & 1 == 0 { 1.0 } else { -1.0 };
            if i % 97 == 0 {
                0.0
            } else {
                sign * 10f32.powf(-7.0 + 5.0 * uniform)
            }
        })
        .collect()
}

fn health(c: &mut Criterion) {
    let device = Device::Cpu;
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
    let fc1 = linear(784, 12, vb.pp("fc1")).expect("fc1");
    let fc2 = linear(12, 10, vb.pp("fc2")).expect("fc2");
    let x = Tensor::randn(0f32, 1.0, (32, 784), &device).expect("x");
    let loss = fc2
        .forward(&fc1.forward(&x).and_then(|h| h.tanh()).expect("hidden"))
        .and_then(|y| y.sqr()?.mean_all())
        .expect("loss");
    let grads = loss.backward().expect("backward");
    let values = gradient_like(7_840);

    let mut group = c.benchmark_group("health");
    group.bench_function("connectivity_9550_values_4_tensors", |b| {
        b.iter(|| connectivity(black_box(&varmap), black_box(&grads)).expect("report"))
    });
    group.bench_function("log10_abs_histogram_7840", |b| {
        b.iter(|| log10_abs_histogram(black_box(&values)))
    });
    group.finish();
}

criterion_group!(benches, health);
criterion_main!(benches);
