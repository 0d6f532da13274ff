//! Where a logdir lives: a local folder, or a prefix in object storage named
//! by a URL (`s3://bucket/prefix`, `gs://…`, `az://…`).
//!
//! Every function here takes a `Path`, local or URL, and does the same thing
//! for both, so code that works on logdirs (the writers, [`Logdir`]
//! loading, an application's reports) needs no `if url` of its own. A URL
//! is a path whose text starts with `scheme://` ([`is_url`]); a `PathBuf`
//! keeps that text as it is through `join`, `parent` and `display`.
//!
//! Object storage needs the `object-store` feature. Without it every
//! function refuses a URL with an error naming it and saying to build with
//! `--features object-store`, rather than treating `s3://bucket/exp` as the
//! local folders `s3:/bucket/exp`.
//!
//! With the feature, the store comes from the URL's scheme (`s3`, `s3a`;
//! `gs`; `az`, `azure`, `abfs`, `abfss`) and its credentials, region and
//! endpoint from the standard environment variables (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`,
//! `AWS_ALLOW_HTTP`; `GOOGLE_SERVICE_ACCOUNT`, ...; `AZURE_STORAGE_ACCOUNT_NAME`,
//! ...), as the `object_store` crate's `from_env` builders read them.
//! Requests time out (5 s to connect, 30 s in all) and are retried with
//! exponential back-off for up to 30 s, so an unreachable endpoint is an
//! error, not a hang. Object storage has no folders: [`create_dir_all`]
//! checks that the prefix can be listed (the bucket exists, the credentials
//! are accepted; once per bucket and process), and a listing is of every
//! object under the prefix, at any depth, in one paged request.
//!
//! [`Logdir`]: crate::logdir::Logdir
//!
//! ```
//! use std::path::Path;
//! use gradscope_tensorboard::storage;
//!
//! let dir = tempfile::tempdir()?;
//! let run = dir.path().join("run");
//! storage::create_dir_all(&run)?;
//! storage::write(&run.join("notes.md"), b"# notes")?;
//! assert_eq!(storage::list_files(dir.path())?, [run.join("notes.md")]);
//! assert_eq!(storage::read(&run.join("notes.md"))?, b"# notes");
//!
//! assert!(storage::is_url(Path::new("s3://bucket/exp")));
//! assert!(!storage::is_url(Path::new("logs/s3:/bucket")));
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io;
use std::path::{Path, PathBuf};

#[cfg(feature = "object-store")]
mod object;
#[cfg(not(feature = "object-store"))]
mod refused;
#[cfg(not(feature = "object-store"))]
use refused as object;

pub(crate) use object::ObjectSeries;

/// An event file in object storage: a series of objects in the folder `dir`
/// (a URL), named after `stem` and `suffix`; nothing is written yet.
/// Returns the URL of its first object. `None` for a local `dir`.
pub(crate) fn object_series(
    dir: &Path,
    stem: &str,
    suffix: &str,
) -> Option<io::Result<(PathBuf, ObjectSeries)>> {
    url_of(dir).map(|url| ObjectSeries::create(url, stem, suffix))
}

/// Whether `other` is a later object of the series that an event file in
/// object storage is written as, whose first object is `first`: a run
/// recorded while it was written names the series by its first object.
pub(crate) fn is_later_part(first: &Path, other: &Path) -> bool {
    match (url_of(first), url_of(other)) {
        (Some(first), Some(other)) => object::is_later_part(first, other),
        _ => false,
    }
}

/// Whether `path` is a URL (`scheme://...`, the scheme a letter then
/// letters, digits, `+`, `-` or `.`) rather than a local path.
///
/// ```
/// use std::path::Path;
/// use gradscope_tensorboard::storage::is_url;
///
/// assert!(is_url(Path::new("s3://bucket/exp")));
/// assert!(is_url(Path::new("gs://bucket")));
/// assert!(!is_url(Path::new("/tmp/logs")));
/// assert!(!is_url(Path::new("C:/logs")));
/// ```
pub fn is_url(path: &Path) -> bool {
    url_of(path).is_some()
}

/// The URL text of `path`, if it is one.
fn url_of(path: &Path) -> Option<&str> {
    let text = path.to_str()?;
    let (scheme, _) = text.split_once("://")?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then_some(text)
}

/// Makes sure `dir` can hold files: a local folder is created with its
/// parents (an error if something else is in the way); for object storage,
/// where folders do not exist, the prefix is listed (at most one object),
/// which fails if the bucket does not exist, the credentials are refused or
/// the endpoint does not answer. A bucket that has answered this process
/// once is not asked again.
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    match url_of(dir) {
        Some(url) => object::check(url),
        None => local::create_dir_all(dir),
    }
}

/// Whether `dir` is a folder that files can go in: a local directory, or
/// any object-storage prefix (object storage has no folders to be missing;
/// see [`create_dir_all`] for a check that reaches the store).
pub fn is_dir(dir: &Path) -> bool {
    match url_of(dir) {
        Some(_) => true,
        None => dir.is_dir(),
    }
}

/// Whether something other than a folder is where the folder `dir` would
/// be: a local file (or link to one). Never for object storage, where an
/// object and a prefix of the same name live side by side.
pub fn is_in_the_way(dir: &Path) -> bool {
    match url_of(dir) {
        Some(_) => false,
        None => dir.exists() && !dir.is_dir(),
    }
}

/// Whether `path` is a file (an object).
pub fn is_file(path: &Path) -> io::Result<bool> {
    match url_of(path) {
        Some(url) => object::exists(url),
        None => Ok(path.is_file()),
    }
}

/// Every file under `dir`, at any depth, sorted: for object storage one
/// listing of the prefix (paged by the store, a request per 1,000
/// objects). Symlinked local folders are not followed (a cycle would never
/// end). A missing local folder is an error of kind `NotFound`; an object
/// prefix with nothing under it is no files.
pub fn list_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = match url_of(dir) {
        Some(url) => object::list(url)?,
        None => local::list_files(dir)?,
    };
    files.sort();
    Ok(files)
}

/// The whole file (object) at `path`.
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    match url_of(path) {
        Some(url) => object::read(url),
        None => std::fs::read(path),
    }
}

/// Writes `bytes` as the whole file at `path`, replacing any file there,
/// so that a reader sees the old file or the new one, never a part: a
/// local file is written beside it and renamed into place; an object is
/// one PUT, which object stores make visible only once complete. The
/// folder must exist (see [`create_dir_all`]).
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    match url_of(path) {
        Some(url) => object::write(url, bytes.to_vec()),
        None => local::write(path, bytes),
    }
}

/// Appends `bytes` to the file at `path`, creating it if needed. An object
/// cannot be appended to: it is read and written again whole, so of two
/// processes appending to one object at once, one's bytes may be lost (a
/// run's files have one writer).
pub fn append(path: &Path, bytes: &[u8]) -> io::Result<()> {
    match url_of(path) {
        Some(url) => {
            let mut whole = match object::read(url) {
                Ok(old) => old,
                Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
                Err(e) => return Err(e),
            };
            whole.extend_from_slice(bytes);
            object::write(url, whole)
        }
        None => {
            use std::io::Write;
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)?;
            file.write_all(bytes)
        }
    }
}

/// Removes the file (object) at `path`.
pub fn remove_file(path: &Path) -> io::Result<()> {
    match url_of(path) {
        Some(url) => object::remove(url),
        None => std::fs::remove_file(path),
    }
}

/// The local side: what `std::fs` does, with the conventions above.
mod local {
    use std::io;
    use std::path::{Path, PathBuf};

    pub(super) fn create_dir_all(dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }

    pub(super) fn list_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
        let mut files = Vec::new();
        walk(dir, &mut files)?;
        Ok(files)
    }

    fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                walk(&path, files)?;
            } else if path.is_file() {
                files.push(path);
            }
        }
        Ok(())
    }

    pub(super) fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
        let mut temp = std::ffi::OsString::from(".");
        temp.push(name);
        temp.push(format!(".{}.tmp", std::process::id()));
        let temp = path.with_file_name(temp);
        let written = std::fs::write(&temp, bytes).and_then(|()| std::fs::rename(&temp, path));
        if written.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_told_from_local_paths() {
        for url in [
            "s3://b/x",
            "gs://b",
            "az://c/p",
            "abfss://c@a.dfs.core.windows.net/p",
        ] {
            assert!(is_url(Path::new(url)), "{url}");
        }
        for local in [
            "logs",
            "/tmp/s3:/b",
            "s3:/b/x",
            "://x",
            "1s://x",
            "C:\\logs",
        ] {
            assert!(!is_url(Path::new(local)), "{local}");
        }
        // `join` and `display` keep the URL's text.
        let run = Path::new("s3://bucket/exp").join("relu/seed-1");
        assert_eq!(run.display().to_string(), "s3://bucket/exp/relu/seed-1");
        assert!(is_url(&run));
        assert_eq!(run.parent(), Some(Path::new("s3://bucket/exp/relu")));
    }

    #[cfg(not(feature = "object-store"))]
    #[test]
    fn without_the_feature_every_writer_and_reader_refuses_a_url_naming_it() {
        let url = Path::new("s3://bucket/exp/run");
        let refused = |err: String| {
            assert!(
                err.contains("s3://bucket/exp/run") && err.contains("--features object-store"),
                "{err}"
            );
        };
        refused(crate::EventWriter::create(url).err().unwrap().to_string());
        refused(crate::SummaryWriter::new(url).unwrap_err().to_string());
        refused(crate::logdir::Logdir::load(url).unwrap_err().to_string());
        refused(crate::read_events(url).unwrap_err().to_string());
        refused(write(&url.join("f"), b"x").unwrap_err().to_string());
        assert!(!Path::new("s3:").exists(), "a local folder was made");
    }

    #[test]
    fn local_files_are_listed_written_whole_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        create_dir_all(&nested).unwrap();
        assert!(is_dir(&nested) && !is_in_the_way(&nested));
        write(&nested.join("f"), b"one").unwrap();
        write(&nested.join("f"), b"two").unwrap();
        write(&dir.path().join("g"), b"").unwrap();
        assert_eq!(
            list_files(dir.path()).unwrap(),
            [nested.join("f"), dir.path().join("g")]
        );
        assert_eq!(read(&nested.join("f")).unwrap(), b"two");
        assert!(is_file(&nested.join("f")).unwrap());
        assert!(is_in_the_way(&nested.join("f")));
        remove_file(&nested.join("f")).unwrap();
        assert!(!is_file(&nested.join("f")).unwrap());
        let missing = list_files(&dir.path().join("missing")).unwrap_err();
        assert_eq!(missing.kind(), io::ErrorKind::NotFound);
    }
}
