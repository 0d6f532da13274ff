//! What the tests share: the Python that runs TensorBoard.

use std::path::{Path, PathBuf};

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
