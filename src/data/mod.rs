//! MNIST-style data sets: the four IDX files of a directory, validated and
//! kept as bytes; batches become `f32` in `[0, 1]` only when drawn.
//!
//! - [`idx`]: the IDX file format.
//! - [`batches`]: seeded, epoch-shuffled batches.
//! - [`sequence`]: images read as sequences, for the recurrent networks.

pub mod batches;
pub mod idx;
pub mod sequence;

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use multiversion::multiversion;

pub use batches::{Batcher, BatcherPosition};
pub use sequence::{Sequence, SequenceError};

/// Images and their labels, in file order.
#[derive(Debug, Clone)]
pub struct Split {
    /// `len × rows × cols` pixels, row-major.
    pub pixels: Vec<u8>,
    pub labels: Vec<u8>,
    pub rows: usize,
    pub cols: usize,
}

impl Split {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels per image: the network's input width.
    pub fn image_size(&self) -> usize {
        self.rows * self.cols
    }

    /// The pixels of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.image_size();
        &self.pixels[i * n..(i + 1) * n]
    }
}

/// A training and a test split from one directory.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub dir: PathBuf,
    pub train: Split,
    pub test: Split,
}

/// Appends `pixels` to `out` as network input: bytes scaled to `[0, 1]`.
/// Data stays `u8` in memory; this is the one place it becomes `f32`.
/// Compiled also for AVX-512 and AVX2 and picked at run time: a batch is
/// 23,520 divisions every step, twice as fast with AVX2's wider lanes (the
/// same divisions, so the same values).
#[multiversion(targets = "simd")]
pub fn extend_scaled(out: &mut Vec<f32>, pixels: &[u8]) {
    out.extend(pixels.iter().map(|&p| f32::from(p) / 255.0));
}

/// The number of classes: labels are digits (or Fashion-MNIST's ten kinds).
pub const CLASSES: usize = 10;

/// The data sets gradscope knows by name; each has its folder under `data/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DatasetName {
    Mnist,
    FashionMnist,
}

impl DatasetName {
    pub const ALL: [DatasetName; 2] = [DatasetName::Mnist, DatasetName::FashionMnist];

    /// The folder name, and the name a run records.
    pub fn dir_name(self) -> &'static str {
        match self {
            DatasetName::Mnist => "mnist",
            DatasetName::FashionMnist => "fashion-mnist",
        }
    }
}

const TRAIN: (&str, &str) = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte");
const TEST: (&str, &str) = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte");

impl Dataset {
    /// Loads the four standard MNIST files from `dir`, each raw or `.gz`.
    pub fn load(dir: &Path) -> Result<Dataset> {
        if !dir.is_dir() {
            bail!(
                "data directory {} does not exist; fetch MNIST into it with `scripts/fetch-data.sh` \
                 or load a folder that holds the four IDX files",
                dir.display()
            );
        }
        let train = load_split(dir, TRAIN)?;
        let test = load_split(dir, TEST)?;
        if (train.rows, train.cols) != (test.rows, test.cols) {
            bail!(
                "{}: training images are {}x{} but test images are {}x{}",
                dir.display(),
                train.rows,
                train.cols,
                test.rows,
                test.cols
            );
        }
        Ok(Dataset {
            dir: dir.to_path_buf(),
            train,
            test,
        })
    }
}

/// `dir/name`, or `dir/name.gz` where only that exists.
fn find(dir: &Path, name: &str) -> Result<PathBuf> {
    let raw = dir.join(name);
    let gz = dir.join(format!("{name}.gz"));
    if raw.is_file() {
        Ok(raw)
    } else if gz.is_file() {
        Ok(gz)
    } else {
        bail!(
            "{}: missing {name} (or {name}.gz); fetch the data with `scripts/fetch-data.sh`",
            dir.display()
        )
    }
}

fn load_split(dir: &Path, (images_name, labels_name): (&str, &str)) -> Result<Split> {
    let images_path = find(dir, images_name)?;
    let labels_path = find(dir, labels_name)?;
    let images = idx::read(&images_path, idx::IMAGES_MAGIC)?;
    let labels = idx::read(&labels_path, idx::LABELS_MAGIC)?;
    let (count, rows, cols) = (images.dims[0], images.dims[1], images.dims[2]);
    if count != labels.dims[0] {
        bail!(
            "{} holds {count} images but {} holds {} labels; they must agree",
            images_path.display(),
            labels_path.display(),
            labels.dims[0]
        );
    }
    if count == 0 || rows == 0 || cols == 0 {
        bail!(
            "{}: no images (dimensions {count}x{rows}x{cols})",
            images_path.display()
        );
    }
    if let Some(pos) = labels.data.iter().position(|&l| l as usize >= CLASSES) {
        bail!(
            "{}: label {} at index {pos} is outside 0-{}",
            labels_path.display(),
            labels.data[pos],
            CLASSES - 1
        );
    }
    Ok(Split {
        pixels: images.data,
        labels: labels.data,
        rows,
        cols,
    })
}

/// Writes a data set in IDX form: for tests and for making small data sets.
pub fn write_split(dir: &Path, test: bool, split: &Split) -> std::io::Result<()> {
    let (images_name, labels_name) = if test { TEST } else { TRAIN };
    std::fs::create_dir_all(dir)?;
    std::fs::write(
        dir.join(images_name),
        idx::encode(
            idx::IMAGES_MAGIC,
            &[split.len(), split.rows, split.cols],
            &split.pixels,
        ),
    )?;
    std::fs::write(
        dir.join(labels_name),
        idx::encode(idx::LABELS_MAGIC, &[split.len()], &split.labels),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(n: usize) -> Split {
        Split {
            pixels: (0..n * 4).map(|i| i as u8).collect(),
            labels: (0..n).map(|i| (i % 10) as u8).collect(),
            rows: 2,
            cols: 2,
        }
    }

    #[test]
    fn loads_what_write_split_wrote() {
        let dir = tempfile::tempdir().unwrap();
        write_split(dir.path(), false, &split(5)).unwrap();
        write_split(dir.path(), true, &split(3)).unwrap();
        let data = Dataset::load(dir.path()).unwrap();
        assert_eq!((data.train.len(), data.test.len()), (5, 3));
        assert_eq!(data.train.image(1), &[4, 5, 6, 7]);
    }

    #[test]
    fn missing_dir_and_file_are_explained() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let err = Dataset::load(&missing).unwrap_err().to_string();
        assert!(
            err.contains("nope") && err.contains("fetch-data.sh"),
            "{err}"
        );
        write_split(dir.path(), false, &split(5)).unwrap();
        let err = format!("{:#}", Dataset::load(dir.path()).unwrap_err());
        assert!(err.contains("t10k-images-idx3-ubyte"), "{err}");
    }

    #[test]
    fn count_mismatch_and_bad_labels_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        write_split(dir.path(), false, &split(5)).unwrap();
        write_split(dir.path(), true, &split(3)).unwrap();
        std::fs::write(
            dir.path().join(TEST.1),
            idx::encode(idx::LABELS_MAGIC, &[2], &[1, 2]),
        )
        .unwrap();
        let err = format!("{:#}", Dataset::load(dir.path()).unwrap_err());
        assert!(
            err.contains("3 images") && err.contains("2 labels"),
            "{err}"
        );
        std::fs::write(
            dir.path().join(TEST.1),
            idx::encode(idx::LABELS_MAGIC, &[3], &[1, 12, 2]),
        )
        .unwrap();
        let err = format!("{:#}", Dataset::load(dir.path()).unwrap_err());
        assert!(err.contains("label 12 at index 1"), "{err}");
    }
}
