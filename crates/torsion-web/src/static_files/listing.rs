//! The HTML page listing a directory (twisted.web's `DirectoryLister`):
//! names escaped for HTML and percent-encoded in links.

use std::fmt::Write as _;
use std::io;
use std::path::Path;

use super::request_path::{RequestPath, encode_segment};

/// At most this many entries are listed; a note says when more were left out.
const MAX_ENTRIES: usize = 10_000;

struct Entry {
    name: String,
    is_dir: bool,
    size: Option<u64>,
}

/// The listing page of `directory`, shown at `url`; names starting with a
/// dot are left out unless `hidden_files`.
pub(crate) fn render(
    directory: &Path,
    url: &RequestPath,
    hidden_files: bool,
) -> io::Result<String> {
    let mut entries = Vec::new();
    let mut left_out = 0usize;
    for entry in std::fs::read_dir(directory)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !hidden_files && name.starts_with('.') {
            continue;
        }
        if entries.len() == MAX_ENTRIES {
            left_out += 1;
            continue;
        }
        // Follow symlinks for the kind and size, as a click would.
        let metadata = std::fs::metadata(entry.path()).ok();
        entries.push(Entry {
            name,
            is_dir: metadata.as_ref().is_some_and(|m| m.is_dir()),
            size: metadata.filter(|m| m.is_file()).map(|m| m.len()),
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));

    let title = escape(&format!("Directory listing for {}", url.display()));
    let mut page = String::with_capacity(256 + entries.len() * 96);
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n\
         </head>\n<body>\n<h1>{title}</h1>\n<table>\n\
         <tr><th>Name</th><th>Size</th></tr>\n"
    );
    if !url.is_root() {
        page.push_str("<tr><td><a href=\"../\">../</a></td><td></td></tr>\n");
    }
    for entry in &entries {
        let slash = if entry.is_dir { "/" } else { "" };
        let size = entry.size.map(human_size).unwrap_or_default();
        let _ = writeln!(
            page,
            "<tr><td><a href=\"./{}{slash}\">{}{slash}</a></td><td>{size}</td></tr>",
            escape(&encode_segment(&entry.name)),
            escape(&entry.name),
        );
    }
    page.push_str("</table>\n");
    if left_out > 0 {
        let _ = writeln!(page, "<p>{left_out} more entries not shown.</p>");
    }
    page.push_str("</body>\n</html>\n");
    Ok(page)
}

/// Escapes text for HTML content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut size = bytes as f64 / 1024.0;
    let mut unit = 0;
    while size >= 1024.0 && unit < UNITS.len() - 1 {
        size /= 1024.0;
        unit += 1;
    }
    format!("{size:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_names_are_listed_only_when_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".env"), "SECRET=1").unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join("shown.txt"), "hi").unwrap();
        let url = RequestPath::parse("/").unwrap();
        let page = render(dir.path(), &url, false).unwrap();
        assert!(page.contains("shown.txt"), "{page}");
        assert!(!page.contains(".env") && !page.contains(".git"), "{page}");
        let page = render(dir.path(), &url, true).unwrap();
        assert!(
            page.contains("./.env\"") && page.contains("./.git/\""),
            "{page}"
        );
    }

    #[test]
    fn names_are_escaped_in_text_and_encoded_in_links() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("<script>&\"x\".txt"), "hi").unwrap();
        std::fs::create_dir(dir.path().join("sub dir")).unwrap();
        let page = render(dir.path(), &RequestPath::parse("/a/").unwrap(), false).unwrap();
        assert!(!page.contains("<script>"), "{page}");
        assert!(
            page.contains("&lt;script&gt;&amp;&quot;x&quot;.txt"),
            "{page}"
        );
        assert!(
            page.contains("href=\"./%3Cscript%3E%26%22x%22.txt\""),
            "{page}"
        );
        assert!(
            page.contains("href=\"./sub%20dir/\">sub dir/</a>"),
            "{page}"
        );
        assert!(page.contains("<td>2 B</td>"), "{page}");
        assert!(
            page.contains("href=\"../\""),
            "a parent link below the root"
        );
    }

    #[test]
    fn sizes_read_like_a_person_would_write_them() {
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(64 << 20), "64.0 MiB");
    }
}
