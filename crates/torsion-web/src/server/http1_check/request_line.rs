//! The request line (RFC 9112, section 3): the version, rewritten from
//! any 1.x above 1.1 to 1.1, the target's form against the method, and the
//! line as the log shows it.

use http::StatusCode;

use super::target::TargetForm;
use super::{Http1Check, LINE_PREFIX, Refused, State};

impl Http1Check {
    /// The n-th byte of `HTTP/d.d` (n from 0), then the line's end. A
    /// minor version above 1 is rewritten to 1, in `slot`.
    pub(super) fn version(&mut self, n: u8, byte: u8, slot: &mut u8) -> Result<State, Refused> {
        const NAME: &[u8] = b"HTTP/";
        let facts = &mut self.facts;
        let malformed = (StatusCode::BAD_REQUEST, "malformed HTTP version");
        let at = usize::from(n);
        match at {
            0..5 if byte == NAME[at] => {}
            5 if byte.is_ascii_digit() => facts.major = byte - b'0',
            6 if byte == b'.' => {}
            7 if byte.is_ascii_digit() => {
                facts.minor = byte - b'0';
                if facts.major == 1 && facts.minor > 1 {
                    *slot = b'1';
                    facts.minor = 1;
                }
            }
            8 if byte == b'\r' => return Ok(State::RequestLineLf),
            8 if byte == b'\n' => return self.request_line_end(),
            _ => return Err(malformed),
        }
        Ok(State::Version(n + 1))
    }

    pub(super) fn request_line_end(&mut self) -> Result<State, Refused> {
        const BAD: StatusCode = StatusCode::BAD_REQUEST;
        let facts = &mut self.facts;
        facts.line_done = true;
        if facts.major != 1 {
            return Err((
                StatusCode::HTTP_VERSION_NOT_SUPPORTED,
                "only HTTP/1.x is spoken on an HTTP/1 connection",
            ));
        }
        let connect = facts.method_is(b"CONNECT");
        match facts.target.finish() {
            TargetForm::Authority if !connect => {
                return Err((BAD, "authority-form target on a method other than CONNECT"));
            }
            TargetForm::Asterisk if !facts.method_is(b"OPTIONS") => {
                return Err((BAD, "asterisk-form target on a method other than OPTIONS"));
            }
            TargetForm::Origin | TargetForm::Absolute | TargetForm::Asterisk if connect => {
                return Err((BAD, "CONNECT needs an authority-form target"));
            }
            _ => {}
        }
        Ok(State::LineStart)
    }

    pub(super) fn line_for_log(&self) -> String {
        line_for_log(&self.facts.line, self.facts.line_done)
    }
}

/// A request line as the log shows it: up to its end (a CR or LF), at most
/// [`LINE_PREFIX`] bytes of it, non-printable bytes escaped so that a
/// request cannot forge log lines, and `...` where it was cut short.
/// `whole`: the line's end has been read, even if `line` stops before it.
pub(crate) fn line_for_log(line: &[u8], whole: bool) -> String {
    let end = line.iter().position(|&b| b == b'\r' || b == b'\n');
    let shown = end.unwrap_or(line.len()).min(LINE_PREFIX);
    let mut text: String = line[..shown]
        .iter()
        .flat_map(|&b| std::ascii::escape_default(b))
        .map(char::from)
        .collect();
    let cut = match end {
        Some(end) => end > LINE_PREFIX,
        None => !whole && line.len() >= LINE_PREFIX,
    };
    if cut {
        text.push_str("...");
    }
    text
}
