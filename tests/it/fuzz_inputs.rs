//! The fuzz targets' checks (`fuzz/src/lib.rs`, included as is) on every
//! `cargo test`: over the seeds, over every input the fuzzer ever failed on
//! (`fuzz/regressions/<target>/`), and over seeded random mutations of the
//! seeds, the kind a fuzzer starts from. Not coverage-guided like `cargo
//! fuzz run` (see the README), but it needs no extra tools and is bounded.

#[path = "../../fuzz/src/lib.rs"]
mod checks;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Mutated inputs per parser target.
const MUTATIONS: usize = 100_000;
/// Mutated inputs for the SummaryWriter target, each a writer, a file and
/// a read back: about a millisecond each.
const WRITER_MUTATIONS: usize = 2_000;

/// The files in `fuzz/<kind>/<target>/`, if that folder exists.
fn inputs(kind: &str, target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    paths.sort();
    paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

/// Values that sit on the edges parsers get wrong.
const INTERESTING_U64: [u64; 7] = [0, 1, 12, 1 << 31, 1 << 60, u64::MAX, u32::MAX as u64];

/// One to four random edits of `input`, some splicing in bits of `other`.
fn mutate(rng: &mut ChaCha8Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        let len = out.len();
        let at = if len == 0 {
            0
        } else {
            rng.random_range(0..len)
        };
        match rng.random_range(0..8) {
            0 if len > 0 => out[at] ^= 1 << rng.random_range(0..8),
            1 if len > 0 => out[at] = rng.random(),
            2 => out.truncate(at),
            3 => {
                let n = rng.random_range(1..16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
                out.splice(at..at, bytes);
            }
            4 if len > 0 => {
                let end = rng.random_range(at..=len.min(at + 64));
                out.drain(at..end);
            }
            5 if len >= 8 => {
                let at = rng.random_range(0..=len - 8);
                let v = INTERESTING_U64[rng.random_range(0..INTERESTING_U64.len())];
                let bytes = if rng.random() {
                    v.to_le_bytes()
                } else {
                    v.to_be_bytes()
                };
                out[at..at + 8].copy_from_slice(&bytes);
            }
            6 if !other.is_empty() => {
                let from = rng.random_range(0..other.len());
                let end = rng.random_range(from..=other.len());
                out.splice(at..at, other[from..end].iter().copied());
            }
            _ => {
                if len > 0 {
                    let end = rng.random_range(at..=len);
                    let copy = out[at..end].to_vec();
                    out.extend(copy);
                }
            }
        }
    }
    out
}

/// Runs `check` on `input`; on a failure, saves the input for the fuzz
/// regressions folder and fails naming it.
fn run_one(target: &str, what: &str, input: &[u8], check: fn(&[u8])) {
    if catch_unwind(AssertUnwindSafe(|| check(input))).is_err() {
        let saved = std::env::temp_dir().join(format!("gradscope-{target}-failure"));
        std::fs::write(&saved, input).unwrap();
        panic!(
            "{target}: {what} fails the check; the input is in {} \
             (add it to fuzz/regressions/{target}/)",
            saved.display()
        );
    }
}

fn exercise(target: &str, check: fn(&[u8]), mutations: usize) {
    let seeds = inputs("seeds", target);
    assert!(!seeds.is_empty(), "fuzz/seeds/{target}/ is empty");
    for (i, input) in seeds.iter().enumerate() {
        run_one(target, &format!("seed {i}"), input, check);
    }
    for (i, input) in inputs("regressions", target).iter().enumerate() {
        run_one(target, &format!("regression {i}"), input, check);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    for i in 0..mutations {
        let seed = &seeds[rng.random_range(0..seeds.len())];
        let other = &seeds[rng.random_range(0..seeds.len())];
        let input = mutate(&mut rng, seed, other);
        run_one(target, &format!("mutation {i}"), &input, check);
    }
}

#[test]
fn event_reader_survives_mutated_event_files() {
    exercise("event_reader", checks::check_event_reader, MUTATIONS);
}

#[test]
fn idx_decoder_survives_mutated_idx_files() {
    exercise("idx", checks::check_idx, MUTATIONS);
}

#[test]
fn summary_writer_survives_arbitrary_calls() {
    exercise(
        "summary_writer",
        checks::check_summary_writer,
        WRITER_MUTATIONS,
    );
}
