//! Twisted, pinned in `tests/twisted-requirements.txt`, installed on first
//! use under the target directory by `torsion::testing`: the AMP peer of
//! the wire-compatibility tests and the Python process-pool worker.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The directory holding Twisted, for a Python child's `PYTHONPATH`.
pub fn twisted() -> &'static Path {
    static INSTALLED: OnceLock<PathBuf> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let target = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-twisted");
        torsion::testing::install_python_packages(
            &target,
            include_str!("../twisted-requirements.txt"),
        );
        target
    })
}
