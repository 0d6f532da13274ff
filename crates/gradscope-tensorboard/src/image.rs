//! Image summaries, for TensorBoard's Images dashboard: pixels in, a PNG in
//! the `image` field of a summary value out (TensorFlow's v1 image summary,
//! which both of TensorBoard's loaders read).
//!
//! An [`Image`] borrows pixels as `u8` (0-255) or `f32` (0.0-1.0, clamped;
//! NaN is black), laid out height-width-channel ([`Image::hwc`]) or
//! channel-height-width ([`Image::chw`]), with 1 (gray), 3 (RGB) or 4
//! (RGBA) channels. A batch ([`Image::nhwc`], [`Image::nchw`]) is tiled into
//! one grid image, up to 8 per row, as tensorboardX's `add_images` does.
//!
//! ```
//! use gradscope_tensorboard::image::{image, Image};
//! use gradscope_tensorboard::proto::summary::value::Value;
//!
//! // A 2x2 RGB checkerboard, height-width-channel.
//! let pixels: [u8; 12] = [255, 255, 255, 0, 0, 0, 0, 0, 0, 255, 255, 255];
//! let value = image("board", &Image::hwc(&pixels[..], 2, 2, 3))?;
//! let Some(Value::Image(png)) = value.value else { unreachable!() };
//! assert_eq!((png.width, png.height, png.colorspace), (2, 2, 3));
//! assert!(png.encoded_image_string.starts_with(b"\x89PNG"));
//! # Ok::<(), gradscope_tensorboard::SummaryError>(())
//! ```

use crate::error::{check_tag, SummaryError};
use crate::proto::summary;

/// Images tiled per row of a batch's grid, at most.
pub const GRID_COLUMNS: usize = 8;

/// Pixel values: bytes (0-255) or floats (0.0-1.0).
#[derive(Debug, Clone, Copy)]
pub enum Pixels<'a> {
    /// 0 is black, 255 full intensity.
    U8(&'a [u8]),
    /// 0.0 is black, 1.0 full intensity; values outside are clamped, NaN
    /// is 0. Scaled by 255 and truncated, as tensorboardX does.
    F32(&'a [f32]),
}

impl Pixels<'_> {
    fn len(&self) -> usize {
        match self {
            Pixels::U8(p) => p.len(),
            Pixels::F32(p) => p.len(),
        }
    }

    fn get(&self, i: usize) -> u8 {
        match self {
            Pixels::U8(p) => p[i],
            Pixels::F32(p) => {
                let x = p[i];
                if x.is_nan() {
                    0
                } else {
                    (x * 255.0).clamp(0.0, 255.0) as u8
                }
            }
        }
    }
}

impl<'a> From<&'a [u8]> for Pixels<'a> {
    fn from(p: &'a [u8]) -> Pixels<'a> {
        Pixels::U8(p)
    }
}

impl<'a> From<&'a [f32]> for Pixels<'a> {
    fn from(p: &'a [f32]) -> Pixels<'a> {
        Pixels::F32(p)
    }
}

impl<'a> From<&'a Vec<u8>> for Pixels<'a> {
    fn from(p: &'a Vec<u8>) -> Pixels<'a> {
        Pixels::U8(p)
    }
}

impl<'a> From<&'a Vec<f32>> for Pixels<'a> {
    fn from(p: &'a Vec<f32>) -> Pixels<'a> {
        Pixels::F32(p)
    }
}

/// How an image's values are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataFormat {
    /// Height, width, channel: each pixel's channels together (what
    /// plotters' `BitMapBackend` and most image buffers hold).
    Hwc,
    /// Channel, height, width: one plane per channel (PyTorch's layout).
    Chw,
}

/// One image or a batch of same-sized images, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct Image<'a> {
    pixels: Pixels<'a>,
    count: usize,
    pub(crate) height: usize,
    pub(crate) width: usize,
    pub(crate) channels: usize,
    format: DataFormat,
}

impl<'a> Image<'a> {
    /// One image, height-width-channel.
    ///
    /// ```
    /// # use gradscope_tensorboard::image::Image;
    /// let gray = vec![0.5f32; 4 * 6];
    /// let img = Image::hwc(&gray, 4, 6, 1);
    /// assert_eq!(img.count(), 1);
    /// ```
    pub fn hwc(
        pixels: impl Into<Pixels<'a>>,
        height: usize,
        width: usize,
        channels: usize,
    ) -> Self {
        Image::nhwc(pixels, 1, height, width, channels)
    }

    /// One image, channel-height-width.
    ///
    /// ```
    /// # use gradscope_tensorboard::image::Image;
    /// let planes = vec![0u8; 3 * 4 * 6];
    /// assert_eq!(Image::chw(&planes, 3, 4, 6).count(), 1);
    /// ```
    pub fn chw(
        pixels: impl Into<Pixels<'a>>,
        channels: usize,
        height: usize,
        width: usize,
    ) -> Self {
        Image::nchw(pixels, 1, channels, height, width)
    }

    /// `count` images, each height-width-channel, one after the other.
    ///
    /// ```
    /// # use gradscope_tensorboard::image::Image;
    /// let batch = vec![0u8; 5 * 4 * 6 * 3];
    /// assert_eq!(Image::nhwc(&batch, 5, 4, 6, 3).count(), 5);
    /// ```
    pub fn nhwc(
        pixels: impl Into<Pixels<'a>>,
        count: usize,
        height: usize,
        width: usize,
        channels: usize,
    ) -> Self {
        Image {
            pixels: pixels.into(),
            count,
            height,
            width,
            channels,
            format: DataFormat::Hwc,
        }
    }

    /// `count` images, each channel-height-width, one after the other.
    ///
    /// ```
    /// # use gradscope_tensorboard::image::Image;
    /// let batch = vec![0.0f32; 5 * 1 * 28 * 28];
    /// assert_eq!(Image::nchw(&batch, 5, 1, 28, 28).count(), 5);
    /// ```
    pub fn nchw(
        pixels: impl Into<Pixels<'a>>,
        count: usize,
        channels: usize,
        height: usize,
        width: usize,
    ) -> Self {
        Image {
            format: DataFormat::Chw,
            ..Image::nhwc(pixels, count, height, width, channels)
        }
    }

    /// How many images.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Checks the shape against the pixels, naming `tag` in the error.
    pub(crate) fn check(&self, tag: &str) -> Result<(), SummaryError> {
        if !matches!(self.channels, 1 | 3 | 4) {
            return Err(SummaryError::invalid(
                tag,
                "channels",
                format!("1 (gray), 3 (RGB) or 4 (RGBA), got {}", self.channels),
            ));
        }
        if self.count == 0 || self.height == 0 || self.width == 0 {
            return Err(SummaryError::invalid(
                tag,
                "image",
                format!(
                    "at least one image of at least 1x1 pixels, got {} of {}x{}",
                    self.count, self.height, self.width
                ),
            ));
        }
        let want = [self.count, self.height, self.width, self.channels]
            .iter()
            .try_fold(1usize, |a, &b| a.checked_mul(b));
        if want != Some(self.pixels.len()) {
            return Err(SummaryError::invalid(
                tag,
                "pixels",
                format!(
                    "{} x {}x{} x {} channels values, got {}",
                    self.count,
                    self.height,
                    self.width,
                    self.channels,
                    self.pixels.len()
                ),
            ));
        }
        Ok(())
    }

    /// The value of image `k`, row `y`, column `x`, channel `c` as a byte.
    fn at(&self, k: usize, y: usize, x: usize, c: usize) -> u8 {
        let (h, w, ch) = (self.height, self.width, self.channels);
        let i = match self.format {
            DataFormat::Hwc => ((k * h + y) * w + x) * ch + c,
            DataFormat::Chw => ((k * ch + c) * h + y) * w + x,
        };
        self.pixels.get(i)
    }

    /// The images tiled into one height-width-channel byte grid, `columns`
    /// per row (unused cells black): (bytes, height, width).
    pub(crate) fn grid(&self, columns: usize) -> (Vec<u8>, usize, usize) {
        let columns = columns.clamp(1, self.count);
        let rows = self.count.div_ceil(columns);
        let (h, w, ch) = (self.height, self.width, self.channels);
        let (gh, gw) = (rows * h, columns * w);
        let mut out = vec![0u8; gh * gw * ch];
        for k in 0..self.count {
            let (top, left) = (k / columns * h, k % columns * w);
            for y in 0..h {
                for x in 0..w {
                    let at = ((top + y) * gw + left + x) * ch;
                    for c in 0..ch {
                        out[at + c] = self.at(k, y, x, c);
                    }
                }
            }
        }
        (out, gh, gw)
    }
}

/// Encodes height-width-channel bytes as a PNG (8 bits per channel; 1, 2, 3
/// or 4 channels: gray, gray+alpha, RGB, RGBA).
///
/// ```
/// let png = gradscope_tensorboard::image::encode_png(&[0, 128, 255], 1, 3, 1);
/// assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
/// ```
///
/// # Panics
///
/// If `pixels` does not hold `height * width * channels` bytes, or
/// `channels` is not 1 to 4: [`image`] checks both before it calls this.
pub fn encode_png(pixels: &[u8], height: usize, width: usize, channels: usize) -> Vec<u8> {
    assert_eq!(pixels.len(), height * width * channels, "pixel count");
    let color = match channels {
        1 => png::ColorType::Grayscale,
        2 => png::ColorType::GrayscaleAlpha,
        3 => png::ColorType::Rgb,
        4 => png::ColorType::Rgba,
        _ => panic!("{channels} channels"),
    };
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width as u32, height as u32);
    encoder.set_color(color);
    encoder.set_depth(png::BitDepth::Eight);
    // The fast level: on a 640x400 chart (gradscope's gradient-flow image)
    // the default level took 5.3 ms a picture, most of the cost of drawing
    // it, for a file about a third smaller.
    encoder.set_compression(png::Compression::Fast);
    // Writing into a Vec fails only on a size PNG cannot hold, which the
    // callers' checks rule out (u32 dimensions).
    let mut writer = encoder.write_header().expect("a valid PNG header");
    writer
        .write_image_data(pixels)
        .expect("the pixel count was checked");
    writer.finish().expect("a Vec takes every byte");
    out
}

/// The largest side TensorBoard's PNG (and this crate) accepts.
const MAX_SIDE: usize = i32::MAX as usize;

/// An image summary of `image` under `tag`: the image itself, or a batch
/// tiled into a grid of up to [`GRID_COLUMNS`] per row.
pub fn image(tag: &str, image: &Image<'_>) -> Result<summary::Value, SummaryError> {
    check_image(tag, image)?;
    Ok(encoded(tag.to_string(), image))
}

/// Every check [`image`] makes, without the work: what a writer's caller
/// thread runs before the background thread encodes.
pub(crate) fn check_image(tag: &str, image: &Image<'_>) -> Result<(), SummaryError> {
    check_tag(tag)?;
    image.check(tag)?;
    let columns = GRID_COLUMNS.clamp(1, image.count);
    let (height, width) = (
        image.count.div_ceil(columns) * image.height,
        columns * image.width,
    );
    if height > MAX_SIDE || width > MAX_SIDE {
        return Err(SummaryError::invalid(
            tag,
            "image",
            format!("a grid under 2^31 pixels a side, got {height}x{width}"),
        ));
    }
    Ok(())
}

/// The summary of an `image` that [`check_image`] accepted.
pub(crate) fn encoded(tag: String, image: &Image<'_>) -> summary::Value {
    let (pixels, height, width) = image.grid(GRID_COLUMNS);
    let encoded = encode_png(&pixels, height, width, image.channels);
    summary::Value {
        tag,
        value: Some(summary::value::Value::Image(summary::Image {
            height: height as i32,
            width: width as i32,
            colorspace: image.channels as i32,
            encoded_image_string: encoded,
        })),
        ..Default::default()
    }
}

/// An [`Image`] with its pixels copied, for a writer's background thread.
#[derive(Debug)]
pub(crate) struct OwnedImage {
    pixels: OwnedPixels,
    count: usize,
    height: usize,
    width: usize,
    channels: usize,
    format: DataFormat,
}

#[derive(Debug)]
enum OwnedPixels {
    U8(Vec<u8>),
    F32(Vec<f32>),
}

impl Image<'_> {
    /// The same image with its pixels copied (a memcpy).
    pub(crate) fn copy_pixels(&self) -> OwnedImage {
        OwnedImage {
            pixels: match self.pixels {
                Pixels::U8(p) => OwnedPixels::U8(p.to_vec()),
                Pixels::F32(p) => OwnedPixels::F32(p.to_vec()),
            },
            count: self.count,
            height: self.height,
            width: self.width,
            channels: self.channels,
            format: self.format,
        }
    }
}

impl OwnedImage {
    /// The image, borrowing the copied pixels.
    pub(crate) fn as_image(&self) -> Image<'_> {
        Image {
            pixels: match &self.pixels {
                OwnedPixels::U8(p) => Pixels::U8(p),
                OwnedPixels::F32(p) => Pixels::F32(p),
            },
            count: self.count,
            height: self.height,
            width: self.width,
            channels: self.channels,
            format: self.format,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(png: &[u8]) -> (png::OutputInfo, Vec<u8>) {
        let mut reader = png::Decoder::new(std::io::Cursor::new(png))
            .read_info()
            .unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        buf.truncate(info.buffer_size());
        (info, buf)
    }

    fn png_of(value: summary::Value) -> summary::Image {
        match value.value {
            Some(summary::value::Value::Image(i)) => i,
            other => panic!("not an image: {other:?}"),
        }
    }

    #[test]
    fn chw_floats_become_hwc_bytes_clamped_and_truncated() {
        // 2 channels is refused; 3 channels of 1x2: R plane, G plane, B plane.
        let planes = [0.0, 1.0, 0.5, 2.0, f32::NAN, -1.0];
        let img = png_of(image("x", &Image::chw(&planes[..], 3, 1, 2)).unwrap());
        assert_eq!((img.height, img.width, img.colorspace), (1, 2, 3));
        let (info, bytes) = decode(&img.encoded_image_string);
        assert_eq!(info.color_type, png::ColorType::Rgb);
        // Pixel 0: R 0, G 0.5 -> 127, B NaN -> 0; pixel 1: 255, 255 (2.0 clamped), 0.
        assert_eq!(bytes, [0, 127, 0, 255, 255, 0]);
    }

    #[test]
    fn a_batch_is_tiled_row_by_row() {
        // Nine 1x1 gray images 0..9: a grid of 8 columns and 2 rows.
        let batch: Vec<u8> = (0..9).collect();
        let img = png_of(image("b", &Image::nhwc(&batch, 9, 1, 1, 1)).unwrap());
        assert_eq!((img.height, img.width, img.colorspace), (2, 8, 1));
        let (_, bytes) = decode(&img.encoded_image_string);
        assert_eq!(bytes, [0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn rgba_round_trips() {
        let px = [1u8, 2, 3, 4, 5, 6, 7, 8];
        let img = png_of(image("a", &Image::hwc(&px[..], 2, 1, 4)).unwrap());
        let (info, bytes) = decode(&img.encoded_image_string);
        assert_eq!(info.color_type, png::ColorType::Rgba);
        assert_eq!(bytes, px);
    }

    #[test]
    fn bad_shapes_are_errors_naming_the_argument() {
        let px = [0u8; 12];
        let cases = [
            (Image::hwc(&px[..], 2, 2, 2), "channels"),
            (Image::hwc(&px[..], 0, 4, 3), "image"),
            (Image::nhwc(&px[..], 0, 2, 2, 3), "image"),
            (Image::hwc(&px[..], 2, 3, 3), "pixels"),
            (Image::hwc(&px[..], usize::MAX, 2, 3), "pixels"),
        ];
        for (img, argument) in cases {
            let err = image("t", &img).unwrap_err();
            assert!(
                matches!(&err, SummaryError::InvalidArgument { argument: a, .. } if *a == argument),
                "{err}"
            );
            assert!(err.to_string().starts_with("tag \"t\""), "{err}");
        }
        assert!(matches!(
            image("", &Image::hwc(&px[..], 2, 2, 3)),
            Err(SummaryError::InvalidTag { .. })
        ));
    }
}
