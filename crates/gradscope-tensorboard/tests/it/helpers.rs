//! What the tests share: the Python that runs TensorBoard, and running it.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Python with TensorBoard: `GRADSCOPE_PYTHON`, else the repository's
/// `.venv` (`scripts/setup-venv.sh`); `None`, saying so, where neither is.
pub fn tensorboard_python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("GRADSCOPE_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    if venv.exists() {
        return Some(venv);
    }
    eprintln!("SKIPPED: no TensorBoard venv; run scripts/setup-venv.sh or set GRADSCOPE_PYTHON");
    None
}

/// Runs `python` with `args` and returns what it printed; a failure to
/// start it or a non-zero exit fails the test with its output.
pub fn run_python<I>(python: &Path, args: I) -> Vec<u8>
where
    I: IntoIterator,
    I::Item: AsRef<OsStr>,
{
    let out = Command::new(python)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", python.display()));
    assert!(
        out.status.success(),
        "{} failed:\n{}{}",
        python.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
