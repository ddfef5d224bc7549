//! SMTP replies (RFC 5321 §4.2): a three-digit code and one or more lines
//! of text, `250-first`, `250-second`, `250 last`.
//!
//! The server writes them with [`Reply::to_bytes`]; the client puts them
//! back together, line by line, with a [`ReplyParser`].
//!
//! ```
//! use torsion_smtp::{Reply, ReplyParser};
//!
//! let reply = Reply::multi(250, ["mail.example.org", "PIPELINING", "8BITMIME"]);
//! assert_eq!(
//!     reply.to_bytes(),
//!     b"250-mail.example.org\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
//! );
//! let mut parser = ReplyParser::default();
//! assert_eq!(parser.line(b"250-mail.example.org").unwrap(), None);
//! assert_eq!(parser.line(b"250-PIPELINING").unwrap(), None);
//! assert_eq!(parser.line(b"250 8BITMIME").unwrap(), Some(reply));
//! ```

use std::fmt;

/// A reply: its code and its lines of text (at least one, maybe empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code, 200 to 599.
    pub code: u16,
    /// The text, one entry a line.
    pub lines: Vec<String>,
}

impl Reply {
    /// A one-line reply.
    pub fn new(code: u16, text: impl Into<String>) -> Reply {
        Reply {
            code,
            lines: vec![text.into()],
        }
    }

    /// A reply of several lines (one empty line if `lines` is empty).
    pub fn multi<S: Into<String>>(code: u16, lines: impl IntoIterator<Item = S>) -> Reply {
        let mut lines: Vec<String> = lines.into_iter().map(Into::into).collect();
        if lines.is_empty() {
            lines.push(String::new());
        }
        Reply { code, lines }
    }

    /// 2xx: the command succeeded.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// 3xx: go on (after `DATA`, send the message).
    pub fn is_intermediate(&self) -> bool {
        (300..400).contains(&self.code)
    }

    /// 4xx: failed for now; trying again later may work.
    pub fn is_transient(&self) -> bool {
        (400..500).contains(&self.code)
    }

    /// 5xx: failed for good.
    pub fn is_permanent(&self) -> bool {
        (500..600).contains(&self.code)
    }

    /// The reply on the wire: every line but the last as `code-text`, the
    /// last as `code text`, each ended by `\r\n`. Line breaks inside a
    /// text are replaced by spaces, so a text cannot forge a reply line.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::new();
        let last = self.lines.len().saturating_sub(1);
        for (index, line) in self.lines.iter().enumerate() {
            let separator = if index == last { ' ' } else { '-' };
            let clean: String = line
                .chars()
                .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
                .collect();
            bytes.extend_from_slice(format!("{:03}{separator}{clean}\r\n", self.code).as_bytes());
        }
        bytes
    }
}

impl fmt::Display for Reply {
    /// The code and the lines joined by " / ", for messages and logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.lines.join(" / "))
    }
}

/// A reply line that is not one: not three digits and a space or a dash,
/// or a continuation whose code differs from the first line's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an SMTP reply line: {0:?}")]
pub struct ReplyError(pub String);

/// Puts a reply together from its lines, as a client receives them.
#[derive(Debug, Default)]
pub struct ReplyParser {
    pending: Option<Reply>,
}

impl ReplyParser {
    /// Takes one line (without `\r\n`); returns the reply once its last
    /// line has arrived.
    pub fn line(&mut self, line: &[u8]) -> Result<Option<Reply>, ReplyError> {
        let bad = || ReplyError(String::from_utf8_lossy(line).into_owned());
        let code = line
            .get(..3)
            .filter(|digits| digits.iter().all(u8::is_ascii_digit))
            .and_then(|digits| std::str::from_utf8(digits).ok())
            .and_then(|digits| digits.parse::<u16>().ok())
            .filter(|code| (200..600).contains(code))
            .ok_or_else(bad)?;
        let last = match line.get(3) {
            None | Some(b' ') => true,
            Some(b'-') => false,
            Some(_) => return Err(bad()),
        };
        let text = String::from_utf8_lossy(line.get(4..).unwrap_or_default()).into_owned();
        let mut reply = match self.pending.take() {
            Some(reply) if reply.code != code => return Err(bad()),
            Some(reply) => reply,
            None => Reply {
                code,
                lines: Vec::new(),
            },
        };
        reply.lines.push(text);
        if last {
            Ok(Some(reply))
        } else {
            self.pending = Some(reply);
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_with_a_line_break_cannot_forge_a_second_reply() {
        let reply = Reply::new(550, "no\r\n250 ok");
        assert_eq!(reply.to_bytes(), b"550 no  250 ok\r\n");
    }

    #[test]
    fn a_bare_code_is_a_reply_with_an_empty_line() {
        let mut parser = ReplyParser::default();
        assert_eq!(parser.line(b"354").unwrap(), Some(Reply::new(354, "")));
    }

    #[test]
    fn a_continuation_with_another_code_is_an_error() {
        let mut parser = ReplyParser::default();
        assert_eq!(parser.line(b"250-a").unwrap(), None);
        assert!(parser.line(b"251 b").is_err());
        assert!(parser.line(b"hello").is_err());
        assert!(parser.line(b"250_x").is_err());
        assert!(parser.line(b"999 x").is_err());
    }

    #[test]
    fn classes_follow_the_first_digit() {
        assert!(Reply::new(250, "").is_positive());
        assert!(Reply::new(354, "").is_intermediate());
        assert!(Reply::new(451, "").is_transient());
        assert!(Reply::new(554, "").is_permanent());
    }
}
