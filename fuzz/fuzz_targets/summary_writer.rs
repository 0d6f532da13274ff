//! Arbitrary bytes as a sequence of SummaryWriter calls.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| gradscope_fuzz::check_summary_writer(bytes));
