//! [`SummaryError`]: why a summary could not be built or written, and
//! [`WriteError`]: why an event file could not be.
//!
//! A leaf module (it imports only [`GraphError`]'s module), so that the
//! writer and the builders can both return these without importing each
//! other.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::graph::GraphError;

/// Why a [`SummaryWriter`](crate::SummaryWriter) call or a summary builder
/// refused its input or could not write it. Bad input is reported here,
/// never by a panic; the message names the tag, the argument and what was
/// expected.
///
/// ```
/// use gradscope_tensorboard::SummaryWriter;
///
/// let dir = tempfile::tempdir()?;
/// let writer = SummaryWriter::new(dir.path())?;
/// let err = writer.add_scalar("", 1.0, 0).unwrap_err();
/// assert_eq!(err.to_string(), "tag \"\": expected a non-empty tag");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum SummaryError {
    /// The tag is empty or holds a control character.
    InvalidTag {
        /// The tag as given.
        tag: String,
        /// What a tag must be.
        expected: &'static str,
    },
    /// An argument does not fit (mismatched lengths, a zero-sized image, an
    /// unsupported channel count, ...).
    InvalidArgument {
        /// The tag of the call.
        tag: String,
        /// The argument's name.
        argument: &'static str,
        /// What was expected, and what came.
        expected: String,
    },
    /// The graph given to [`add_graph`](crate::SummaryWriter::add_graph)
    /// is not a valid graph.
    Graph(GraphError),
    /// The event file could not be created or written.
    Write(WriteError),
    /// A file beside the event file (the Projector's) could not be written.
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// The writer was closed; nothing more can be written with it.
    Closed,
}

impl SummaryError {
    pub(crate) fn invalid(
        tag: &str,
        argument: &'static str,
        expected: impl Into<String>,
    ) -> SummaryError {
        SummaryError::InvalidArgument {
            tag: tag.to_string(),
            argument,
            expected: expected.into(),
        }
    }
}

impl fmt::Display for SummaryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SummaryError::InvalidTag { tag, expected } => {
                write!(f, "tag {tag:?}: expected {expected}")
            }
            SummaryError::InvalidArgument {
                tag,
                argument,
                expected,
            } => write!(f, "tag {tag:?}: argument `{argument}`: expected {expected}"),
            SummaryError::Graph(e) => e.fmt(f),
            SummaryError::Write(e) => e.fmt(f),
            SummaryError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            SummaryError::Closed => f.write_str("summary writer: already closed"),
        }
    }
}

impl std::error::Error for SummaryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SummaryError::Graph(e) => Some(e),
            SummaryError::Write(e) => Some(e),
            SummaryError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<WriteError> for SummaryError {
    fn from(e: WriteError) -> SummaryError {
        SummaryError::Write(e)
    }
}

impl From<GraphError> for SummaryError {
    fn from(e: GraphError) -> SummaryError {
        SummaryError::Graph(e)
    }
}

/// Why an event file could not be created or written, naming the path.
#[derive(Debug)]
#[non_exhaustive]
pub enum WriteError {
    /// The log directory could not be created (a file in the way, no
    /// permission, ...).
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// The event file could not be created, written, flushed or synced.
    /// After one such failure the writer writes nothing more, so the file
    /// keeps whole records only.
    Io {
        /// The event file.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
}

impl WriteError {
    /// The directory or file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            WriteError::CreateDir { path, .. } | WriteError::Io { path, .. } => path,
        }
    }
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::CreateDir { path, source } => write!(
                f,
                "log directory {}: cannot create it: {source}",
                path.display()
            ),
            WriteError::Io { path, source } => {
                write!(f, "event file {}: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WriteError::CreateDir { source, .. } | WriteError::Io { source, .. } => Some(source),
        }
    }
}

/// Checks that `tag` is a tag TensorBoard can show: not empty, no control
/// characters (which no dashboard can display or filter by).
pub(crate) fn check_tag(tag: &str) -> Result<(), SummaryError> {
    if tag.is_empty() {
        return Err(SummaryError::InvalidTag {
            tag: String::new(),
            expected: "a non-empty tag",
        });
    }
    if tag.chars().any(char::is_control) {
        return Err(SummaryError::InvalidTag {
            tag: tag.to_string(),
            expected: "a tag without control characters",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_must_be_non_empty_and_printable() {
        assert!(check_tag("loss/train").is_ok());
        assert!(check_tag("ünïcode ✓").is_ok());
        let e = check_tag("").unwrap_err();
        assert_eq!(e.to_string(), "tag \"\": expected a non-empty tag");
        let e = check_tag("a\nb").unwrap_err();
        assert_eq!(
            e.to_string(),
            "tag \"a\\nb\": expected a tag without control characters"
        );
        let e = check_tag("a\0").unwrap_err();
        assert!(matches!(e, SummaryError::InvalidTag { .. }));
    }

    #[test]
    fn invalid_argument_names_tag_argument_and_expectation() {
        let e = SummaryError::invalid("img", "pixels", "12 values, got 10");
        assert_eq!(
            e.to_string(),
            "tag \"img\": argument `pixels`: expected 12 values, got 10"
        );
    }
}
