//! The common case at full speed: a request head that arrived whole, read
//! line by line in straight code instead of one pass through the state
//! machine for each token.
//!
//! It only ever accepts. It applies the same byte classes and calls the
//! same checks (`request_line_end`, `name_end`, `value_end`, `head_end`)
//! as the state machine, and gives up on anything it does not follow
//! (a head cut short, `HTTP/1.2`, empty lines before the request, any byte
//! the state machine would refuse): the state machine then reads the same
//! bytes from the request's start, so every refusal, with its status and
//! reason, is the state machine's.

use super::classes::{FIELD_VALUE, TARGET, TCHAR};
use super::fields::Field;
use super::{Http1Check, LINE_PREFIX, State};

impl Http1Check {
    /// Reads a whole request head at the start of `bytes`, where a request
    /// starts: how many bytes it took, or `None` (with nothing changed)
    /// when the state machine must read it.
    pub(super) fn whole_head(&mut self, bytes: &[u8]) -> Option<usize> {
        debug_assert!(matches!(self.state, State::Start) && self.head_len == 0);
        #[cfg(test)]
        if self.state_machine_only {
            return None;
        }
        let read = self.read_whole_head(bytes);
        if read.is_none() {
            // Back to where the request starts, as the last one's end left
            // it, for the state machine to read it.
            self.request_done();
        }
        read
    }

    fn read_whole_head(&mut self, bytes: &[u8]) -> Option<usize> {
        // Bytes past the head's limit are never looked at.
        let bytes = &bytes[..bytes.len().min(self.max_head)];
        let line_end = self.whole_request_line(bytes)?;
        let mut at = line_end;
        loop {
            match *bytes.get(at)? {
                b'\r' if *bytes.get(at + 1)? == b'\n' => {
                    at += 2;
                    break;
                }
                b'\n' => {
                    at += 1;
                    break;
                }
                _ => at = self.whole_field_line(bytes, at)?,
            }
        }
        self.state = self.head_end().ok()?;
        if self.state != State::Start {
            // Only a refusal in the body that follows logs the line.
            let line = &bytes[..line_end.min(LINE_PREFIX)];
            self.facts.line.extend_from_slice(line);
        }
        Some(at)
    }

    /// The request line, `METHOD TARGET HTTP/1.x`: where the next line
    /// starts.
    fn whole_request_line(&mut self, bytes: &[u8]) -> Option<usize> {
        let facts = &mut self.facts;
        let method = TCHAR.run(bytes);
        if method == 0 || *bytes.get(method)? != b' ' {
            return None;
        }
        self.spans.begin(0);
        self.spans.method_end(method);
        let slot = method.min(facts.method.len());
        facts.method[..slot].copy_from_slice(&bytes[..slot]);
        facts.method_len = method;
        let target_at = method + 1;
        let target = TARGET.run(&bytes[target_at..]);
        let version_at = target_at + target;
        if target == 0 || *bytes.get(version_at)? != b' ' {
            return None;
        }
        facts.target = facts.target.read(&bytes[target_at..version_at]);
        self.spans.target_end(version_at);
        let version = bytes.get(version_at + 1..version_at + 9)?;
        (facts.major, facts.minor) = match version {
            b"HTTP/1.1" => (1, 1),
            b"HTTP/1.0" => (1, 0),
            _ => return None,
        };
        let end = line_end(bytes, version_at + 9)?;
        self.request_line_end().ok()?;
        Some(end)
    }

    /// One field line, `name:value`, starting at `at`: where the next line
    /// starts.
    fn whole_field_line(&mut self, bytes: &[u8], at: usize) -> Option<usize> {
        self.headers += 1;
        if self.headers > self.max_headers {
            return None;
        }
        let name = TCHAR.run(&bytes[at..]);
        let colon = at + name;
        if name == 0 || *bytes.get(colon)? != b':' {
            return None;
        }
        let field = Field::named(&bytes[at..colon]);
        self.field_named(field).ok()?;
        let value_at = colon + 1;
        let value = FIELD_VALUE.long_run(&bytes[value_at..]);
        self.facts.value_bytes(&bytes[value_at..value_at + value]);
        self.spans.field(at);
        self.spans.colon(colon, field);
        self.spans.value_end(value_at + value);
        let end = line_end(bytes, value_at + value)?;
        self.value_end().ok()?;
        Some(end)
    }
}

/// Where the line whose end is due at `at` (CRLF, or a bare LF) is
/// followed by the next; `None` when anything else is there.
fn line_end(bytes: &[u8], at: usize) -> Option<usize> {
    match *bytes.get(at)? {
        b'\n' => Some(at + 1),
        b'\r' if *bytes.get(at + 1)? == b'\n' => Some(at + 2),
        _ => None,
    }
}
