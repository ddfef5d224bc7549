//! [`Multipart`]: a `multipart/form-data` body (RFC 7578), what treq sends
//! for `files=` with `data=`: fields and files, each a part with its
//! `Content-Disposition`, behind a random boundary.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};

use bytes::{BufMut, Bytes, BytesMut};

/// A `multipart/form-data` form, sent with
/// [`RequestBuilder::multipart`](crate::client::RequestBuilder::multipart).
/// The whole form is held in memory, so it is sent again after a 307/308
/// redirect and has a `Content-Length`.
///
/// ```
/// use torsion_web::client::Multipart;
///
/// let form = Multipart::new()
///     .text("title", "holiday")
///     .file("photo", "beach.jpg", "image/jpeg", vec![0xff, 0xd8, 0xff]);
/// let (content_type, body) = form.encode();
/// assert!(content_type.starts_with("multipart/form-data; boundary="));
/// assert!(body.ends_with(b"--\r\n"));
/// ```
#[derive(Clone)]
pub struct Multipart {
    parts: Vec<Part>,
}

#[derive(Clone)]
struct Part {
    name: String,
    file_name: Option<String>,
    content_type: Option<String>,
    content: Bytes,
}

impl Multipart {
    /// An empty form.
    pub fn new() -> Multipart {
        Multipart { parts: Vec::new() }
    }

    /// Adds a field (treq's `data=`): a part with a name and no file name.
    pub fn text(self, name: &str, value: &str) -> Multipart {
        self.part(name, None, None, Bytes::copy_from_slice(value.as_bytes()))
    }

    /// Adds a file (treq's `files=`): a part with a name, a file name and
    /// a media type (`application/octet-stream` when unsure).
    pub fn file(
        self,
        name: &str,
        file_name: &str,
        content_type: &str,
        content: impl Into<Bytes>,
    ) -> Multipart {
        self.part(
            name,
            Some(file_name.to_owned()),
            Some(content_type.to_owned()),
            content.into(),
        )
    }

    fn part(
        mut self,
        name: &str,
        file_name: Option<String>,
        content_type: Option<String>,
        content: Bytes,
    ) -> Multipart {
        self.parts.push(Part {
            name: name.to_owned(),
            file_name,
            content_type,
            content,
        });
        self
    }

    /// The `Content-Type` and the body. The boundary is random, and drawn
    /// again in the unlikely case that a part's content holds it.
    pub fn encode(&self) -> (String, Bytes) {
        let boundary = loop {
            let boundary = random_boundary();
            let delimiter = format!("--{boundary}");
            if !self
                .parts
                .iter()
                .any(|part| contains(&part.content, delimiter.as_bytes()))
            {
                break boundary;
            }
        };
        let mut body = BytesMut::new();
        for part in &self.parts {
            body.put_slice(format!("--{boundary}\r\n").as_bytes());
            let mut disposition = format!("form-data; name=\"{}\"", escape(&part.name));
            if let Some(file_name) = &part.file_name {
                disposition.push_str(&format!("; filename=\"{}\"", escape(file_name)));
            }
            body.put_slice(format!("Content-Disposition: {disposition}\r\n").as_bytes());
            if let Some(content_type) = &part.content_type {
                let content_type = content_type.replace(['\r', '\n'], " ");
                body.put_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
            }
            body.put_slice(b"\r\n");
            body.put_slice(&part.content);
            body.put_slice(b"\r\n");
        }
        body.put_slice(format!("--{boundary}--\r\n").as_bytes());
        (
            format!("multipart/form-data; boundary={boundary}"),
            body.freeze(),
        )
    }
}

impl Default for Multipart {
    fn default() -> Multipart {
        Multipart::new()
    }
}

impl fmt::Debug for Multipart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<(&str, Option<&str>, usize)> = self
            .parts
            .iter()
            .map(|part| {
                (
                    part.name.as_str(),
                    part.file_name.as_deref(),
                    part.content.len(),
                )
            })
            .collect();
        f.debug_struct("Multipart").field("parts", &parts).finish()
    }
}

/// Names and file names go inside quotes: the HTML standard's encoding
/// for form data turns the quote and line breaks into percent escapes
/// (other text, UTF-8 included, goes as it is).
fn escape(text: &str) -> String {
    text.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// 32 hex digits from std's randomly keyed hasher (no random number crate
/// needed for a boundary, which must only be unlikely in the content).
fn random_boundary() -> String {
    let mut digits = String::from("torsion-");
    for _ in 0..2 {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_nanos() as u64),
        );
        digits.push_str(&format!("{:016x}", hasher.finish()));
    }
    digits
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_carry_their_disposition_type_and_content_between_boundaries() {
        let (content_type, body) = Multipart::new()
            .text("title", "a \"quoted\"\r\nline")
            .file(
                "upload",
                "notes.txt",
                "text/plain",
                &b"line 1\r\nline 2"[..],
            )
            .encode();
        let boundary = content_type
            .strip_prefix("multipart/form-data; boundary=")
            .unwrap();
        let expected = format!(
            "--{boundary}\r\n\
             Content-Disposition: form-data; name=\"title\"\r\n\r\n\
             a \"quoted\"\r\nline\r\n\
             --{boundary}\r\n\
             Content-Disposition: form-data; name=\"upload\"; filename=\"notes.txt\"\r\n\
             Content-Type: text/plain\r\n\r\n\
             line 1\r\nline 2\r\n\
             --{boundary}--\r\n"
        );
        assert_eq!(String::from_utf8(body.to_vec()).unwrap(), expected);
    }

    #[test]
    fn names_are_escaped_and_boundaries_differ() {
        let (_, body) = Multipart::new()
            .file("a\"b", "x\r\ny.txt", "text/plain", "")
            .encode();
        let text = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            text.contains("name=\"a%22b\"; filename=\"x%0D%0Ay.txt\""),
            "{text}"
        );
        let form = Multipart::new();
        assert_ne!(form.encode().0, form.encode().0);
        assert!(random_boundary().len() >= 40);
    }
}
