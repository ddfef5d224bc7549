//! IRCv3 message tags: `@key=value;key2;+vendor/key3=value`, with the
//! values escaped so that `;`, space, `\`, CR and LF can be carried.

use std::fmt::{self, Write};

/// One IRCv3 message tag. A tag without a value and a tag with an empty
/// value mean the same (the specification says so); both read back as
/// `value: None`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tag {
    /// The key, with its `+` (client-only) and vendor prefix if any.
    pub key: String,
    /// The unescaped value.
    pub value: Option<String>,
}

impl Tag {
    /// A tag `key=value`.
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Tag {
        Tag {
            key: key.into(),
            value: Some(value.into()),
        }
    }

    /// A tag without a value.
    pub fn flag(key: impl Into<String>) -> Tag {
        Tag {
            key: key.into(),
            value: None,
        }
    }
}

/// Parses the tags section (without its `@`). A key given twice keeps the
/// last value, in the first one's place, as the specification asks.
pub(super) fn parse_tags(section: &str) -> Vec<Tag> {
    let mut tags: Vec<Tag> = Vec::new();
    for item in section.split(';').filter(|item| !item.is_empty()) {
        let (key, value) = match item.split_once('=') {
            Some((key, value)) => (key, unescape(value)),
            None => (item, String::new()),
        };
        if key.is_empty() {
            continue;
        }
        let value = (!value.is_empty()).then_some(value);
        match tags.iter_mut().find(|tag| tag.key == key) {
            Some(tag) => tag.value = value,
            None => tags.push(Tag {
                key: key.to_owned(),
                value,
            }),
        }
    }
    tags
}

/// Whether `key` can be written as a tag key.
pub(super) fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && !key
            .bytes()
            .any(|b| matches!(b, b'=' | b';' | b' ' | b'\r' | b'\n' | b'\0'))
}

/// Writes `@tags ` for a non-empty list.
pub(super) fn write_tags(tags: &[Tag], out: &mut impl Write) -> fmt::Result {
    for (index, tag) in tags.iter().enumerate() {
        out.write_char(if index == 0 { '@' } else { ';' })?;
        out.write_str(&tag.key)?;
        if let Some(value) = tag.value.as_deref().filter(|value| !value.is_empty()) {
            out.write_char('=')?;
            escape(value, out)?;
        }
    }
    out.write_char(' ')
}

fn escape(value: &str, out: &mut impl Write) -> fmt::Result {
    for c in value.chars() {
        match c {
            ';' => out.write_str("\\:")?,
            ' ' => out.write_str("\\s")?,
            '\\' => out.write_str("\\\\")?,
            '\r' => out.write_str("\\r")?,
            '\n' => out.write_str("\\n")?,
            other => out.write_char(other)?,
        }
    }
    Ok(())
}

/// Undoes the escaping: `\:` `\s` `\\` `\r` `\n`, any other escaped
/// character stands for itself, and a lone `\` at the end is dropped.
fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(':') => out.push(';'),
            Some('s') => out.push(' '),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_read_back_as_the_specification_lists_them() {
        let tags = parse_tags(r"a=semi\:space\sback\\\\cr\rlf\n;b=\x\;c");
        assert_eq!(
            tags[0].value.as_deref(),
            Some("semi;space back\\\\cr\rlf\n")
        );
        assert_eq!(
            tags[1].value.as_deref(),
            Some("x"),
            "unknown escape and lone backslash"
        );
        assert_eq!(tags[2], Tag::flag("c"));
    }

    #[test]
    fn an_empty_value_is_no_value_and_a_repeated_key_keeps_the_last() {
        let tags = parse_tags("a=;b=1;a=2");
        assert_eq!(tags, [Tag::new("a", "2"), Tag::new("b", "1")]);
        let tags = parse_tags("a=1;a=");
        assert_eq!(tags, [Tag::flag("a")]);
    }

    #[test]
    fn values_are_escaped_on_the_way_out() {
        let mut out = String::new();
        write_tags(
            &[Tag::new("+example.com/k", "a b;c\\d\r\n"), Tag::flag("x")],
            &mut out,
        )
        .unwrap();
        assert_eq!(out, "@+example.com/k=a\\sb\\:c\\\\d\\r\\n;x ");
    }
}
