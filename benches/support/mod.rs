//! Inputs shared by the criterion benches and `examples/writer_rate.rs`
//! (which includes this file by path): deterministic values that need no
//! data files, so every bench runs on a fresh checkout.
//!
//! `normalish` is reproduced bit for bit by `bench/tbx_writer_rate.py`, so
//! tensorboardX is timed on exactly the values gradscope's writer is; both
//! print [`checksum`] of them so a mismatch shows.

// Each bench uses only some of these.
#![allow(dead_code)]

use gradscope::Split;

/// Values in one histogram of the benches: a 784 x 10 kernel, the default
/// network's first and largest layer.
pub const HISTOGRAM_VALUES: usize = 7_840;

/// SplitMix64: a tiny generator that is easy to repeat exactly in Python.
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), from the top 53 bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// `n` values with mean 0 and standard deviation `scale`, roughly normal
/// (a sum of four uniforms), like a layer's gradients or weights.
pub fn normalish(n: usize, seed: u64, scale: f64) -> Vec<f32> {
    let mut rng = SplitMix64::new(seed);
    let unit = 3f64.sqrt(); // the sum of four U(0,1) has variance 1/3
    (0..n)
        .map(|_| {
            let sum = rng.next_f64() + rng.next_f64() + rng.next_f64() + rng.next_f64();
            ((sum - 2.0) * unit * scale) as f32
        })
        .collect()
}

/// The values the writer benches log: gradient-sized, seed 1.
pub fn histogram_values() -> Vec<f32> {
    normalish(HISTOGRAM_VALUES, 1, 0.01)
}

/// The sum of `values` in f64, left to right: printed by both writer-rate
/// programs to show they used the same values.
pub fn checksum(values: &[f32]) -> f64 {
    values.iter().fold(0.0, |sum, &v| sum + f64::from(v))
}

/// `len` random 28 x 28 images with labels 0-9: a stand-in for MNIST (a
/// training step costs the same whatever the pixel values).
pub fn synthetic_split(len: usize) -> Split {
    let mut rng = SplitMix64::new(7);
    Split {
        pixels: (0..len * 784)
            .map(|_| (rng.next_u64() >> 56) as u8)
            .collect(),
        labels: (0..len).map(|i| (i % 10) as u8).collect(),
        rows: 28,
        cols: 28,
    }
}
