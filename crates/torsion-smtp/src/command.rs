//! SMTP commands (RFC 5321 §4.1): what a client sends, parsed from one
//! line without its `\r\n`, and written back as one.
//!
//! The parser is strict where a mistake would change what happens to mail
//! (a path must be `<...>`, a parameter must be one this server offers) and
//! lenient where clients commonly differ and nothing is at stake: verbs
//! and parameter names in any case, a space after `FROM:`/`TO:`.
//!
//! ```
//! use torsion_smtp::{Body, Command, MailParams, Mailbox};
//!
//! let command = Command::parse(b"mail from:<alice@example.org> BODY=8BITMIME").unwrap();
//! let alice = Mailbox::parse("alice@example.org").unwrap();
//! assert_eq!(
//!     command,
//!     Command::Mail {
//!         from: Some(alice),
//!         params: MailParams { size: None, body: Some(Body::EightBitMime) },
//!     }
//! );
//! assert_eq!(command.to_string(), "MAIL FROM:<alice@example.org> BODY=8BITMIME");
//! assert_eq!(Command::parse(b"FROB").unwrap_err().code(), 500);
//! ```

use std::fmt;

/// One client command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `HELO domain`: an SMTP (not ESMTP) greeting.
    Helo(String),
    /// `EHLO domain`: an ESMTP greeting, answered with the extensions.
    Ehlo(String),
    /// `MAIL FROM:<path> [params]`: starts a transaction. `None` is the
    /// null reverse path `<>` (bounces).
    Mail {
        /// The sender, or `None` for `<>`.
        from: Option<Mailbox>,
        /// The ESMTP parameters.
        params: MailParams,
    },
    /// `RCPT TO:<path>`: adds a recipient.
    Rcpt(Mailbox),
    /// `DATA`: the message follows, ended by a line holding a single dot.
    Data,
    /// `RSET`: abandons the transaction.
    Rset,
    /// `NOOP [text]`.
    Noop,
    /// `QUIT`.
    Quit,
    /// `STARTTLS` (RFC 3207).
    StartTls,
    /// `VRFY string`: answered 252 (cannot verify, will accept), as most
    /// servers do.
    Vrfy(String),
    /// `HELP [topic]`.
    Help,
}

/// The parameters of `MAIL FROM` this crate knows (RFC 1870 SIZE, RFC 6152
/// BODY).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MailParams {
    /// `SIZE=n`: the size the client announces for the message.
    pub size: Option<u64>,
    /// `BODY=7BIT` or `BODY=8BITMIME`.
    pub body: Option<Body>,
}

/// What the message body holds (RFC 6152).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// `7BIT`: ASCII only.
    SevenBit,
    /// `8BITMIME`: bytes above 127 may appear.
    EightBitMime,
}

/// A mailbox, `local-part@domain` (or `postmaster` alone), as written
/// between the angle brackets of a path, a source route dropped.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox(String);

/// Why a command line was not accepted, with the reply code it earns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// Not a command this server knows (500).
    #[error("command not recognized")]
    Unrecognized,
    /// A command known but not offered here, such as `EXPN` or `AUTH` (502).
    #[error("command not implemented")]
    NotImplemented,
    /// The arguments do not parse (501), with what is wrong.
    #[error("syntax error: {0}")]
    Syntax(&'static str),
    /// A `MAIL FROM` or `RCPT TO` parameter not offered here (555).
    #[error("parameter not recognized: {0}")]
    UnknownParameter(String),
}

impl CommandError {
    /// The reply code for this error.
    pub fn code(&self) -> u16 {
        match self {
            CommandError::Unrecognized => 500,
            CommandError::NotImplemented => 502,
            CommandError::Syntax(_) => 501,
            CommandError::UnknownParameter(_) => 555,
        }
    }
}

impl Command {
    /// Parses one command line, without its `\r\n`.
    pub fn parse(line: &[u8]) -> Result<Command, CommandError> {
        // SMTPUTF8 is not offered: every command is ASCII.
        let line = std::str::from_utf8(line)
            .ok()
            .filter(|line| line.is_ascii())
            .ok_or(CommandError::Syntax("the command is not ASCII"))?;
        // A control character has no place in a command, and a `\r` that
        // got this far could end a line forged further on.
        if line.bytes().any(|byte| byte.is_ascii_control()) {
            return Err(CommandError::Syntax("a control character in the command"));
        }
        let (verb, rest) = match line.find(' ') {
            Some(at) => (&line[..at], &line[at + 1..]),
            None => (line, ""),
        };
        let verb = verb.to_ascii_uppercase();
        let no_argument = |command: Command| {
            if rest.trim().is_empty() {
                Ok(command)
            } else {
                Err(CommandError::Syntax("this command takes no argument"))
            }
        };
        match verb.as_str() {
            "HELO" => Ok(Command::Helo(domain(rest)?)),
            "EHLO" => Ok(Command::Ehlo(domain(rest)?)),
            "MAIL" => {
                let rest = strip_keyword(rest, "FROM:")?;
                let (path, params) = path_and_params(rest)?;
                let from = if path.is_empty() {
                    None
                } else {
                    Some(Mailbox::parse(path)?)
                };
                Ok(Command::Mail {
                    from,
                    params: mail_params(params)?,
                })
            }
            "RCPT" => {
                let rest = strip_keyword(rest, "TO:")?;
                let (path, params) = path_and_params(rest)?;
                if let Some(param) = params.split(' ').find(|param| !param.is_empty()) {
                    return Err(CommandError::UnknownParameter(param.to_owned()));
                }
                Ok(Command::Rcpt(Mailbox::parse(path)?))
            }
            "DATA" => no_argument(Command::Data),
            "RSET" => no_argument(Command::Rset),
            "QUIT" => no_argument(Command::Quit),
            "STARTTLS" => no_argument(Command::StartTls),
            "NOOP" => Ok(Command::Noop),
            "HELP" => Ok(Command::Help),
            "VRFY" if rest.trim().is_empty() => Err(CommandError::Syntax("VRFY needs a string")),
            "VRFY" => Ok(Command::Vrfy(rest.trim().to_owned())),
            "EXPN" | "TURN" | "ETRN" | "AUTH" | "BDAT" | "SEND" | "SOML" | "SAML" => {
                Err(CommandError::NotImplemented)
            }
            _ => Err(CommandError::Unrecognized),
        }
    }
}

impl fmt::Display for Command {
    /// The command line as a client sends it, without `\r\n`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Command::Helo(domain) => write!(f, "HELO {domain}"),
            Command::Ehlo(domain) => write!(f, "EHLO {domain}"),
            Command::Mail { from, params } => {
                write!(f, "MAIL FROM:<")?;
                if let Some(from) = from {
                    write!(f, "{from}")?;
                }
                write!(f, ">")?;
                if let Some(size) = params.size {
                    write!(f, " SIZE={size}")?;
                }
                match params.body {
                    Some(Body::SevenBit) => write!(f, " BODY=7BIT"),
                    Some(Body::EightBitMime) => write!(f, " BODY=8BITMIME"),
                    None => Ok(()),
                }
            }
            Command::Rcpt(to) => write!(f, "RCPT TO:<{to}>"),
            Command::Data => f.write_str("DATA"),
            Command::Rset => f.write_str("RSET"),
            Command::Noop => f.write_str("NOOP"),
            Command::Quit => f.write_str("QUIT"),
            Command::StartTls => f.write_str("STARTTLS"),
            Command::Vrfy(string) => write!(f, "VRFY {string}"),
            Command::Help => f.write_str("HELP"),
        }
    }
}

impl Mailbox {
    /// Parses a mailbox as written inside a path's angle brackets: a
    /// source route (`@relay,@relay:`) is dropped, as RFC 5321 asks.
    /// The local part is a dot-string or a quoted string; the domain a
    /// name or an address literal (`[192.0.2.1]`); `postmaster` alone is
    /// accepted too.
    pub fn parse(text: &str) -> Result<Mailbox, CommandError> {
        let text = match text.strip_prefix('@') {
            Some(routed) => {
                let (_, mailbox) = routed
                    .split_once(':')
                    .ok_or(CommandError::Syntax("a source route without its ':'"))?;
                mailbox
            }
            None => text,
        };
        if text.eq_ignore_ascii_case("postmaster") {
            return Ok(Mailbox(text.to_owned()));
        }
        let at = local_part_end(text)?;
        let (local, domain) = (&text[..at], &text[at + 1..]);
        if local.is_empty() || local.len() > 64 {
            return Err(CommandError::Syntax("the local part is empty or too long"));
        }
        if !is_domain(domain) {
            return Err(CommandError::Syntax("not a domain"));
        }
        Ok(Mailbox(text.to_owned()))
    }

    /// The mailbox as text, `local-part@domain`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The domain, after the last `@` (empty for `postmaster`).
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for Mailbox {
    type Err = CommandError;

    fn from_str(text: &str) -> Result<Mailbox, CommandError> {
        Mailbox::parse(text)
    }
}

/// Where the local part ends: the index of the `@` after a dot-string or a
/// quoted string.
fn local_part_end(text: &str) -> Result<usize, CommandError> {
    let bytes = text.as_bytes();
    if bytes.first() == Some(&b'"') {
        let mut at = 1;
        while at < bytes.len() {
            match bytes[at] {
                b'\\' if at + 1 < bytes.len() => at += 2,
                b'"' => {
                    return if bytes.get(at + 1) == Some(&b'@') {
                        Ok(at + 1)
                    } else {
                        Err(CommandError::Syntax(
                            "a quoted local part not followed by '@'",
                        ))
                    };
                }
                byte if byte == b' ' || is_visible(byte) => at += 1,
                _ => {
                    return Err(CommandError::Syntax(
                        "a control character in the local part",
                    ));
                }
            }
        }
        return Err(CommandError::Syntax("an unterminated quoted local part"));
    }
    let at = text
        .find('@')
        .ok_or(CommandError::Syntax("a mailbox without '@'"))?;
    let local = &text[..at];
    let atoms_ok = local.split('.').all(|atom| {
        !atom.is_empty()
            && atom
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&byte))
    });
    if atoms_ok {
        Ok(at)
    } else {
        Err(CommandError::Syntax("not a valid local part"))
    }
}

fn is_visible(byte: u8) -> bool {
    (0x21..=0x7e).contains(&byte)
}

/// A domain name (letters, digits, hyphens, dots) or an address literal.
fn is_domain(domain: &str) -> bool {
    if domain.is_empty() || domain.len() > 255 {
        return false;
    }
    if let Some(literal) = domain.strip_prefix('[') {
        return literal.strip_suffix(']').is_some_and(|inner| {
            !inner.is_empty()
                && inner
                    .bytes()
                    .all(|byte| is_visible(byte) && !b"[]\\".contains(&byte))
        });
    }
    domain.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
    })
}

/// The argument of HELO or EHLO: one word, a domain or address literal.
/// Its form is not checked further: clients send all sorts of names, and
/// nothing depends on it.
fn domain(rest: &str) -> Result<String, CommandError> {
    let domain = rest.trim();
    if domain.is_empty() || domain.contains(' ') || !domain.bytes().all(is_visible) {
        return Err(CommandError::Syntax("a domain is required"));
    }
    Ok(domain.to_owned())
}

/// `rest` after a case-insensitive keyword (`FROM:`, `TO:`) and the
/// spaces some clients put after it.
fn strip_keyword<'a>(rest: &'a str, keyword: &str) -> Result<&'a str, CommandError> {
    match rest.get(..keyword.len()) {
        Some(head) if head.eq_ignore_ascii_case(keyword) => {
            Ok(rest[keyword.len()..].trim_start_matches(' '))
        }
        _ => Err(CommandError::Syntax("expected FROM:<path> or TO:<path>")),
    }
}

/// Splits `<path> params` into what is between the brackets and the
/// parameters. A `>` inside a quoted local part does not end the path.
fn path_and_params(rest: &str) -> Result<(&str, &str), CommandError> {
    let inner = rest
        .strip_prefix('<')
        .ok_or(CommandError::Syntax("a path must be written <...>"))?;
    let mut quoted = false;
    let mut escaped = false;
    for (at, byte) in inner.bytes().enumerate() {
        match byte {
            _ if escaped => escaped = false,
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b'>' if !quoted => {
                let params = &inner[at + 1..];
                if !params.is_empty() && !params.starts_with(' ') {
                    return Err(CommandError::Syntax("a space must follow the path"));
                }
                return Ok((&inner[..at], params));
            }
            _ => {}
        }
    }
    Err(CommandError::Syntax("a path without its closing '>'"))
}

fn mail_params(params: &str) -> Result<MailParams, CommandError> {
    let mut parsed = MailParams::default();
    for param in params.split(' ').filter(|param| !param.is_empty()) {
        let (key, value) = param.split_once('=').unwrap_or((param, ""));
        if key.eq_ignore_ascii_case("SIZE") && parsed.size.is_none() {
            if value.is_empty() || value.len() > 20 || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(CommandError::Syntax("SIZE takes a number"));
            }
            parsed.size = Some(
                value
                    .parse()
                    .map_err(|_| CommandError::Syntax("SIZE is too large"))?,
            );
        } else if key.eq_ignore_ascii_case("BODY") && parsed.body.is_none() {
            parsed.body = Some(if value.eq_ignore_ascii_case("7BIT") {
                Body::SevenBit
            } else if value.eq_ignore_ascii_case("8BITMIME") {
                Body::EightBitMime
            } else {
                return Err(CommandError::Syntax("BODY is 7BIT or 8BITMIME"));
            });
        } else {
            return Err(CommandError::UnknownParameter(param.to_owned()));
        }
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests;
