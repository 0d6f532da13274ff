//! Audio summaries, for TensorBoard's Audio dashboard: samples in, a 16-bit
//! PCM WAV in the `audio` field of a summary value out (TensorFlow's v1
//! audio summary, which both of TensorBoard's loaders read).
//!
//! ```
//! use gradscope_tensorboard::audio::audio;
//! use gradscope_tensorboard::proto::summary::value::Value;
//!
//! // A tenth of a second of 440 Hz at 8 kHz.
//! let samples: Vec<f32> = (0..800)
//!     .map(|i| (i as f32 * 440.0 * std::f32::consts::TAU / 8000.0).sin() * 0.5)
//!     .collect();
//! let value = audio("tone", &samples, 8000)?;
//! let Some(Value::Audio(clip)) = value.value else { unreachable!() };
//! assert_eq!((clip.sample_rate, clip.num_channels, clip.length_frames), (8000.0, 1, 800));
//! assert_eq!(&clip.encoded_audio_string[..4], b"RIFF");
//! # Ok::<(), gradscope_tensorboard::SummaryError>(())
//! ```

use crate::error::{check_tag, SummaryError};
use crate::proto::summary;

/// The MIME type the dashboard plays the clip as.
pub const CONTENT_TYPE: &str = "audio/wav";

/// The bytes of the WAV header before the samples.
const HEADER_BYTES: usize = 44;

/// A mono 16-bit PCM WAV file of `samples` (in [-1, 1]; clamped, NaN is
/// silence; scaled by 32767 and truncated, as tensorboardX does).
///
/// ```
/// let wav = gradscope_tensorboard::audio::wav_pcm16(&[0.0, 1.0, -1.0], 16_000);
/// assert_eq!(wav.len(), 44 + 3 * 2);
/// assert_eq!(&wav[44..], &[0, 0, 0xff, 0x7f, 0x01, 0x80]);
/// ```
///
/// # Panics
///
/// If the file would be 4 GiB or more, which WAV cannot describe: [`audio`]
/// checks it first.
pub fn wav_pcm16(samples: &[f32], sample_rate: u32) -> Vec<u8> {
    let data_bytes = u32::try_from(samples.len() * 2)
        .ok()
        .filter(|n| n.checked_add(HEADER_BYTES as u32 - 8).is_some())
        .expect("a WAV file under 4 GiB");
    let mut out = Vec::with_capacity(HEADER_BYTES + data_bytes as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(data_bytes + HEADER_BYTES as u32 - 8).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // channels
    out.extend_from_slice(&sample_rate.to_le_bytes());
    out.extend_from_slice(&sample_rate.wrapping_mul(2).to_le_bytes()); // bytes per second
    out.extend_from_slice(&2u16.to_le_bytes()); // bytes per frame
    out.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_bytes.to_le_bytes());
    for &x in samples {
        let x = if x.is_nan() { 0.0 } else { x.clamp(-1.0, 1.0) };
        out.extend_from_slice(&((x * 32767.0) as i16).to_le_bytes());
    }
    out
}

/// An audio summary: `samples` (mono, in [-1, 1]) at `sample_rate` Hz as a
/// WAV clip under `tag`.
pub fn audio(tag: &str, samples: &[f32], sample_rate: u32) -> Result<summary::Value, SummaryError> {
    check_tag(tag)?;
    if sample_rate == 0 {
        return Err(SummaryError::invalid(
            tag,
            "sample_rate",
            "a rate above 0 Hz, got 0",
        ));
    }
    if samples.is_empty() || samples.len() >= (u32::MAX as usize - HEADER_BYTES) / 2 {
        return Err(SummaryError::invalid(
            tag,
            "samples",
            format!(
                "1 to {} samples (a WAV file under 4 GiB), got {}",
                (u32::MAX as usize - HEADER_BYTES) / 2 - 1,
                samples.len()
            ),
        ));
    }
    Ok(summary::Value {
        tag: tag.to_string(),
        value: Some(summary::value::Value::Audio(summary::Audio {
            sample_rate: sample_rate as f32,
            num_channels: 1,
            length_frames: samples.len() as i64,
            encoded_audio_string: wav_pcm16(samples, sample_rate),
            content_type: CONTENT_TYPE.to_string(),
        })),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_the_canonical_44_bytes() {
        let wav = wav_pcm16(&[0.5, -0.5], 22_050);
        let u32_at = |i: usize| u32::from_le_bytes(wav[i..i + 4].try_into().unwrap());
        let u16_at = |i: usize| u16::from_le_bytes(wav[i..i + 2].try_into().unwrap());
        assert_eq!(&wav[0..4], b"RIFF");
        assert_eq!(u32_at(4), 36 + 4);
        assert_eq!(&wav[8..16], b"WAVEfmt ");
        assert_eq!((u32_at(16), u16_at(20), u16_at(22)), (16, 1, 1));
        assert_eq!((u32_at(24), u32_at(28)), (22_050, 44_100));
        assert_eq!((u16_at(32), u16_at(34)), (2, 16));
        assert_eq!(&wav[36..40], b"data");
        assert_eq!(u32_at(40), 4);
        // 0.5 * 32767 = 16383.5, truncated.
        assert_eq!(i16::from_le_bytes([wav[44], wav[45]]), 16383);
        assert_eq!(i16::from_le_bytes([wav[46], wav[47]]), -16383);
    }

    #[test]
    fn nan_is_silence_and_loud_is_clamped() {
        let wav = wav_pcm16(&[f32::NAN, 7.0, f32::NEG_INFINITY], 1);
        let s: Vec<i16> = wav[44..]
            .chunks(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        assert_eq!(s, [0, 32767, -32767]);
    }

    #[test]
    fn bad_input_is_an_error() {
        let e = audio("a", &[0.0], 0).unwrap_err();
        assert!(e.to_string().contains("`sample_rate`"), "{e}");
        let e = audio("a", &[], 8000).unwrap_err();
        assert!(e.to_string().contains("`samples`"), "{e}");
        assert!(audio("", &[0.0], 8000).is_err());
    }
}
