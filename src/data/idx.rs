//! The IDX file format (MNIST's): a big-endian header, then raw bytes.
//!
//! ```text
//! u32 magic     0x00000803 (2051) for images, 0x00000801 (2049) for labels:
//!               two zero bytes, a type code (0x08 = u8), the number of dimensions
//! u32 × dims    the size of each dimension
//! u8 × product  the data
//! ```
//!
//! Files may be gzip-compressed; that is recognised by content, not by name.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Magic number of an IDX file of u8 images (three dimensions).
pub const IMAGES_MAGIC: u32 = 2051;
/// Magic number of an IDX file of u8 labels (one dimension).
pub const LABELS_MAGIC: u32 = 2049;

/// Larger than any real data set here; stops a hostile header or a gzip bomb
/// from claiming the machine's memory.
const MAX_DATA_BYTES: u64 = 1 << 32;

/// What went wrong reading a data file, always naming the file.
#[derive(Debug)]
pub struct IdxError {
    pub path: PathBuf,
    pub problem: String,
}

impl fmt::Display for IdxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.problem)
    }
}

impl std::error::Error for IdxError {}

/// A parsed IDX file of unsigned bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Idx {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Reads and validates the IDX file at `path` (raw or gzip), expecting
/// `magic` (which fixes the number of dimensions).
pub fn read(path: &Path, magic: u32) -> Result<Idx, IdxError> {
    let error = |problem: String| IdxError {
        path: path.to_path_buf(),
        problem,
    };
    let raw = std::fs::read(path).map_err(|e| error(format!("cannot read: {e}")))?;
    let named_gz = path.extension().is_some_and(|ext| ext == "gz");
    decode(raw, named_gz, magic).map_err(error)
}

/// Decompresses `raw` if it is gzip (recognised by content) and parses it.
/// `named_gz`: the file's name ends in `.gz`, so it must be gzip. Takes the
/// bytes by value so the pixels need no second copy (Fashion-MNIST's
/// training images are 47 MB).
pub fn decode(raw: Vec<u8>, named_gz: bool, magic: u32) -> Result<Idx, String> {
    if raw.starts_with(&[0x1f, 0x8b]) {
        let bytes = gunzip(&raw).map_err(|e| format!("not a valid gzip file: {e}"))?;
        drop(raw);
        parse(bytes, magic)
    } else if named_gz {
        Err("named .gz but is not gzip-compressed (no gzip header)".into())
    } else {
        parse(raw, magic)
    }
}

fn gunzip(raw: &[u8]) -> std::io::Result<Vec<u8>> {
    // The gzip trailer's last four bytes hold the uncompressed size (mod
    // 2^32). Reserving it up front avoids the doubling reallocations that
    // otherwise hold two large buffers at once. A corrupt file may claim
    // anything, so the hint is capped by deflate's largest possible ratio
    // (about 1032:1) and by a fixed bound.
    const MAX_HINT: usize = 256 << 20;
    const MAX_DEFLATE_RATIO: usize = 1032;
    let hint = raw.len().checked_sub(4).map_or(0, |at| {
        u32::from_le_bytes(raw[at..].try_into().unwrap()) as usize
    });
    let bound = raw.len().saturating_mul(MAX_DEFLATE_RATIO).min(MAX_HINT);
    let mut out = Vec::with_capacity(hint.min(bound));
    flate2::read::GzDecoder::new(raw)
        .take(MAX_DATA_BYTES + 1)
        .read_to_end(&mut out)?;
    if out.len() as u64 > MAX_DATA_BYTES {
        return Err(std::io::Error::other(format!(
            "decompresses to more than {MAX_DATA_BYTES} bytes"
        )));
    }
    Ok(out)
}

/// Parses IDX `bytes` (already decompressed), expecting `magic`; the data
/// stays in `bytes`' allocation.
pub fn parse(mut bytes: Vec<u8>, magic: u32) -> Result<Idx, String> {
    let kind = match magic {
        IMAGES_MAGIC => "images",
        LABELS_MAGIC => "labels",
        _ => "IDX",
    };
    if bytes.len() < 4 {
        return Err(format!(
            "too short for an IDX header: {} bytes (empty or truncated file?)",
            bytes.len()
        ));
    }
    let found = u32::from_be_bytes(bytes[..4].try_into().unwrap());
    if found != magic {
        return Err(format!(
            "wrong magic number {found} (0x{found:08x}); IDX {kind} files start with {magic} (0x{magic:08x})"
        ));
    }
    let ndims = (magic & 0xff) as usize;
    let header_len = 4 + 4 * ndims;
    if bytes.len() < header_len {
        return Err(format!(
            "truncated header: {ndims} dimensions need {header_len} bytes, file has {}",
            bytes.len()
        ));
    }
    let dims: Vec<usize> = bytes[4..header_len]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes(c.try_into().unwrap()) as usize)
        .collect();
    let expected = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .filter(|&n| n <= MAX_DATA_BYTES)
        .ok_or_else(|| format!("dimensions {dims:?} are implausibly large"))?;
    let body_len = (bytes.len() - header_len) as u64;
    if body_len != expected {
        let how = if body_len < expected {
            "truncated"
        } else {
            "has trailing bytes"
        };
        return Err(format!(
            "{how}: dimensions {dims:?} need {expected} data bytes after the header, found {body_len}"
        ));
    }
    bytes.drain(..header_len);
    Ok(Idx { dims, data: bytes })
}

/// Encodes an IDX file; the inverse of `parse`. Used to make test data.
pub fn encode(magic: u32, dims: &[usize], data: &[u8]) -> Vec<u8> {
    let mut out = magic.to_be_bytes().to_vec();
    for &d in dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn parses_images_and_labels() {
        let imgs = encode(IMAGES_MAGIC, &[2, 2, 3], &[1; 12]);
        let idx = parse(imgs.clone(), IMAGES_MAGIC).unwrap();
        assert_eq!(idx.dims, vec![2, 2, 3]);
        assert_eq!(idx.data.len(), 12);
        let labels = encode(LABELS_MAGIC, &[3], &[0, 9, 4]);
        assert_eq!(
            parse(labels.clone(), LABELS_MAGIC).unwrap().data,
            vec![0, 9, 4]
        );
    }

    #[test]
    fn wrong_magic_is_named() {
        let labels = encode(LABELS_MAGIC, &[1], &[0]);
        let err = parse(labels.clone(), IMAGES_MAGIC).unwrap_err();
        assert!(err.contains("wrong magic number 2049"), "{err}");
        assert!(err.contains("2051"), "{err}");
    }

    #[test]
    fn truncated_header_body_and_empty() {
        assert!(parse(Vec::new(), IMAGES_MAGIC)
            .unwrap_err()
            .contains("too short"));
        let imgs = encode(IMAGES_MAGIC, &[2, 2, 3], &[1; 12]);
        assert!(parse(imgs[..10].to_vec(), IMAGES_MAGIC)
            .unwrap_err()
            .contains("truncated header"));
        let err = parse(imgs[..imgs.len() - 1].to_vec(), IMAGES_MAGIC).unwrap_err();
        assert!(
            err.contains("truncated") && err.contains("need 12"),
            "{err}"
        );
        let mut long = imgs.clone();
        long.push(0);
        assert!(parse(long.clone(), IMAGES_MAGIC)
            .unwrap_err()
            .contains("trailing"));
    }

    #[test]
    fn huge_dimensions_are_rejected_without_allocating() {
        let header = encode(IMAGES_MAGIC, &[u32::MAX as usize; 3], &[]);
        assert!(parse(header.clone(), IMAGES_MAGIC)
            .unwrap_err()
            .contains("implausibly large"));
    }

    #[test]
    fn reads_gzip_and_rejects_fake_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let labels = encode(LABELS_MAGIC, &[2], &[3, 4]);
        let gz_path = dir.path().join("l.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&labels).unwrap();
        std::fs::write(&gz_path, enc.finish().unwrap()).unwrap();
        assert_eq!(read(&gz_path, LABELS_MAGIC).unwrap().data, vec![3, 4]);

        let fake = dir.path().join("fake.gz");
        std::fs::write(&fake, &labels).unwrap();
        let err = read(&fake, LABELS_MAGIC).unwrap_err().to_string();
        assert!(err.contains("fake.gz") && err.contains("gzip"), "{err}");

        let broken = dir.path().join("broken-idx1-ubyte");
        std::fs::write(&broken, [0x1f, 0x8b, 0, 1, 2]).unwrap();
        let err = read(&broken, LABELS_MAGIC).unwrap_err().to_string();
        assert!(err.contains("gzip"), "{err}");
    }
}
