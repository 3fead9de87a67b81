//! The workspace `ws-bench` was built in: where `BENCHMARKS.md`, `Cargo.lock` and the
//! default target directory are.

use std::path::{Path, PathBuf};

/// The workspace root (the parent of this crate's manifest directory).
pub(crate) fn root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Where the report is written without `--output`: `BENCHMARKS.md` at the workspace root.
pub(crate) fn default_output() -> PathBuf {
    root().join("BENCHMARKS.md")
}
