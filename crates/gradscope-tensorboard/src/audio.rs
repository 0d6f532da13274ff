//! Audio summaries, for TensorBoard's Audio dashboard: samples in, a 16-bit
//! PCM WAV out, in the Audio plugin's own form: a `DT_STRING` tensor of
//! shape `[1, 2]` (the clip, its label) whose metadata names the "audio"
//! plugin and the WAV encoding. (tensorboardX writes the older `audio`
//! field instead; TensorBoard's fast loader then serves the clip without
//! its content type.)
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
//! let Some(Value::Tensor(clip)) = value.value else { unreachable!() };
//! assert_eq!(&clip.string_val[0][..4], b"RIFF");
//! assert_eq!(clip.string_val[0].len(), 44 + 800 * 2);
//! # Ok::<(), gradscope_tensorboard::SummaryError>(())
//! ```

use prost::Message;

use crate::error::{check_tag, SummaryError};
use crate::proto::{
    audio_plugin_data, summary, tensor_shape_proto, AudioPluginData, DataClass, DataType,
    TensorProto, TensorShapeProto,
};
use crate::summary::plugin_metadata;

/// The plugin name TensorBoard's Audio dashboard reads.
pub const PLUGIN_NAME: &str = "audio";

/// The bytes of the WAV header before the samples.
const HEADER_BYTES: usize = 44;

/// A mono 16-bit PCM WAV file of `samples` (in [-1, 1]; clamped, NaN is
/// silence). Each sample becomes `floor(x * 32768)`, at most 32767: the
/// integers tensorboardX's `add_audio` writes (through soundfile and
/// libsndfile), so the two files are the same bytes.
///
/// ```
/// let wav = gradscope_tensorboard::audio::wav_pcm16(&[0.0, 1.0, -1.0], 16_000);
/// assert_eq!(wav.len(), 44 + 3 * 2);
/// assert_eq!(&wav[44..], &[0, 0, 0xff, 0x7f, 0x00, 0x80]);
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
        // Exact in f32 (a power of two), then floored: -32768 to 32768,
        // the top one clipped.
        let q = (x * 32768.0).floor().min(32767.0);
        out.extend_from_slice(&(q as i16).to_le_bytes());
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
    let content = AudioPluginData {
        version: 0,
        encoding: audio_plugin_data::Encoding::Wav as i32,
        converted_to_tensor: false,
    }
    .encode_to_vec();
    let dim = |size| tensor_shape_proto::Dim {
        size,
        ..Default::default()
    };
    Ok(summary::Value {
        tag: tag.to_string(),
        metadata: Some(plugin_metadata(
            PLUGIN_NAME,
            content,
            DataClass::BlobSequence,
        )),
        value: Some(summary::value::Value::Tensor(TensorProto {
            dtype: DataType::DtString as i32,
            tensor_shape: Some(TensorShapeProto {
                dim: vec![dim(1), dim(2)],
                ..Default::default()
            }),
            // The clip, then its label (none).
            string_val: vec![wav_pcm16(samples, sample_rate), Vec::new()],
            ..Default::default()
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
        assert_eq!(i16::from_le_bytes([wav[44], wav[45]]), 16384);
        assert_eq!(i16::from_le_bytes([wav[46], wav[47]]), -16384);
    }

    #[test]
    fn nan_is_silence_and_loud_is_clamped() {
        let wav = wav_pcm16(&[f32::NAN, 7.0, f32::NEG_INFINITY], 1);
        let s: Vec<i16> = wav[44..]
            .chunks(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        assert_eq!(s, [0, 32767, -32768]);
        // Floored, not rounded or truncated: -0.3 * 32768 = -9830.4.
        let wav = wav_pcm16(&[-0.3, 0.3, 1e-6, -1e-6], 1);
        let s: Vec<i16> = wav[44..]
            .chunks(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect();
        assert_eq!(s, [-9831, 9830, 0, -1]);
    }

    #[test]
    fn the_value_is_the_audio_plugins_wav_tensor() {
        let v = audio("a", &[0.0; 3], 8000).unwrap();
        let md = v.metadata.unwrap();
        assert_eq!(md.data_class, DataClass::BlobSequence as i32);
        let plugin = md.plugin_data.unwrap();
        assert_eq!(plugin.plugin_name, "audio");
        let data = AudioPluginData::decode(plugin.content.as_slice()).unwrap();
        assert_eq!(data.encoding, audio_plugin_data::Encoding::Wav as i32);
        let Some(summary::value::Value::Tensor(t)) = v.value else {
            panic!("no tensor")
        };
        let dims: Vec<i64> = t.tensor_shape.unwrap().dim.iter().map(|d| d.size).collect();
        assert_eq!(dims, [1, 2]);
        assert_eq!(t.string_val[0], wav_pcm16(&[0.0; 3], 8000));
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
