//! [`Message`]: one IRC line, parsed.
//!
//! ```text
//!  @time=2026-01-01T00:00:00Z;+draft/reply=42 :alice!al@example.org PRIVMSG #rust :hello there
//!  └───────────── tags (IRCv3) ─────────────┘ └────── prefix ──────┘ └command┘ └param┘ └trailing┘
//! ```
//!
//! Every part but the command is optional. Parameters are separated by
//! spaces; the last may start with `:` and then holds spaces (the
//! "trailing" parameter). Parsing is lenient where servers are (runs of
//! spaces, a trailing space, lower-case commands); writing is strict:
//! a message that would not read back the same is refused.

mod tags;

use std::fmt::{self, Write};

pub use tags::Tag;

use crate::IrcError;
use crate::numeric::Numeric;

/// Where a message comes from: `nick!user@host` for a user, a server's
/// name for a server (RFC 1459's prefix, IRCv3's "source").
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Prefix(String);

impl Prefix {
    /// A prefix as written after the `:`. Not checked here: writing a
    /// message refuses an empty prefix or one with a space.
    pub fn new(text: impl Into<String>) -> Prefix {
        Prefix(text.into())
    }

    /// The prefix of a user, `nick!user@host`.
    pub fn user(nick: &str, user: &str, host: &str) -> Prefix {
        Prefix(format!("{nick}!{user}@{host}"))
    }

    /// The whole prefix.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The nickname (or the server's name): what comes before `!` or `@`.
    pub fn nick(&self) -> &str {
        let end = self.0.find(['!', '@']).unwrap_or(self.0.len());
        &self.0[..end]
    }

    /// The user name, between `!` and `@`, if given.
    pub fn username(&self) -> Option<&str> {
        let start = self.0.find('!')? + 1;
        let end = self.0[start..]
            .find('@')
            .map_or(self.0.len(), |at| start + at);
        Some(&self.0[start..end])
    }

    /// The host, after `@`, if given.
    pub fn host(&self) -> Option<&str> {
        self.0.find('@').map(|at| &self.0[at + 1..])
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One IRC message: IRCv3 tags, an optional prefix, a command (a word or
/// a three-digit [`Numeric`]) and its parameters.
///
/// ```
/// use torsion_irc::{Message, Tag};
///
/// let message = Message::parse(b"@id=7 :bob!b@host PRIVMSG #torsion :hi all").unwrap();
/// assert_eq!(message.tag("id"), Some("7"));
/// assert_eq!(message.source_nick(), Some("bob"));
/// assert_eq!(message.command, "PRIVMSG");
/// assert_eq!(message.params, ["#torsion", "hi all"]);
///
/// let reply = Message::new("PRIVMSG", ["#torsion", "hello, bob"]).with_tag(Tag::new("+reply", "7"));
/// assert_eq!(reply.to_string(), "@+reply=7 PRIVMSG #torsion :hello, bob");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Message {
    /// The IRCv3 tags, in the order received.
    pub tags: Vec<Tag>,
    /// Where the message comes from; clients leave it out.
    pub prefix: Option<Prefix>,
    /// The command, upper case, or a numeric's three digits.
    pub command: String,
    /// The parameters, the trailing one included, without its `:`.
    pub params: Vec<String>,
}

impl Message {
    /// A message with this command and these parameters.
    pub fn new<P: Into<String>>(
        command: impl Into<String>,
        params: impl IntoIterator<Item = P>,
    ) -> Message {
        Message {
            tags: Vec::new(),
            prefix: None,
            command: command.into(),
            params: params.into_iter().map(Into::into).collect(),
        }
    }

    /// The same message from `prefix`.
    pub fn with_prefix(mut self, prefix: Prefix) -> Message {
        self.prefix = Some(prefix);
        self
    }

    /// The same message with one more tag.
    pub fn with_tag(mut self, tag: Tag) -> Message {
        self.tags.push(tag);
        self
    }

    /// Parses one line, without its line ending. Bytes that are not
    /// UTF-8 are read as Latin-1, as most clients do. Empty lines,
    /// lines without a command, and lines holding CR, LF or NUL are
    /// [`IrcError::Malformed`].
    pub fn parse(line: &[u8]) -> Result<Message, IrcError> {
        let text = match std::str::from_utf8(line) {
            Ok(text) => text.to_owned(),
            Err(_) => line.iter().map(|&b| char::from(b)).collect(),
        };
        let malformed = |reason| IrcError::Malformed {
            reason,
            line: text.clone(),
        };
        if text.contains(['\r', '\n', '\0']) {
            return Err(malformed("CR, LF or NUL inside a line"));
        }
        let mut rest = text.as_str();
        let mut message = Message::default();
        if let Some(after) = rest.strip_prefix('@') {
            let (section, after) = after
                .split_once(' ')
                .ok_or_else(|| malformed("no command"))?;
            message.tags = tags::parse_tags(section);
            rest = after.trim_start_matches(' ');
        }
        if let Some(after) = rest.strip_prefix(':') {
            let (prefix, after) = after
                .split_once(' ')
                .ok_or_else(|| malformed("no command"))?;
            if prefix.is_empty() {
                return Err(malformed("an empty prefix"));
            }
            message.prefix = Some(Prefix::new(prefix));
            rest = after.trim_start_matches(' ');
        }
        let (command, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
        if command.is_empty() {
            return Err(malformed("no command"));
        }
        if !command.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(malformed("a command that is not a word or a number"));
        }
        message.command = command.to_ascii_uppercase();
        loop {
            rest = rest.trim_start_matches(' ');
            if rest.is_empty() {
                break;
            }
            if let Some(trailing) = rest.strip_prefix(':') {
                message.params.push(trailing.to_owned());
                break;
            }
            let (param, after) = rest.split_once(' ').unwrap_or((rest, ""));
            message.params.push(param.to_owned());
            rest = after;
        }
        Ok(message)
    }

    /// Checks that the message reads back as it is once written: a
    /// command of letters or digits, a prefix without spaces, parameters
    /// without CR, LF or NUL, and only the last one empty, holding a
    /// space or starting with `:`.
    pub fn validate(&self) -> Result<(), IrcError> {
        if self.command.is_empty() || !self.command.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(IrcError::Invalid("the command must be letters or digits"));
        }
        if let Some(prefix) = &self.prefix
            && (prefix.0.is_empty() || prefix.0.contains([' ', '\r', '\n', '\0']))
        {
            return Err(IrcError::Invalid("a prefix must be a word"));
        }
        if self.tags.iter().any(|tag| !tags::valid_key(&tag.key)) {
            return Err(IrcError::Invalid("a tag key must be a word without = or ;"));
        }
        let forbidden = |param: &String| param.contains(['\r', '\n', '\0']);
        if self.params.iter().any(forbidden) {
            return Err(IrcError::Invalid("a parameter holds CR, LF or NUL"));
        }
        let middle = self.params.len().saturating_sub(1);
        let bad_middle =
            |param: &String| param.is_empty() || param.starts_with(':') || param.contains(' ');
        if self.params[..middle].iter().any(bad_middle) {
            return Err(IrcError::Invalid(
                "only the last parameter can be empty, hold a space or start with ':'",
            ));
        }
        Ok(())
    }

    /// The value of tag `key`, if present with a value.
    pub fn tag(&self, key: &str) -> Option<&str> {
        let tag = self.tags.iter().find(|tag| tag.key == key)?;
        tag.value.as_deref()
    }

    /// Parameter `index`, if there is one.
    pub fn param(&self, index: usize) -> Option<&str> {
        self.params.get(index).map(String::as_str)
    }

    /// The nickname (or server name) of the prefix.
    pub fn source_nick(&self) -> Option<&str> {
        self.prefix.as_ref().map(Prefix::nick)
    }

    /// The command as a numeric reply, if it is three digits.
    pub fn numeric(&self) -> Option<Numeric> {
        Numeric::from_command(&self.command)
    }

    /// How many bytes the message takes on the wire without its tags and
    /// its `\r\n`: what the 512-byte limit counts, less 2.
    pub fn body_length(&self) -> usize {
        let mut counter = Counter(0);
        let _ = self.write_body(&mut counter);
        counter.0
    }

    fn write_body(&self, out: &mut impl Write) -> fmt::Result {
        if let Some(prefix) = &self.prefix {
            write!(out, ":{prefix} ")?;
        }
        out.write_str(&self.command)?;
        let last = self.params.len().saturating_sub(1);
        for (index, param) in self.params.iter().enumerate() {
            out.write_char(' ')?;
            let trailing = index == last
                && (param.is_empty() || param.starts_with(':') || param.contains(' '));
            if trailing {
                out.write_char(':')?;
            }
            out.write_str(param)?;
        }
        Ok(())
    }
}

/// The wire form, without `\r\n`: `@tags :prefix COMMAND params :trailing`.
/// Use [`Message::validate`] first for a message built by hand; the codec
/// does.
impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.tags.is_empty() {
            tags::write_tags(&self.tags, f)?;
        }
        self.write_body(f)
    }
}

/// Counts what is written, for lengths without building the string.
struct Counter(usize);

impl Write for Counter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests;
