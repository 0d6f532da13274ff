//! Arbitrary bytes as a TensorBoard event file.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| gradscope_fuzz::check_event_reader(bytes));
