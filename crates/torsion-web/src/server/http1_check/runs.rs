//! Runs: the bytes that only go on with what is being read, taken in one
//! tight loop instead of one pass through the state machine each. A
//! browser's request head is mostly such runs.

use super::classes::{FIELD_VALUE, TARGET, TCHAR};
use super::{Http1Check, LINE_PREFIX, State};

impl Http1Check {
    /// Takes the bytes at the start of `rest` that only go on with what
    /// is being read (a method, a request target, a field name, a field
    /// value, or `HTTP/1.1` whole), with the same checks as
    /// [`next`](Self::next) makes byte by byte, and says how many; 0 when
    /// the next byte needs `next`.
    pub(super) fn take_run(&mut self, rest: &[u8]) -> usize {
        let facts = &mut self.facts;
        match self.state {
            State::Method => {
                let n = TCHAR.run(rest);
                for &byte in &rest[..n] {
                    if let Some(slot) = facts.method.get_mut(facts.method_len) {
                        *slot = byte;
                    }
                    facts.method_len += 1;
                }
                let room = LINE_PREFIX.saturating_sub(facts.line.len());
                facts.line.extend_from_slice(&rest[..n.min(room)]);
                n
            }
            // Nearly every request is HTTP/1.1: its eight bytes at once,
            // as `version` would take them one by one.
            State::Version(0) if rest.starts_with(b"HTTP/1.1") => {
                const VERSION: &[u8] = b"HTTP/1.1";
                facts.major = 1;
                facts.minor = 1;
                let room = LINE_PREFIX.saturating_sub(facts.line.len());
                facts
                    .line
                    .extend_from_slice(&VERSION[..VERSION.len().min(room)]);
                self.state = State::Version(VERSION.len() as u8);
                VERSION.len()
            }
            State::Target => {
                let n = TARGET.run(rest);
                facts.target = facts.target.read(&rest[..n]);
                let room = LINE_PREFIX.saturating_sub(facts.line.len());
                facts.line.extend_from_slice(&rest[..n.min(room)]);
                n
            }
            State::Name => {
                let n = TCHAR.run(rest);
                for &byte in &rest[..n] {
                    if let Some(slot) = facts.name.get_mut(facts.name_len) {
                        *slot = byte;
                    }
                    facts.name_len += 1;
                }
                n
            }
            State::Value => {
                let n = FIELD_VALUE.long_run(rest);
                facts.value_bytes(&rest[..n]);
                n
            }
            _ => 0,
        }
    }
}
