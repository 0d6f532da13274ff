//! The Projector's files: an embedding matrix as `tensors.tsv`, one label
//! per row as `metadata.tsv`, optional label images as `sprite.png`, and
//! an `embeddings { ... }` entry in the run's `projector_config.pbtxt` that
//! points at them. The Projector reads these files, not event records.
//!
//! [`write_embedding`] lays them out as tensorboardX does: under
//! `<run>/<step, 5 digits>/<tag>/`, the tensor named `<tag>:<step>`.
//!
//! ```
//! use gradscope_tensorboard::projector::{tensors_tsv, metadata_tsv};
//!
//! assert_eq!(tensors_tsv(&[[1.0, 2.5], [-0.5, 0.0]]), "1\t2.5\n-0.5\t0\n");
//! assert_eq!(metadata_tsv(&["cat", "tab\there"]), "cat\ntab here\n");
//! ```

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{check_tag, SummaryError};
use crate::image::{encode_png, Image};
use crate::storage;

/// The Projector's configuration file, in the run's folder.
pub const CONFIG_FILE: &str = "projector_config.pbtxt";

/// One row per line, values separated by tabs.
pub fn tensors_tsv<R: AsRef<[f32]>>(matrix: &[R]) -> String {
    let mut out = String::new();
    for row in matrix {
        for (i, x) in row.as_ref().iter().enumerate() {
            if i > 0 {
                out.push('\t');
            }
            let _ = write!(out, "{x}");
        }
        out.push('\n');
    }
    out
}

/// One label per line (a single column, no header); tabs and line breaks
/// inside a label become spaces.
pub fn metadata_tsv<S: AsRef<str>>(labels: &[S]) -> String {
    let mut out = String::new();
    for label in labels {
        out.extend(label.as_ref().chars().map(|c| {
            if matches!(c, '\t' | '\n' | '\r') {
                ' '
            } else {
                c
            }
        }));
        out.push('\n');
    }
    out
}

/// The label images in one square grid (`ceil(sqrt(n))` a side, row by
/// row), as a PNG: the Projector cuts it back into one image per point.
/// Returns the PNG and one image's (width, height).
pub fn sprite(tag: &str, images: &Image<'_>) -> Result<(Vec<u8>, [usize; 2]), SummaryError> {
    images.check(tag)?;
    let side = (1..).find(|s: &usize| s * s >= images.count()).unwrap_or(1);
    // `side` columns (never more than the images), then padded to `side` rows.
    let (mut pixels, _, width) = images.grid(side);
    let channels = images.channels;
    let height = side * images.height;
    pixels.resize(height * width * channels, 0);
    Ok((
        encode_png(&pixels, height, width, channels),
        [images.width, images.height],
    ))
}

/// The folder name a tag gets: characters other than letters, digits,
/// `-`, `_` and `.` become `_`, and so do the dots of a name of dots only
/// (`.` and `..` name no new folder).
///
/// ```
/// use gradscope_tensorboard::projector::folder_name;
/// assert_eq!(folder_name("layer 1/weights.v2"), "layer_1_weights.v2");
/// assert_eq!(folder_name(".."), "__");
/// ```
pub fn folder_name(tag: &str) -> String {
    if tag.chars().all(|c| c == '.') {
        return "_".repeat(tag.len());
    }
    tag.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Writes an embedding of `matrix` (one row per point) with optional
/// `metadata` (one label per row; empty for none) and `label_images` (one
/// per row) into `run_dir`, and appends its entry to the run's
/// [`CONFIG_FILE`]. Returns the folder holding the files.
///
/// ```
/// use gradscope_tensorboard::projector::write_embedding;
///
/// let run = tempfile::tempdir()?;
/// let points = [[0.0f32, 1.0, 2.0], [1.0, 0.0, 2.0]];
/// let dir = write_embedding(run.path(), "words", &points, &["a", "b"], None, 0)?;
/// assert!(dir.join("tensors.tsv").exists() && dir.join("metadata.tsv").exists());
/// let config = std::fs::read_to_string(run.path().join("projector_config.pbtxt"))?;
/// assert!(config.contains("tensor_name: \"words:00000\""));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_embedding<R: AsRef<[f32]>>(
    run_dir: &Path,
    tag: &str,
    matrix: &[R],
    metadata: &[&str],
    label_images: Option<&Image<'_>>,
    step: i64,
) -> Result<PathBuf, SummaryError> {
    check_tag(tag)?;
    let dim = matrix.first().map_or(0, |r| r.as_ref().len());
    if matrix.is_empty() || dim == 0 {
        return Err(SummaryError::invalid(
            tag,
            "matrix",
            format!(
                "at least one row of at least one value, got {} rows of {dim}",
                matrix.len()
            ),
        ));
    }
    if let Some(i) = matrix.iter().position(|r| r.as_ref().len() != dim) {
        return Err(SummaryError::invalid(
            tag,
            "matrix",
            format!(
                "rows of one length ({dim}), got {} in row {i}",
                matrix[i].as_ref().len()
            ),
        ));
    }
    if !metadata.is_empty() && metadata.len() != matrix.len() {
        return Err(SummaryError::invalid(
            tag,
            "metadata",
            format!(
                "one label per row ({}) or none, got {}",
                matrix.len(),
                metadata.len()
            ),
        ));
    }
    let sprite = match label_images {
        Some(images) if images.count() != matrix.len() => {
            return Err(SummaryError::invalid(
                tag,
                "label_images",
                format!(
                    "one image per row ({}), got {}",
                    matrix.len(),
                    images.count()
                ),
            ))
        }
        Some(images) => Some(sprite(tag, images)?),
        None => None,
    };
    if step < 0 {
        return Err(SummaryError::invalid(
            tag,
            "step",
            format!("a step of 0 or more, got {step}"),
        ));
    }
    let relative = format!("{step:05}/{}", folder_name(tag));
    let dir = run_dir.join(&relative);
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SummaryError::Io { path, source }
    };
    let tensors = dir.join("tensors.tsv");
    if storage::is_file(&tensors).map_err(io(&tensors))? {
        return Err(SummaryError::invalid(
            tag,
            "step",
            format!(
                "a tag and step not used before, but {} exists",
                dir.display()
            ),
        ));
    }
    storage::create_dir_all(&dir).map_err(io(&dir))?;
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        storage::write(&path, bytes).map_err(io(&path))
    };
    write("tensors.tsv", tensors_tsv(matrix).as_bytes())?;
    let mut entry = format!(
        "embeddings {{\n  tensor_name: \"{}:{step:05}\"\n  tensor_path: \"{relative}/tensors.tsv\"\n",
        escape_pbtxt(tag)
    );
    if !metadata.is_empty() {
        write("metadata.tsv", metadata_tsv(metadata).as_bytes())?;
        let _ = writeln!(entry, "  metadata_path: \"{relative}/metadata.tsv\"");
    }
    if let Some((png, [w, h])) = sprite {
        write("sprite.png", &png)?;
        let _ = write!(
            entry,
            "  sprite {{\n    image_path: \"{relative}/sprite.png\"\n    single_image_dim: {w}\n    single_image_dim: {h}\n  }}\n"
        );
    }
    entry.push_str("}\n");
    let config = run_dir.join(CONFIG_FILE);
    storage::append(&config, entry.as_bytes()).map_err(io(&config))?;
    Ok(dir)
}

/// `text` as a protobuf text-format string body.
fn escape_pbtxt(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sprite_is_a_square_grid_with_the_cell_size() {
        // Five 2x3 (h x w) gray images: a 3x3 grid of 6x9 pixels.
        let px = vec![200u8; 5 * 2 * 3];
        let (png, dims) = sprite("s", &Image::nhwc(&px, 5, 2, 3, 1)).unwrap();
        assert_eq!(dims, [3, 2]);
        let reader = png::Decoder::new(std::io::Cursor::new(png))
            .read_info()
            .unwrap();
        assert_eq!((reader.info().width, reader.info().height), (9, 6));
    }

    #[test]
    fn config_entries_accumulate_and_bad_input_is_refused() {
        let run = tempfile::tempdir().unwrap();
        let m = [[1.0f32, 2.0], [3.0, 4.0]];
        let px = vec![0.5f32; 2 * 3 * 4 * 4];
        let images = Image::nchw(&px, 2, 3, 4, 4);
        write_embedding(run.path(), "a/b", &m, &["x", "y"], Some(&images), 3).unwrap();
        write_embedding(run.path(), "c", &m, &[], None, 3).unwrap();
        let config = std::fs::read_to_string(run.path().join(CONFIG_FILE)).unwrap();
        assert_eq!(config.matches("embeddings {").count(), 2);
        assert!(
            config.contains("tensor_path: \"00003/a_b/tensors.tsv\""),
            "{config}"
        );
        assert!(config.contains("single_image_dim: 4"), "{config}");
        assert!(run.path().join("00003/a_b/sprite.png").exists());
        // The same tag and step again, ragged rows, a label short.
        assert!(write_embedding(run.path(), "c", &m, &[], None, 3).is_err());
        let ragged: [&[f32]; 2] = [&[1.0, 2.0], &[1.0]];
        assert!(write_embedding(run.path(), "d", &ragged, &[], None, 0).is_err());
        assert!(write_embedding(run.path(), "d", &m, &["x"], None, 0).is_err());
        let empty: [[f32; 2]; 0] = [];
        assert!(write_embedding(run.path(), "d", &empty, &[], None, 0).is_err());
        let e = write_embedding(
            run.path(),
            "d",
            &m,
            &[],
            Some(&Image::nchw(&px, 1, 3, 4, 8)),
            0,
        )
        .unwrap_err();
        assert!(e.to_string().contains("`label_images`"), "{e}");
    }
}
