//! The checker as the parser of a connection that reads its requests
//! itself: the same states and checks as [`Http1Check::check`], stopping
//! where a head ends and telling a body's content from its framing.

use std::ops::Range;

use super::{Http1Check, Refusal, Refused, State};

/// How the body of a request whose head was just read is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyFraming {
    /// No body.
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// Chunks, ended by a last chunk and trailers.
    Chunked,
}

/// One step of reading a connection's bytes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Every byte was read, and the head they begin is not whole yet.
    MoreHead,
    /// A request head ended `used` bytes in.
    Head {
        used: usize,
        body: BodyFraming,
        /// The request may switch protocols (a CONNECT, an Upgrade): what
        /// follows it is not read until it is answered.
        may_switch: bool,
    },
    /// `used` bytes of a body were read, `data` of them its content;
    /// `end` when the body ended with them.
    Body {
        used: usize,
        data: Range<usize>,
        end: bool,
    },
    /// A request is refused while its head was read.
    Refuse(Refusal),
    /// The body being read is malformed.
    Broken(Refusal),
}

impl Http1Check {
    /// Reads the next of `bytes`, rewriting an `HTTP/1.x` version above
    /// 1.1 to `HTTP/1.1` in place: up to a head's end, or one run of body
    /// content with the framing before it. After a refusal nothing more
    /// is read.
    pub(crate) fn read(&mut self, bytes: &mut [u8]) -> Step {
        if self.in_body() {
            return self.read_body(bytes);
        }
        let heads = self.heads;
        let mut at = 0;
        while at < bytes.len() {
            let step = match self.state {
                State::Refused => return Step::MoreHead,
                State::Start if self.head_len == 0 => match self.whole_head(&bytes[at..]) {
                    Some(used) => Ok(used),
                    None => self.step_head(bytes, at),
                },
                _ => self.step_head(bytes, at),
            };
            match step {
                Ok(used) => at += used,
                Err(refused) => return Step::Refuse(self.refusal(refused)),
            }
            if self.heads != heads {
                return Step::Head {
                    used: at,
                    body: self.framing(),
                    may_switch: self.may_switch,
                };
            }
        }
        Step::MoreHead
    }

    /// The framing of the body that follows the head just read.
    fn framing(&self) -> BodyFraming {
        match self.state {
            State::Body(length) => BodyFraming::Length(length),
            State::Start => BodyFraming::Empty,
            _ => BodyFraming::Chunked,
        }
    }

    fn read_body(&mut self, bytes: &[u8]) -> Step {
        let mut at = 0;
        loop {
            match self.state {
                State::Body(left) | State::ChunkData(left) => {
                    let n = left.min((bytes.len() - at) as u64);
                    self.skip(n);
                    let end = at + n as usize;
                    return Step::Body {
                        used: end,
                        data: at..end,
                        end: !self.in_body(),
                    };
                }
                _ if !self.in_body() => {
                    return Step::Body {
                        used: at,
                        data: at..at,
                        end: true,
                    };
                }
                _ if at == bytes.len() => {
                    return Step::Body {
                        used: at,
                        data: at..at,
                        end: false,
                    };
                }
                _ => match self.step_chunked(bytes[at]) {
                    Ok(used) => at += used,
                    Err(refused) => return Step::Broken(self.refusal(refused)),
                },
            }
        }
    }

    /// The refusal for a failed step; nothing more is read.
    fn refusal(&mut self, (status, reason): Refused) -> Refusal {
        let refusal = Refusal {
            status,
            reason,
            request_line: self.request_line(),
        };
        self.state = State::Refused;
        refusal
    }
}
