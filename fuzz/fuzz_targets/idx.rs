//! Arbitrary bytes as an IDX data file, raw or gzip.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| gradscope_fuzz::check_idx(bytes));
