//! [`LoadError`]: why a logdir could not be loaded.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Why [`Logdir::load`](super::Logdir::load) or
/// [`Logdir::load_dir`](super::Logdir::load_dir) found no runs to give.
///
/// Only the path itself is an error: an event file that cannot be read is
/// not one (it is kept in its run with a
/// [`FileStatus::Failed`](super::FileStatus::Failed), and the other files
/// still load). Each message names the path and what to give instead.
///
/// ```
/// use gradscope_tensorboard::logdir::{LoadError, Logdir};
///
/// let empty = tempfile::tempdir()?;
/// let err = Logdir::load_dir(empty.path()).unwrap_err();
/// assert!(matches!(err, LoadError::NoEventFiles { .. }));
/// assert!(err.to_string().contains("no event files found"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum LoadError {
    /// Nothing exists at the path.
    NotFound {
        /// The path as given.
        path: PathBuf,
    },
    /// A directory was needed ([`Logdir::load_dir`](super::Logdir::load_dir))
    /// and the path is something else, such as one event file.
    NotADirectory {
        /// The path as given.
        path: PathBuf,
    },
    /// The directory holds no event file, at any depth.
    NoEventFiles {
        /// The directory.
        path: PathBuf,
    },
    /// The path, or a directory under it, could not be read or listed
    /// (no permission, an I/O error, ...).
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
}

impl LoadError {
    /// The path the error is about.
    pub fn path(&self) -> &Path {
        match self {
            LoadError::NotFound { path }
            | LoadError::NotADirectory { path }
            | LoadError::NoEventFiles { path }
            | LoadError::Io { path, .. } => path,
        }
    }

    /// `source` about `path`, with a missing path told apart: a directory
    /// can vanish between listing its parent and reading it.
    pub(crate) fn io(path: &Path, source: io::Error) -> LoadError {
        let path = path.to_path_buf();
        match source.kind() {
            io::ErrorKind::NotFound => LoadError::NotFound { path },
            _ => LoadError::Io { path, source },
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::NotFound { path } => write!(
                f,
                "{}: no such directory or file: check the path (a logdir is the folder \
                 given to the writer)",
                path.display()
            ),
            LoadError::NotADirectory { path } => {
                write!(f, "{} is not a directory: give a logdir", path.display())
            }
            LoadError::NoEventFiles { path } => write!(
                f,
                "{}: no event files found (TensorBoard's event files have `tfevents` in their \
                 name): give the folder the runs were written to",
                path.display()
            ),
            LoadError::Io { path, source } => {
                write!(f, "{}: cannot read it: {source}", path.display())
            }
        }
    }
}

impl std::error::Error for LoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LoadError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
