//! TFRecord framing, the container format of TensorBoard event files.
//!
//! Each record is
//!
//! ```text
//! u64 little-endian  payload length
//! u32 little-endian  masked CRC-32C of the 8 length bytes
//! [u8; length]       payload (a serialized `Event`)
//! u32 little-endian  masked CRC-32C of the payload
//! ```
//!
//! The CRCs are "masked" (rotated and offset) because computing the CRC of a
//! string that itself contains CRCs weakens the check.

/// Bytes a record adds around its payload: length, two CRCs.
pub const FRAMING_BYTES: usize = 8 + 4 + 4;

const MASK_DELTA: u32 = 0xa282_ead8;

/// The masked CRC-32C of `data`, as TFRecord stores it.
pub fn masked_crc32c(data: &[u8]) -> u32 {
    let crc = crc32c::crc32c(data);
    crc.rotate_right(15).wrapping_add(MASK_DELTA)
}

/// Appends one framed record holding `payload` to `out`.
pub fn append_record(out: &mut Vec<u8>, payload: &[u8]) {
    let len = (payload.len() as u64).to_le_bytes();
    out.reserve(FRAMING_BYTES + payload.len());
    out.extend_from_slice(&len);
    out.extend_from_slice(&masked_crc32c(&len).to_le_bytes());
    out.extend_from_slice(payload);
    out.extend_from_slice(&masked_crc32c(payload).to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_published_check_value() {
        // The CRC-32C (Castagnoli) check value from the CRC catalogue.
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
    }

    #[test]
    fn empty_payload_frames_to_known_bytes() {
        // Pinned bytes, computed independently with a bitwise CRC-32C:
        // crc32c([0; 8]) = 0x8c28b28a, masked 0x07980329.
        let mut out = Vec::new();
        append_record(&mut out, b"");
        assert_eq!(
            out,
            [0, 0, 0, 0, 0, 0, 0, 0, 0x29, 0x03, 0x98, 0x07, 0xd8, 0xea, 0x82, 0xa2]
        );
    }

    #[test]
    fn record_layout_for_a_small_payload() {
        let mut out = Vec::new();
        append_record(&mut out, b"abc");
        assert_eq!(&out[..8], &3u64.to_le_bytes());
        assert_eq!(&out[12..15], b"abc");
        assert_eq!(
            u32::from_le_bytes(out[15..19].try_into().unwrap()),
            masked_crc32c(b"abc")
        );
        // CRC-32C("abc") = 0x364b3fb7 (published test vector).
        assert_eq!(crc32c::crc32c(b"abc"), 0x364b_3fb7);
    }
}
