//! The header fields that decide a request's framing and target (Host,
//! Content-Length, Transfer-Encoding), read one byte at a time as they
//! stream past, so that no value is ever stored.

use super::Facts;
use http::header::{self, HeaderName};

use super::classes::{REG_NAME, TCHAR};

impl Facts {
    /// Reads bytes of the value of the field being read: only the fields
    /// that decide the framing and the target are followed.
    pub(super) fn value_bytes(&mut self, value: &[u8]) {
        match self.field {
            Some(Field::Host) => self.host = self.host.read(value),
            Some(Field::ContentLength) => {
                for &byte in value {
                    self.length = self.length.next(byte);
                }
            }
            Some(Field::TransferEncoding) => {
                for &byte in value {
                    self.codings.next(byte);
                }
            }
            Some(Field::Upgrade) => {
                self.upgrade |= value.iter().any(|&byte| byte != b' ' && byte != b'\t');
            }
            Some(Field::Other) | None => {}
        }
    }
}

/// A header field the checker reads the value of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Field {
    Host,
    ContentLength,
    TransferEncoding,
    Upgrade,
    Other,
}

impl Field {
    /// The field's name, for a field the checker knows: the connection
    /// need not look the name up again.
    pub(crate) fn header_name(self) -> Option<HeaderName> {
        match self {
            Field::Host => Some(header::HOST),
            Field::ContentLength => Some(header::CONTENT_LENGTH),
            Field::TransferEncoding => Some(header::TRANSFER_ENCODING),
            Field::Upgrade => Some(header::UPGRADE),
            Field::Other => None,
        }
    }

    /// The field a name names, in any case.
    pub(super) fn named(name: &[u8]) -> Field {
        let is = |known: &[u8]| name.eq_ignore_ascii_case(known);
        match name.len() {
            4 if is(b"host") => Field::Host,
            14 if is(b"content-length") => Field::ContentLength,
            17 if is(b"transfer-encoding") => Field::TransferEncoding,
            7 if is(b"upgrade") => Field::Upgrade,
            _ => Field::Other,
        }
    }
}

/// The longest name [`Field::named`] knows.
pub(super) const LONGEST_NAME: usize = "transfer-encoding".len();

/// A Host value, checked against RFC 9110's `uri-host [ ":" port ]`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum HostSyntax {
    /// Nothing yet (an empty Host is valid: RFC 9112, section 3.2).
    #[default]
    Empty,
    /// A reg-name or IPv4 address.
    Name,
    /// Inside `[...]`.
    Literal,
    /// Just after `]`.
    LiteralEnd,
    /// After the `:` of a port.
    Port,
    /// Whitespace after the value: only more whitespace may follow.
    Done,
    Invalid,
}

impl HostSyntax {
    /// Every syntax, in the order of their discriminants.
    const ALL: [HostSyntax; 7] = {
        use HostSyntax::*;
        [Empty, Name, Literal, LiteralEnd, Port, Done, Invalid]
    };

    const fn next(self, byte: u8) -> HostSyntax {
        use HostSyntax::*;
        let whitespace = byte == b' ' || byte == b'\t';
        match self {
            Invalid => Invalid,
            Empty if whitespace => Empty,
            _ if whitespace => Done,
            Done => Invalid,
            Empty if byte == b'[' => Literal,
            Empty | Name if REG_NAME.contains(byte) => Name,
            Name if byte == b':' => Port,
            Literal if byte == b']' => LiteralEnd,
            Literal if byte.is_ascii_hexdigit() || byte == b':' || byte == b'.' => Literal,
            LiteralEnd if byte == b':' => Port,
            Port if byte.is_ascii_digit() => Port,
            _ => Invalid,
        }
    }

    /// The syntax after `value`: [`next`](Self::next) byte by byte, one
    /// table lookup a byte.
    pub(super) fn read(self, value: &[u8]) -> HostSyntax {
        value.iter().fold(self, |syntax, &byte| {
            HOST_STEPS[syntax as usize][usize::from(byte)]
        })
    }

    pub(super) fn is_valid(self) -> bool {
        !matches!(self, HostSyntax::Invalid | HostSyntax::Literal)
    }
}

/// [`HostSyntax::next`] for every syntax and byte, worked out once.
static HOST_STEPS: [[HostSyntax; 256]; 7] = {
    let mut table = [[HostSyntax::Invalid; 256]; 7];
    let mut syntax = 0;
    while syntax < HostSyntax::ALL.len() {
        let mut byte = 0;
        while byte < 256 {
            table[syntax][byte] = HostSyntax::ALL[syntax].next(byte as u8);
            byte += 1;
        }
        syntax += 1;
    }
    table
};

/// A Content-Length value: digits only, so `+5`, `0x5` and the list
/// `5, 5` are all invalid (RFC 9110, section 8.6 lets a server reject a
/// list even of equal values, and this one does).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum LengthSyntax {
    #[default]
    Empty,
    Digits(u64),
    /// The digits and then whitespace.
    Done(u64),
    Invalid,
}

impl LengthSyntax {
    pub(super) fn next(self, byte: u8) -> LengthSyntax {
        use LengthSyntax::*;
        let whitespace = byte == b' ' || byte == b'\t';
        match self {
            Empty if whitespace => Empty,
            Empty if byte.is_ascii_digit() => Digits(u64::from(byte - b'0')),
            Digits(n) if whitespace => Done(n),
            Digits(n) if byte.is_ascii_digit() => n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(byte - b'0')))
                .map_or(Invalid, Digits),
            Done(n) if whitespace => Done(n),
            _ => Invalid,
        }
    }

    pub(super) fn value(self) -> Option<u64> {
        match self {
            LengthSyntax::Digits(n) | LengthSyntax::Done(n) => Some(n),
            _ => None,
        }
    }
}

/// The transfer codings of a request, over all its Transfer-Encoding lines
/// (a list split over lines is the same list: RFC 9110, section 5.3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Codings {
    pub(super) present: bool,
    pub(super) chunked: u8,
    pub(super) last_is_chunked: bool,
    /// A coding other than chunked: the server decodes none.
    pub(super) unknown: bool,
    pub(super) malformed: bool,
    token: Token,
}

/// Where the reading of one list element is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Token {
    /// Before a coding name.
    #[default]
    Before,
    /// In a name; how many bytes of it, and whether they so far spell
    /// `chunked`.
    Name { len: u8, chunked: bool },
    /// After a name and whitespace.
    After,
    /// In the parameters after `;`.
    Parameters,
}

const CHUNKED: &[u8] = b"chunked";

impl Codings {
    pub(super) fn next(&mut self, byte: u8) {
        self.present = true;
        let whitespace = byte == b' ' || byte == b'\t';
        self.token = match self.token {
            _ if byte == b',' => {
                self.end_element();
                Token::Before
            }
            Token::Parameters => Token::Parameters,
            _ if byte == b';' => {
                // chunked takes no parameters; anything else is unknown.
                self.end_element();
                self.last_is_chunked = false;
                self.unknown = true;
                Token::Parameters
            }
            Token::Before | Token::After if whitespace => self.token,
            Token::Before if TCHAR.contains(byte) => Token::Name {
                len: 1,
                chunked: byte.eq_ignore_ascii_case(&CHUNKED[0]),
            },
            Token::Name { .. } if whitespace => {
                self.end_element();
                Token::After
            }
            Token::Name { len, chunked } if TCHAR.contains(byte) => Token::Name {
                len: len.saturating_add(1),
                chunked: chunked
                    && CHUNKED
                        .get(usize::from(len))
                        .is_some_and(|c| byte.eq_ignore_ascii_case(c)),
            },
            _ => {
                self.malformed = true;
                Token::After
            }
        };
    }

    /// The end of a field line ends the element in progress too.
    pub(super) fn end_line(&mut self) {
        self.end_element();
        self.token = Token::Before;
    }

    fn end_element(&mut self) {
        if let Token::Name { len, chunked } = self.token {
            let chunked = chunked && usize::from(len) == CHUNKED.len();
            if chunked {
                self.chunked = self.chunked.saturating_add(1);
            } else {
                self.unknown = true;
            }
            self.last_is_chunked = chunked;
        }
        // An empty element (`chunked, , x`) counts for nothing (RFC 9110,
        // section 5.6.1).
        self.token = Token::After;
    }
}

#[cfg(test)]
mod tests {
    use super::HostSyntax;

    #[test]
    fn each_host_syntax_reads_its_own_row_of_steps() {
        for (row, syntax) in HostSyntax::ALL.into_iter().enumerate() {
            assert_eq!(syntax as usize, row);
        }
        let read = |value: &[u8]| HostSyntax::Empty.read(value).is_valid();
        assert!(read(b" 127.0.0.1:8080 "));
        assert!(read(b"[::1]:80"));
        assert!(read(b""));
        assert!(!read(b"a b"));
        assert!(!read(b"[::1"));
        assert!(!read(b"a:8x"));
    }
}
