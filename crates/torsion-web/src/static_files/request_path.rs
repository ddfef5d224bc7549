//! A request path made safe to join to the served directory.
//!
//! The path is split on `/` *before* percent-decoding, so an encoded slash
//! (`%2f`) can never start a new segment; then every decoded segment must be
//! valid UTF-8 (which rules out overlong encodings such as `%c0%ae`) and a
//! single ordinary file name: no `..`, no `/`, `\` or NUL inside, nothing the
//! platform would read as a root or a prefix. What passes is still checked
//! against the root once symlinks are resolved (see `plan`).

use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Characters left as they are when a segment is written back into a URL.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes one path segment (a file name) for a URL.
pub(crate) fn encode_segment(name: &str) -> String {
    utf8_percent_encode(name, SEGMENT).to_string()
}

/// Why a request path cannot name a file under the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejected {
    /// Not an absolute path (`*`, or a relative reference).
    NotAbsolute,
    /// A segment is not valid UTF-8 once decoded.
    BadEncoding,
    /// A segment is `..`, or holds a slash, a backslash or a NUL.
    Traversal,
}

/// The decoded segments of a request path, each one an ordinary file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestPath {
    segments: Vec<String>,
    trailing_slash: bool,
}

impl RequestPath {
    /// Checks a raw (still percent-encoded) URL path.
    pub(crate) fn parse(raw: &str) -> Result<RequestPath, Rejected> {
        let Some(rest) = raw.strip_prefix('/') else {
            return Err(Rejected::NotAbsolute);
        };
        let mut segments = Vec::new();
        for piece in rest.split('/') {
            let decoded = percent_decode_str(piece)
                .decode_utf8()
                .map_err(|_| Rejected::BadEncoding)?;
            match &*decoded {
                "" | "." => continue,
                ".." => return Err(Rejected::Traversal),
                name if name.contains(['/', '\\', '\0']) || !is_plain_name(name) => {
                    return Err(Rejected::Traversal);
                }
                name => segments.push(name.to_owned()),
            }
        }
        Ok(RequestPath {
            segments,
            trailing_slash: raw.ends_with('/'),
        })
    }

    /// The path below `root` this request names.
    pub(crate) fn under(&self, root: &Path) -> PathBuf {
        let mut path = root.to_path_buf();
        path.extend(&self.segments);
        path
    }

    /// True when the URL ended with `/` (a directory's URL).
    pub(crate) fn has_trailing_slash(&self) -> bool {
        self.trailing_slash
    }

    /// True for the root itself.
    pub(crate) fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// The canonical URL path of this directory: its segments re-encoded,
    /// ending with `/`. Built from the checked segments, never from the raw
    /// request, so a redirect cannot point anywhere but this site.
    pub(crate) fn directory_url(&self) -> String {
        let mut url = String::from("/");
        for segment in &self.segments {
            let _ = write!(url, "{}/", encode_segment(segment));
        }
        url
    }

    /// The decoded path, for display (`/docs/a b/`).
    pub(crate) fn display(&self) -> String {
        let mut shown = String::from("/");
        for segment in &self.segments {
            shown.push_str(segment);
            shown.push('/');
        }
        if !self.trailing_slash && !self.segments.is_empty() {
            shown.pop();
        }
        shown
    }
}

/// True when the platform reads `name` as exactly one ordinary component
/// (not a root, a prefix, `.` or `..`).
fn is_plain_name(name: &str) -> bool {
    let mut components = Path::new(name).components();
    matches!(
        (components.next(), components.next()),
        (Some(Component::Normal(_)), None)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(raw: &str) -> Vec<String> {
        RequestPath::parse(raw).unwrap().segments
    }

    #[test]
    fn ordinary_paths_decode_into_segments() {
        assert_eq!(segments("/"), Vec::<String>::new());
        assert_eq!(segments("/a/b.txt"), ["a", "b.txt"]);
        assert_eq!(segments("/a%20b/%C3%A9t%C3%A9"), ["a b", "été"]);
        assert_eq!(segments("//a/./b/"), ["a", "b"]);
        assert_eq!(segments("/%252e%252e"), ["%2e%2e"], "decoded once only");
        assert_eq!(segments("/...."), ["...."]);
    }

    #[test]
    fn traversal_and_smuggled_separators_are_rejected() {
        for raw in [
            "/..",
            "/a/../b",
            "/%2e%2e/x",
            "/%2E%2E%2Fx",
            "/.%2e/x",
            "/a%2fb",
            "/a%5cb",
            "/a\\b",
            "/..\\x",
            "/a%00b",
            "/%2f%2fetc",
        ] {
            assert_eq!(
                RequestPath::parse(raw),
                Err(Rejected::Traversal),
                "{raw} must be rejected"
            );
        }
    }

    #[test]
    fn invalid_utf8_and_overlong_dots_are_rejected() {
        for raw in ["/%c0%ae%c0%ae/x", "/%e0%80%ae", "/%ff", "/%c0%af"] {
            assert_eq!(RequestPath::parse(raw), Err(Rejected::BadEncoding), "{raw}");
        }
    }

    #[test]
    fn only_absolute_paths_are_accepted() {
        assert_eq!(RequestPath::parse("*"), Err(Rejected::NotAbsolute));
        assert_eq!(RequestPath::parse("a/b"), Err(Rejected::NotAbsolute));
    }

    #[test]
    fn a_directory_url_is_rebuilt_from_the_checked_segments() {
        let path = RequestPath::parse("//evil.example/a%20b").unwrap();
        assert_eq!(path.directory_url(), "/evil.example/a%20b/");
        assert!(!path.has_trailing_slash());
        assert_eq!(path.display(), "/evil.example/a b");
        assert_eq!(RequestPath::parse("/").unwrap().directory_url(), "/");
    }
}
