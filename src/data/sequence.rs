//! Images read as sequences, for the recurrent networks.
//!
//! - [`Sequence::Rows`]: one step per pixel row (MNIST: 28 steps of 28
//!   values).
//! - [`Sequence::Pixels14`]: the image halved by 2x2 averaging (MNIST:
//!   14x14), then one pixel per step in row-major order (196 steps of 1).
//! - [`Sequence::Pixels`]: every pixel, one per step (784 steps of 1).
//!
//! Pixels are scaled to `[0, 1]` as for the MLP ([`super::extend_scaled`]);
//! an averaged pixel is the mean of its four scaled pixels.

use std::fmt;

use crate::data::Split;

/// How an image becomes a sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Sequence {
    Rows,
    Pixels14,
    Pixels,
}

/// Images whose size the sequence cannot read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceError {
    pub sequence: Sequence,
    pub rows: usize,
    pub cols: usize,
}

impl fmt::Display for SequenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let SequenceError {
            sequence,
            rows,
            cols,
        } = self;
        write!(
            f,
            "{sequence} averages 2x2 blocks of pixels, so it needs images with an even number \
             of rows and columns; these are {rows}x{cols} (rows or pixels read them as they are)"
        )
    }
}

impl std::error::Error for SequenceError {}

impl Sequence {
    pub fn name(self) -> &'static str {
        match self {
            Sequence::Rows => "rows",
            Sequence::Pixels14 => "pixels14",
            Sequence::Pixels => "pixels",
        }
    }

    /// `(steps, values per step)` for images of `rows × cols`.
    pub fn steps(self, rows: usize, cols: usize) -> Result<(usize, usize), SequenceError> {
        match self {
            Sequence::Rows => Ok((rows, cols)),
            Sequence::Pixels => Ok((rows * cols, 1)),
            Sequence::Pixels14 if rows.is_multiple_of(2) && cols.is_multiple_of(2) => {
                Ok((rows * cols / 4, 1))
            }
            Sequence::Pixels14 => Err(SequenceError {
                sequence: self,
                rows,
                cols,
            }),
        }
    }

    /// Appends image `i` of `split` to `out` as `steps × values` f32, step
    /// by step. The size must be one [`Sequence::steps`] accepts.
    pub fn extend(self, out: &mut Vec<f32>, split: &Split, i: usize) {
        let image = split.image(i);
        match self {
            Sequence::Rows | Sequence::Pixels => super::extend_scaled(out, image),
            Sequence::Pixels14 => {
                let cols = split.cols;
                for r in (0..split.rows).step_by(2) {
                    for c in (0..cols).step_by(2) {
                        let at = |r: usize, c: usize| f32::from(image[r * cols + c]) / 255.0;
                        let sum = at(r, c) + at(r, c + 1) + at(r + 1, c) + at(r + 1, c + 1);
                        out.push(sum / 4.0);
                    }
                }
            }
        }
    }

    /// The sequences of images `indices` of `split` into `out` (cleared
    /// first), `(indices.len(), steps, values)` row-major.
    pub fn batch(
        self,
        split: &Split,
        indices: impl IntoIterator<Item = usize>,
        out: &mut Vec<f32>,
    ) {
        out.clear();
        for i in indices {
            self.extend(out, split, i);
        }
    }
}

impl fmt::Display for Sequence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Formerly a doctest: the module is private.
    #[test]
    fn sequence_steps() {
        use crate::data::Sequence;
        assert_eq!(Sequence::Rows.steps(28, 28), Ok((28, 28)));
        assert_eq!(Sequence::Pixels14.steps(28, 28), Ok((196, 1)));
        assert_eq!(Sequence::Pixels.steps(28, 28), Ok((784, 1)));
        assert!(Sequence::Pixels14.steps(27, 28).is_err());
    }

    #[test]
    fn pixels14_averages_2x2_blocks_in_row_major_order() {
        let split = Split {
            pixels: vec![0, 255, 51, 51, 255, 255, 51, 51],
            labels: vec![1],
            rows: 2,
            cols: 4,
        };
        let mut out = Vec::new();
        Sequence::Pixels14.batch(&split, [0], &mut out);
        assert_eq!(out, vec![0.75, 0.2]);
        Sequence::Rows.batch(&split, [0], &mut out);
        assert_eq!(out.len(), 8);
        assert_eq!(out[1], 1.0);
        let err = Sequence::Pixels14.steps(3, 4).unwrap_err().to_string();
        assert!(err.contains("3x4") && err.contains("even"), "{err}");
    }
}
