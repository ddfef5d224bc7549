//! A directory tree for the static-file tests, with secrets beside the
//! served root for the traversal tests to reach for.

use std::path::{Path, PathBuf};

pub const SIBLING_SECRET: &str = "TOP-SECRET-SIBLING";
pub const OUTSIDE_SECRET: &str = "TOP-SECRET-OUTSIDE";

/// A temporary tree: `public/` is served; `secret.txt` and `outside/`
/// sit beside it, and symlinks in `public/` lead out to them.
pub struct Tree {
    pub dir: tempfile::TempDir,
}

impl Tree {
    pub fn new() -> Tree {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        std::fs::write(base.join("secret.txt"), SIBLING_SECRET).unwrap();
        std::fs::create_dir(base.join("outside")).unwrap();
        std::fs::write(base.join("outside/passwd"), OUTSIDE_SECRET).unwrap();
        let public = base.join("public");
        std::fs::create_dir_all(public.join("sub")).unwrap();
        std::fs::create_dir_all(public.join("site")).unwrap();
        std::fs::write(public.join("hello.txt"), "hello, world\n").unwrap();
        std::fs::write(public.join("digits.txt"), "0123456789abcdefghij").unwrap();
        std::fs::write(public.join("page.html"), "<p>page</p>\n").unwrap();
        std::fs::write(public.join("site/index.html"), "<h1>site index</h1>\n").unwrap();
        std::fs::write(public.join("sub/a.txt"), "a\n").unwrap();
        std::fs::write(public.join("sub/<b> & c.txt"), "b\n").unwrap();
        let link = |target: &Path, name: &str| {
            std::os::unix::fs::symlink(target, public.join(name)).unwrap();
        };
        link(Path::new("../secret.txt"), "leak");
        link(Path::new("../outside"), "leakdir");
        link(&base.join("outside/passwd"), "absleak");
        link(Path::new("hello.txt"), "inner");
        // An index file that is itself a way out.
        std::fs::create_dir(public.join("trap")).unwrap();
        std::os::unix::fs::symlink("../../secret.txt", public.join("trap/index.html")).unwrap();
        Tree { dir }
    }

    pub fn public(&self) -> PathBuf {
        self.dir.path().join("public")
    }

    pub fn base(&self) -> &Path {
        self.dir.path()
    }
}
