//! What the fuzz targets check, kept apart from libFuzzer so that
//! `tests/it/fuzz_inputs.rs` in the main crate runs the very same checks over
//! seeded mutations on every `cargo test` (it includes this file by path).
//!
//! Each check feeds arbitrary bytes to a parser of untrusted files and
//! asserts what must hold whatever the bytes: no panic, no unbounded
//! allocation, and errors and results that are consistent with the input.

use std::path::Path;

use gradscope::data::idx::{self, IMAGES_MAGIC, LABELS_MAGIC};
use gradscope::logdir::EventView;
use gradscope_tensorboard::{append_record, EventReader, ReadError};

/// The event-file reader over `bytes` as a whole file, and over `bytes`
/// framed as a record with correct CRCs followed by `bytes` again: random
/// bytes rarely pass a CRC, and the framed form takes them on to the
/// protobuf decoder and to the record after it.
pub fn check_event_reader(bytes: &[u8]) {
    check_event_file(bytes);
    let mut framed = Vec::with_capacity(bytes.len() * 2 + 16);
    append_record(&mut framed, bytes);
    framed.extend_from_slice(bytes);
    check_event_file(&framed);
}

fn check_event_file(bytes: &[u8]) {
    let len = bytes.len() as u64;
    let mut reader = EventReader::new(Path::new("fuzz-input"), bytes, len);
    let mut failed = false;
    let mut accepted = Vec::new();
    loop {
        let at = reader.offset();
        match reader.next() {
            None => break,
            Some(Ok((offset, _event))) => {
                // Records are read back to back from the start.
                assert_eq!(offset, at);
                assert!(reader.offset() > at && reader.offset() <= len);
                accepted.push(offset);
            }
            Some(Err(e)) => {
                // The whole input is there, so only corruption can fail, and
                // the error points at the record it was found in.
                assert!(matches!(e, ReadError::Corrupt { .. }), "{e}");
                assert_eq!(e.offset(), at);
                assert!(e.to_string().contains(&format!("byte offset {at}")), "{e}");
                failed = true;
            }
        }
    }
    match reader.truncated_at() {
        Some(at) => assert!(at == reader.offset() && at < len && !failed),
        None if !failed => assert_eq!(reader.offset(), len, "stopped early"),
        None => {}
    }
    // The reports' view of the same bytes: what decodes as an Event decodes
    // as an EventView (Event's schema less the histogram fields), record
    // for record.
    let mut view = EventReader::new(Path::new("fuzz-input"), bytes, len).decoding::<EventView>();
    for &offset in &accepted {
        match view.next() {
            Some(Ok((at, _))) => assert_eq!(at, offset),
            other => panic!(
                "an Event at {offset} is not an EventView: {:?}",
                other.map(|r| r.map(|(at, _)| at))
            ),
        }
    }
}

/// The IDX decoder (gzip detection, header, dimensions, body) over `bytes`,
/// as images and as labels, named `.gz` and not.
pub fn check_idx(bytes: &[u8]) {
    for magic in [IMAGES_MAGIC, LABELS_MAGIC] {
        for named_gz in [false, true] {
            match idx::decode(bytes.to_vec(), named_gz, magic) {
                Ok(parsed) => {
                    assert_eq!(parsed.dims.len(), (magic & 0xff) as usize);
                    let size: usize = parsed.dims.iter().product();
                    assert_eq!(parsed.data.len(), size);
                    assert!(parsed.data.len() <= bytes.len() || bytes.starts_with(&[0x1f, 0x8b]));
                }
                Err(problem) => assert!(!problem.is_empty()),
            }
        }
    }
}
