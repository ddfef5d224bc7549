//! CTCP: client-to-client requests carried inside PRIVMSG and NOTICE
//! text between two `\x01` bytes (`\x01ACTION waves\x01` is `/me waves`).

/// The byte that opens and closes a CTCP request.
pub const CTCP_DELIMITER: char = '\x01';

/// A CTCP request found in a message's text: its command (upper case)
/// and its argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ctcp<'a> {
    /// `ACTION`, `VERSION`, `PING`, ...
    pub command: String,
    /// What follows the command, without the space.
    pub argument: &'a str,
}

/// The CTCP request `text` holds, if it starts with `\x01`; the closing
/// `\x01` may be missing, as some clients leave it out.
///
/// ```
/// use torsion_irc::ctcp::parse;
///
/// let action = parse("\x01ACTION waves\x01").unwrap();
/// assert_eq!((action.command.as_str(), action.argument), ("ACTION", "waves"));
/// assert_eq!(parse("plain text"), None);
/// ```
pub fn parse(text: &str) -> Option<Ctcp<'_>> {
    let inner = text.strip_prefix(CTCP_DELIMITER)?;
    let inner = inner.strip_suffix(CTCP_DELIMITER).unwrap_or(inner);
    let (command, argument) = inner.split_once(' ').unwrap_or((inner, ""));
    if command.is_empty() {
        return None;
    }
    Some(Ctcp {
        command: command.to_ascii_uppercase(),
        argument,
    })
}

/// `text` wrapped as the CTCP request `command`.
///
/// ```
/// assert_eq!(torsion_irc::ctcp::quote("ACTION", "waves"), "\x01ACTION waves\x01");
/// assert_eq!(torsion_irc::ctcp::quote("VERSION", ""), "\x01VERSION\x01");
/// ```
pub fn quote(command: &str, text: &str) -> String {
    if text.is_empty() {
        format!("{CTCP_DELIMITER}{command}{CTCP_DELIMITER}")
    } else {
        format!("{CTCP_DELIMITER}{command} {text}{CTCP_DELIMITER}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_without_its_closing_byte_still_counts() {
        let ctcp = parse("\x01action dances").unwrap();
        assert_eq!(ctcp.command, "ACTION");
        assert_eq!(ctcp.argument, "dances");
        assert_eq!(parse("\x01\x01"), None);
    }
}
