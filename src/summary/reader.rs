//! Reading event files back: TFRecord deframing with both CRCs checked.
//!
//! Used by the tests and by anything that inspects a logdir. It accepts files
//! from any TensorBoard writer, and tolerates what a crashed writer leaves: a
//! last record cut short is reported, not fatal.

use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use prost::Message;

use crate::proto::Event;
use crate::summary::record::masked_crc32c;

/// The events of one file, and where a truncated final record began, if any.
#[derive(Debug, Default)]
pub struct ReadEvents {
    pub events: Vec<Event>,
    /// Byte offset of a final record that ends before its declared length.
    pub truncated_at: Option<u64>,
}

/// Why a file could not be read, with the byte offset of the bad record.
#[derive(Debug)]
pub enum ReadError {
    Io {
        path: PathBuf,
        source: io::Error,
    },
    Corrupt {
        path: PathBuf,
        offset: u64,
        what: String,
    },
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            ReadError::Corrupt { path, offset, what } => write!(
                f,
                "{}: corrupt record at byte offset {offset}: {what}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for ReadError {}

/// Reads every event of the file at `path`.
pub fn read_events(path: &Path) -> Result<ReadEvents, ReadError> {
    let io_err = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    let file_len = file.metadata().map_err(io_err)?.len();
    let mut input = BufReader::new(file);
    let corrupt = |offset, what: String| ReadError::Corrupt {
        path: path.to_path_buf(),
        offset,
        what,
    };

    let mut out = ReadEvents::default();
    let mut offset = 0u64;
    let mut payload = Vec::new();
    while offset < file_len {
        let remaining = file_len - offset;
        let mut header = [0u8; 12];
        if remaining < 12 {
            out.truncated_at = Some(offset);
            break;
        }
        input.read_exact(&mut header).map_err(io_err)?;
        let len_bytes = &header[..8];
        let stored_len_crc = u32::from_le_bytes(header[8..12].try_into().unwrap());
        if masked_crc32c(len_bytes) != stored_len_crc {
            return Err(corrupt(offset, "length CRC mismatch".into()));
        }
        let len = u64::from_le_bytes(len_bytes.try_into().unwrap());
        // Compare before allocating: a corrupt length must not cost memory.
        if len.saturating_add(16) > remaining {
            out.truncated_at = Some(offset);
            break;
        }
        payload.resize(len as usize, 0);
        input.read_exact(&mut payload).map_err(io_err)?;
        let mut crc = [0u8; 4];
        input.read_exact(&mut crc).map_err(io_err)?;
        if masked_crc32c(&payload) != u32::from_le_bytes(crc) {
            return Err(corrupt(offset, "payload CRC mismatch".into()));
        }
        let event = Event::decode(payload.as_slice())
            .map_err(|e| corrupt(offset, format!("not an Event: {e}")))?;
        out.events.push(event);
        offset += len + 16;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::builders::{scalar, summary_event};
    use crate::summary::record::append_record;

    fn file_with(records: &[Event]) -> (tempfile::TempDir, PathBuf, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = Vec::new();
        for r in records {
            append_record(&mut bytes, &r.encode_to_vec());
        }
        let path = dir.path().join("events.out.tfevents.test");
        std::fs::write(&path, &bytes).unwrap();
        (dir, path, bytes)
    }

    #[test]
    fn truncated_last_record_is_reported_not_fatal() {
        let events = [
            summary_event(1, 1.0, vec![scalar("a", 1.0)]),
            summary_event(2, 1.0, vec![scalar("a", 2.0)]),
        ];
        let (_dir, path, bytes) = file_with(&events);
        let first_len = bytes.len() / 2;
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let read = read_events(&path).unwrap();
        assert_eq!(read.events.len(), 1);
        assert_eq!(read.truncated_at, Some(first_len as u64));
    }

    #[test]
    fn flipped_payload_byte_is_a_crc_error_with_offset() {
        let (_dir, path, mut bytes) = file_with(&[summary_event(1, 1.0, vec![])]);
        bytes[13] ^= 0xff;
        std::fs::write(&path, &bytes).unwrap();
        let err = read_events(&path).unwrap_err().to_string();
        assert!(
            err.contains("payload CRC") && err.contains("offset 0"),
            "{err}"
        );
    }

    #[test]
    fn huge_length_claim_does_not_allocate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let len = (1u64 << 60).to_le_bytes();
        let mut bytes = len.to_vec();
        bytes.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
        bytes.extend_from_slice(&[0; 32]);
        std::fs::write(&path, &bytes).unwrap();
        let read = read_events(&path).unwrap();
        assert_eq!(read.truncated_at, Some(0));
    }

    #[test]
    fn empty_file_has_no_events() {
        let (_dir, path, _) = file_with(&[]);
        let read = read_events(&path).unwrap();
        assert!(read.events.is_empty() && read.truncated_at.is_none());
    }
}
