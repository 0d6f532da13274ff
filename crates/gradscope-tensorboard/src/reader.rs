//! Reading event files back: TFRecord deframing with both CRCs checked.
//!
//! Used by the tests and by anything that inspects a logdir. It accepts files
//! from any TensorBoard writer, and tolerates what a crashed writer leaves:
//!
//! - a last record cut short (the writer died mid-write) ends the file and is
//!   reported in [`ReadEvents::truncated_at`], not as an error;
//! - a zero-length file (the writer died before its first flush) holds no
//!   events and is not an error either.
//!
//! Everything else that is wrong (a CRC that does not match, a length beyond
//! [`MAX_RECORD_BYTES`], a payload that is not an `Event`, a read failure) is
//! a [`ReadError`] carrying the file and the byte offset of the record.
//!
//! Memory: [`EventReader`] holds one record at a time, so streaming a file
//! costs at most [`MAX_RECORD_BYTES`] plus one decoded event whatever the
//! file's size or contents; [`read_events`] collects every event.

use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use prost::Message;

use crate::proto::Event;
use crate::record::{masked_crc32c, FRAMING_BYTES};
use crate::storage;

/// The largest record payload the reader accepts. gradscope's own records are
/// tens of kilobytes; a length field above this is treated as corruption, so
/// a damaged or hostile file cannot make the reader allocate more.
pub const MAX_RECORD_BYTES: u64 = 64 << 20;

/// Length (8 bytes) and its CRC (4 bytes): what precedes each payload.
const HEADER_BYTES: u64 = 12;

/// The events of one file, and where a truncated final record began, if any.
#[derive(Debug, Default)]
pub struct ReadEvents {
    /// Every whole event, the file-version event first.
    pub events: Vec<Event>,
    /// Byte offset of a final record that ends before its declared length.
    pub truncated_at: Option<u64>,
}

/// Why a file could not be read, with the byte offset of the bad record.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReadError {
    /// Opening or reading failed; `offset` is where the record being read
    /// starts (0 when the file could not be opened).
    Io {
        /// The file.
        path: PathBuf,
        /// Where the record being read starts.
        offset: u64,
        /// What the OS said.
        source: io::Error,
    },
    /// The bytes at `offset` are not a valid record.
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where the bad record starts.
        offset: u64,
        /// What is wrong with it.
        what: String,
    },
}

impl ReadError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ReadError::Io { path, .. } | ReadError::Corrupt { path, .. } => path,
        }
    }

    /// Byte offset of the record that could not be read.
    pub fn offset(&self) -> u64 {
        match self {
            ReadError::Io { offset, .. } | ReadError::Corrupt { offset, .. } => *offset,
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io {
                path,
                offset,
                source,
            } => write!(
                f,
                "{}: read error at byte offset {offset}: {source}",
                path.display()
            ),
            ReadError::Corrupt { path, offset, what } => write!(
                f,
                "{}: corrupt record at byte offset {offset}: {what}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ReadError::Io { source, .. } => Some(source),
            ReadError::Corrupt { .. } => None,
        }
    }
}

/// Reads every event of the file at `path` (an object's URL too, see
/// [`crate::storage`]).
pub fn read_events(path: &Path) -> Result<ReadEvents, ReadError> {
    if storage::is_url(path) {
        let bytes = storage::read(path).map_err(|source| ReadError::Io {
            path: path.to_path_buf(),
            offset: 0,
            source,
        })?;
        let len = bytes.len() as u64;
        return read_all(EventReader::new(path, &bytes[..], len));
    }
    read_all(EventReader::open(path)?)
}

fn read_all<R: Read>(mut reader: EventReader<R>) -> Result<ReadEvents, ReadError> {
    let mut events = Vec::new();
    for item in reader.by_ref() {
        events.push(item?.1);
    }
    Ok(ReadEvents {
        events,
        truncated_at: reader.truncated_at(),
    })
}

/// Streams the events of one file, one record in memory at a time.
///
/// Yields each event with the byte offset where its record starts. Iteration
/// ends at the end of the file, at a truncated final record (then
/// [`EventReader::truncated_at`] says where), or after the first error.
///
/// `M` is the message each record decodes to: [`Event`], or a view of it
/// such as gradscope's report view, which leaves histogram buckets undecoded.
pub struct EventReader<R, M = Event> {
    path: PathBuf,
    input: R,
    /// Bytes in the input; reading stops there even if the file grows.
    len: u64,
    /// Where the next record starts.
    offset: u64,
    /// Reused for every payload; never longer than [`MAX_RECORD_BYTES`].
    payload: Vec<u8>,
    truncated_at: Option<u64>,
    done: bool,
    message: PhantomData<M>,
}

impl EventReader<BufReader<File>> {
    /// Opens the event file at `path`. Reads up to its length at this moment,
    /// so a file still being written ends at a (possibly truncated) record.
    pub fn open(path: &Path) -> Result<Self, ReadError> {
        let io_err = |source| ReadError::Io {
            path: path.to_path_buf(),
            offset: 0,
            source,
        };
        let file = File::open(path).map_err(io_err)?;
        let len = file.metadata().map_err(io_err)?.len();
        Ok(EventReader::new(path, BufReader::new(file), len))
    }
}

impl<R: Read> EventReader<R> {
    /// Reads records from `input`, which holds `len` bytes; `path` names it
    /// in errors.
    pub fn new(path: &Path, input: R, len: u64) -> Self {
        EventReader {
            path: path.to_path_buf(),
            input,
            len,
            offset: 0,
            payload: Vec::new(),
            truncated_at: None,
            done: false,
            message: PhantomData,
        }
    }

    /// This reader, decoding each record as `V` instead of [`Event`]: a view
    /// of it that declares only some of `Event`'s fields, which skips those it
    /// leaves out of its schema.
    pub fn decoding<V: Message + Default>(self) -> EventReader<R, V> {
        EventReader {
            path: self.path,
            input: self.input,
            len: self.len,
            offset: self.offset,
            payload: self.payload,
            truncated_at: self.truncated_at,
            done: self.done,
            message: PhantomData,
        }
    }
}

impl<R: Read, M: Message + Default> EventReader<R, M> {
    /// Where the next record starts: after the last event read, or at the
    /// record an error or a truncated tail was found at.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Byte offset of a final record that ends before its declared length,
    /// once iteration has reached it.
    pub fn truncated_at(&self) -> Option<u64> {
        self.truncated_at
    }

    fn corrupt(&self, what: String) -> ReadError {
        ReadError::Corrupt {
            path: self.path.clone(),
            offset: self.offset,
            what,
        }
    }

    fn io(&self, source: io::Error) -> ReadError {
        ReadError::Io {
            path: self.path.clone(),
            offset: self.offset,
            source,
        }
    }

    /// The record at `self.offset` and that offset, moving past it;
    /// `Ok(None)` at the end or at a truncated tail.
    fn read_record(&mut self) -> Result<Option<(u64, M)>, ReadError> {
        let remaining = self.len - self.offset;
        if remaining == 0 {
            return Ok(None);
        }
        if remaining < HEADER_BYTES {
            self.truncated_at = Some(self.offset);
            return Ok(None);
        }
        let mut header = [0u8; HEADER_BYTES as usize];
        self.input.read_exact(&mut header).map_err(|e| self.io(e))?;
        let (len_bytes, len_crc) = header.split_at(8);
        if masked_crc32c(len_bytes) != u32::from_le_bytes(len_crc.try_into().unwrap()) {
            return Err(self.corrupt("length CRC mismatch (not a TFRecord, or damaged)".into()));
        }
        let len = u64::from_le_bytes(len_bytes.try_into().unwrap());
        // Checked before allocating: a corrupt length must not cost memory.
        if len > MAX_RECORD_BYTES {
            return Err(self.corrupt(format!(
                "length field claims {len} bytes, more than the {MAX_RECORD_BYTES}-byte limit"
            )));
        }
        if len + FRAMING_BYTES as u64 > remaining {
            // What a writer killed mid-record leaves: accepted, and reported.
            self.truncated_at = Some(self.offset);
            return Ok(None);
        }
        // The file holds `len` more bytes (checked above), so sizing the
        // buffer up front costs no more memory than the record, and lets a
        // large record be read straight into it, past the BufReader's buffer.
        self.payload.resize(len as usize + 4, 0);
        if let Err(e) = self.input.read_exact(&mut self.payload) {
            let e = if e.kind() == io::ErrorKind::UnexpectedEof {
                io::Error::new(io::ErrorKind::UnexpectedEof, "the file got shorter")
            } else {
                e
            };
            return Err(self.io(e));
        }
        let (payload, crc) = self.payload.split_at(len as usize);
        if masked_crc32c(payload) != u32::from_le_bytes(crc.try_into().unwrap()) {
            return Err(self.corrupt("payload CRC mismatch".into()));
        }
        let event = M::decode(payload).map_err(|e| self.corrupt(format!("not an Event: {e}")))?;
        let at = self.offset;
        self.offset += HEADER_BYTES + len + 4;
        Ok(Some((at, event)))
    }
}

impl<R: Read, M: Message + Default> Iterator for EventReader<R, M> {
    type Item = Result<(u64, M), ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.read_record() {
            Ok(Some(item)) => Some(Ok(item)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::append_record;
    use crate::summary::{file_version_event, scalar, summary_event};

    fn encode(records: &[Event]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for r in records {
            append_record(&mut bytes, &r.encode_to_vec());
        }
        bytes
    }

    fn file_with(bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.out.tfevents.test");
        std::fs::write(&path, bytes).unwrap();
        (dir, path)
    }

    fn two_events() -> Vec<Event> {
        vec![
            summary_event(1, 1.0, vec![scalar("a", 1.0)]),
            summary_event(2, 1.0, vec![scalar("a", 2.0)]),
        ]
    }

    /// A record header claiming `len` bytes, with a correct length CRC.
    fn header(len: u64) -> Vec<u8> {
        let len = len.to_le_bytes();
        let mut bytes = len.to_vec();
        bytes.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
        bytes
    }

    #[test]
    fn every_truncation_point_keeps_the_complete_records() {
        let events = [file_version_event(1.0), two_events()[0].clone()];
        let bytes = encode(&events);
        let first_len = encode(&events[..1]).len();
        for cut in 0..=bytes.len() {
            let (_dir, path) = file_with(&bytes[..cut]);
            let read = read_events(&path).unwrap();
            let (complete, tail) = match cut {
                0 => (0, None),
                c if c < first_len => (0, Some(0)),
                c if c == first_len => (1, None),
                c if c < bytes.len() => (1, Some(first_len as u64)),
                _ => (2, None),
            };
            assert_eq!((read.events.len(), read.truncated_at), (complete, tail));
        }
    }

    #[test]
    fn zero_length_file_has_no_events_and_no_error() {
        let (_dir, path) = file_with(&[]);
        let read = read_events(&path).unwrap();
        assert!(read.events.is_empty() && read.truncated_at.is_none());
    }

    #[test]
    fn bad_length_crc_names_the_offset_of_its_record() {
        let mut bytes = encode(&two_events());
        let second = bytes.len() / 2;
        bytes[second + 9] ^= 0x01;
        let (_dir, path) = file_with(&bytes);
        let err = read_events(&path).unwrap_err();
        assert_eq!(err.offset(), second as u64);
        let msg = err.to_string();
        assert!(
            msg.contains("length CRC") && msg.contains(&format!("byte offset {second}")),
            "{msg}"
        );
        assert!(msg.contains("events.out.tfevents.test"), "{msg}");
    }

    #[test]
    fn bad_payload_crc_names_the_offset_of_its_record() {
        for flip in [12, 13] {
            let mut bytes = encode(&two_events());
            bytes[flip] ^= 0xff;
            let (_dir, path) = file_with(&bytes);
            let msg = read_events(&path).unwrap_err().to_string();
            assert!(
                msg.contains("payload CRC") && msg.contains("byte offset 0"),
                "{msg}"
            );
        }
        // The payload's own CRC, the last four bytes of the second record.
        let mut bytes = encode(&two_events());
        let last = bytes.len() - 1;
        bytes[last] ^= 0x80;
        let (_dir, path) = file_with(&bytes);
        let err = read_events(&path).unwrap_err();
        assert_eq!(err.offset(), (bytes.len() / 2) as u64);
    }

    #[test]
    fn a_2_pow_60_length_is_an_error_without_allocating() {
        let mut bytes = encode(&two_events());
        let good = bytes.len() as u64;
        bytes.extend(header(1 << 60));
        bytes.extend_from_slice(&[0; 32]);
        let (_dir, path) = file_with(&bytes);
        let err = read_events(&path).unwrap_err();
        assert_eq!(err.offset(), good);
        assert!(
            err.to_string().contains("1152921504606846976 bytes"),
            "{err}"
        );
        // The events before it still stream out.
        let (_dir2, path) = file_with(&bytes);
        let streamed: Vec<_> = EventReader::open(&path).unwrap().collect();
        assert_eq!(streamed.len(), 3);
        assert!(streamed[..2].iter().all(Result::is_ok));
    }

    #[test]
    fn a_plausible_length_past_the_end_is_a_truncated_tail() {
        let mut bytes = encode(&two_events());
        let good = bytes.len() as u64;
        bytes.extend(header(1000));
        bytes.extend_from_slice(&[7; 100]);
        let (_dir, path) = file_with(&bytes);
        let read = read_events(&path).unwrap();
        assert_eq!((read.events.len(), read.truncated_at), (2, Some(good)));
    }

    #[test]
    fn random_bytes_are_an_error_at_offset_0() {
        let bytes: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let (_dir, path) = file_with(&bytes);
        let err = read_events(&path).unwrap_err();
        assert_eq!(err.offset(), 0);
        assert!(err.to_string().contains("length CRC"), "{err}");
    }

    #[test]
    fn a_valid_record_that_is_not_an_event_is_corrupt() {
        let mut bytes = encode(&two_events());
        let good = bytes.len() as u64;
        // Field 1 (wall_time, a double) with a varint wire type: not an Event.
        append_record(&mut bytes, &[0x08, 0xff]);
        let (_dir, path) = file_with(&bytes);
        let err = read_events(&path).unwrap_err();
        assert_eq!(err.offset(), good);
        assert!(err.to_string().contains("not an Event"), "{err}");
    }

    #[test]
    fn streaming_reports_each_record_offset() {
        let bytes = encode(&two_events());
        let offsets: Vec<u64> = EventReader::new(Path::new("mem"), &bytes[..], bytes.len() as u64)
            .map(|r| r.unwrap().0)
            .collect();
        assert_eq!(offsets, [0, bytes.len() as u64 / 2]);
    }

    #[test]
    fn a_file_that_shrinks_while_read_is_an_io_error_with_offset() {
        let bytes = encode(&two_events());
        // Claims a whole header more than it holds.
        let claimed = bytes.len() as u64 + HEADER_BYTES;
        let mut reader = EventReader::new(Path::new("mem"), &bytes[..], claimed);
        assert!(reader.next().unwrap().is_ok());
        assert!(reader.next().unwrap().is_ok());
        let err = reader.next().unwrap().unwrap_err();
        assert!(matches!(err, ReadError::Io { .. }), "{err}");
        assert_eq!(err.offset(), bytes.len() as u64);
        assert!(reader.next().is_none(), "stops after an error");
    }

    #[test]
    fn a_missing_file_is_an_io_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_events(&dir.path().join("nope")).unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }
}
