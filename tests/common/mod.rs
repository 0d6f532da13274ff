//! Small, learnable IDX data sets the tests generate for themselves.

#![allow(dead_code)] // each test binary uses a different part

use std::path::Path;

use gradscope::data::{write_split, Split};

/// 28x28 images where class k is a bright band across rows 2k+2..2k+5,
/// over deterministic noise. Easy to learn, so loss must fall quickly.
pub fn synthetic_split(n: usize, seed: u64) -> Split {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as u32
    };
    let mut pixels = Vec::with_capacity(n * 784);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let label = (i % 10) as u8;
        labels.push(label);
        for row in 0..28 {
            for _col in 0..28 {
                let band = (2 * label as usize + 2..2 * label as usize + 5).contains(&row);
                let noise = (next() % 60) as u8;
                pixels.push(if band { 190 + noise } else { noise });
            }
        }
    }
    Split {
        pixels,
        labels,
        rows: 28,
        cols: 28,
    }
}

/// Writes a synthetic data set (train and test) into `dir`.
pub fn write_synthetic(dir: &Path, train: usize, test: usize) {
    write_split(dir, false, &synthetic_split(train, 1)).unwrap();
    write_split(dir, true, &synthetic_split(test, 2)).unwrap();
}
