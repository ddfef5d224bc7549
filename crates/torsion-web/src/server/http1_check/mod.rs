//! The HTTP/1 request parser of torsion-web's own connection
//! (`server::http1`): it reads a connection's bytes as they arrive, says
//! where each request head ends, how its body is framed and which of the
//! body's bytes are content, and notes where the parts of the head lie
//! (see [`HeadSpans`]) so that the connection takes the head apart without
//! looking for them again.
//!
//! It holds requests to RFC 9112 where a lenient parser lets them
//! through: it refuses no Host, two Hosts, `Transfer-Encoding: chunked,
//! chunked`, an authority-form target on GET, and obsolete line folding
//! and bare CRs (which a server may repair instead, at the risk of reading
//! a request otherwise than a proxy in front of it did). And it serves
//! `HTTP/1.2`, which RFC 9110 section 2.5 has a server answer as the
//! highest 1.x it speaks. It reads every byte once
//! and follows each request's framing (its head, then its body by
//! Content-Length or by chunks), so that it knows where the next request
//! of a pipeline starts. It never stores a request: the connection keeps
//! the bytes, and the parser's state is a few counters, the spans of the
//! head being read, and a short prefix of the request line, kept for the
//! log.
//!
//! A refused request is answered by the connection after the requests
//! before it, and the connection then closes: after a refusal the parser
//! reads nothing more.

mod chunked;
mod classes;
mod fields;
mod request_line;
mod runs;
mod spans;
mod target;
#[cfg(test)]
mod tests;
mod whole_head;

use std::ops::Range;

use http::StatusCode;

use classes::{FIELD_VALUE, TCHAR};
use fields::{Codings, Field, HostSyntax, LONGEST_NAME, LengthSyntax};
pub(crate) use request_line::line_for_log;
pub(crate) use spans::HeadSpans;
use target::TargetForm;

/// How much of a request line is kept for the log.
const LINE_PREFIX: usize = 96;

/// Why a request is refused, as the response and the log say it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// The status of the response that refuses it.
    pub(crate) status: StatusCode,
    /// What was wrong, for the log.
    pub(crate) reason: &'static str,
    /// The request line as far as it was read, truncated for the log.
    pub(crate) request_line: Option<String>,
}

/// How the body of a request whose head was just read is framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyFraming {
    /// No body.
    Empty,
    /// `Content-Length` bytes, never 0.
    Length(u64),
    /// Chunks, ended by a last chunk and trailers.
    Chunked,
}

/// One step of reading a connection's bytes, as [`Http1Check::read`]
/// gives it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Every byte was read, and the head they begin is not whole yet.
    MoreHead,
    /// A request head ended `used` bytes in; the bytes after it are not
    /// read yet.
    Head {
        /// How many of the bytes, from the start, the head took.
        used: usize,
        /// How the body that follows is framed.
        body: BodyFraming,
        /// The request may switch protocols (a CONNECT, an Upgrade): what
        /// follows it is not read until it is answered.
        may_switch: bool,
    },
    /// Bytes of a body were read.
    Body {
        /// How many of the bytes, from the start, were read: all of them,
        /// unless a run of content or the body ended first.
        used: usize,
        /// Where the body's content lies in them; the rest is the chunked
        /// framing around it.
        data: Range<usize>,
        /// The body ended with them.
        end: bool,
    },
    /// A request is refused while its head was read.
    Refuse(Refusal),
    /// The body being read is malformed.
    Broken(Refusal),
}

/// Where in a request the parser is. A `...Lf` state follows a CR and
/// wants the LF that ends the line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Before a request line; empty lines are skipped (RFC 9112, 2.2).
    Start,
    StartLf,
    Method,
    Target,
    /// How many bytes of `HTTP/d.d` have been read.
    Version(u8),
    RequestLineLf,
    /// The start of a field line, or of the empty line ending the head.
    LineStart,
    Name,
    /// After a field name's colon.
    Value,
    ValueLf,
    HeadEndLf,
    /// In a body of known length, with how many bytes are left.
    Body(u64),
    /// A chunk's size line: how many digits and the size they make.
    ChunkSize {
        digits: u8,
        size: u64,
    },
    /// Whitespace after a chunk's size.
    ChunkSizeSpace(u64),
    /// A chunk extension, with how many bytes of it were read.
    ChunkExtension {
        size: u64,
        len: usize,
    },
    ChunkSizeLf(u64),
    /// In a chunk's data, with how many bytes are left.
    ChunkData(u64),
    /// After a chunk's data, where its CR is due.
    ChunkDataCr,
    ChunkDataLf,
    /// The start of a trailer field line, or of the empty line ending the
    /// trailers.
    TrailerStart,
    Trailer,
    TrailerLf,
    TrailersEndLf,
    /// A request was refused: nothing more is read.
    Refused,
}

/// What is known of the request being read.
#[derive(Clone, Default)]
struct Facts {
    method: [u8; 8],
    method_len: usize,
    target: TargetForm,
    major: u8,
    minor: u8,
    name: [u8; LONGEST_NAME],
    name_len: usize,
    field: Option<Field>,
    hosts: u8,
    host: HostSyntax,
    lengths: u8,
    length: LengthSyntax,
    codings: Codings,
    upgrade: bool,
    /// The start of the request line, for the log.
    line: Vec<u8>,
    /// The request line was read whole.
    line_done: bool,
}

impl Facts {
    /// Whether the method is `name`.
    fn method_is(&self, name: &[u8]) -> bool {
        self.method_len <= self.method.len() && &self.method[..self.method_len] == name
    }

    /// Whether the request is an HTTP/1.0 one.
    fn http10(&self) -> bool {
        self.major == 1 && self.minor == 0
    }
}

/// The parser of one HTTP/1 connection's requests.
#[derive(Debug)]
pub(crate) struct Http1Check {
    max_head: usize,
    max_headers: usize,
    state: State,
    /// Request heads read whole: [`read`](Self::read) sees that one ended
    /// when the count moves, whichever of the two readers of a head read
    /// it.
    heads: u64,
    /// The last head read whole was a CONNECT's or carried Upgrade.
    may_switch: bool,
    /// The bytes of the head (or trailers) read so far, held to
    /// `max_head`.
    head_len: usize,
    /// The field lines of the head read so far, held to `max_headers`.
    headers: usize,
    facts: Facts,
    /// Where the parts of the head being read lie.
    spans: HeadSpans,
    /// Tests turn [`whole_head`](Self::whole_head) off, to hold it to
    /// what the state machine does with the same bytes.
    #[cfg(test)]
    state_machine_only: bool,
}

impl std::fmt::Debug for Facts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Facts").finish_non_exhaustive()
    }
}

/// A refusal's status and reason, for the byte being read.
type Refused = (StatusCode, &'static str);

impl Http1Check {
    /// A parser refusing heads longer than `max_head` bytes (431, or 414
    /// when the request line alone is that long) or with more than
    /// `max_headers` fields (431).
    pub(crate) fn new(max_head: usize, max_headers: usize) -> Http1Check {
        Http1Check {
            max_head,
            max_headers,
            state: State::Start,
            heads: 0,
            may_switch: false,
            head_len: 0,
            headers: 0,
            facts: Facts::default(),
            spans: HeadSpans::default(),
            #[cfg(test)]
            state_machine_only: false,
        }
    }

    /// Reads the next of `bytes`, rewriting an `HTTP/1.x` version above
    /// 1.1 to `HTTP/1.1` in place: up to a head's end, or one run of body
    /// content with the framing before it. The bytes not used are the
    /// caller's to give again, after more if it likes, with the call that
    /// reads on; the bytes of a head cut short ([`Step::MoreHead`]) are
    /// read already and are not given again. After a refusal nothing more
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

    /// Where the parts of the head just read lie in its bytes.
    pub(crate) fn spans(&self) -> &HeadSpans {
        &self.spans
    }

    /// Lets go of the memory the spans of the heads read so far took, for
    /// a connection at rest between requests; the next head takes it again.
    pub(crate) fn release_spans(&mut self) {
        self.spans = HeadSpans::default();
    }

    /// The request line read so far, for the log.
    pub(crate) fn request_line(&self) -> Option<String> {
        (!self.facts.line.is_empty()).then(|| self.line_for_log())
    }

    /// The framing of the body that follows the head just read.
    fn framing(&self) -> BodyFraming {
        match self.state {
            State::Body(length) => BodyFraming::Length(length),
            State::Start => BodyFraming::Empty,
            _ => BodyFraming::Chunked,
        }
    }

    /// Reads a body's bytes up to the end of its next run of content, or
    /// its end.
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

    /// `n` body bytes of a known length went by.
    fn skip(&mut self, n: u64) {
        match &mut self.state {
            State::Body(left) => {
                *left -= n;
                if *left == 0 {
                    self.request_done();
                }
            }
            State::ChunkData(left) => {
                *left -= n;
                if *left == 0 {
                    self.state = State::ChunkDataCr;
                }
            }
            _ => {}
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

    /// Whether a body is being read (its framing included).
    fn in_body(&self) -> bool {
        matches!(
            self.state,
            State::Body(_)
                | State::ChunkSize { .. }
                | State::ChunkSizeSpace(_)
                | State::ChunkExtension { .. }
                | State::ChunkSizeLf(_)
                | State::ChunkData(_)
                | State::ChunkDataCr
                | State::ChunkDataLf
                | State::TrailerStart
                | State::Trailer
                | State::TrailerLf
                | State::TrailersEndLf
        )
    }

    /// Reads part of a head from `bytes[at]` on: a run of bytes that only
    /// go on with what is being read, then the byte that ends it, in one
    /// step (a head is mostly runs). Gives how many bytes were used.
    fn step_head(&mut self, bytes: &mut [u8], at: usize) -> Result<usize, Refused> {
        // A run stops at the head's limit, so that the line logged with a
        // refusal is the same however the bytes were split.
        let limit = bytes.len().min(at + (self.max_head - self.head_len));
        let end = at + self.take_run(&bytes[at..limit]);
        let ends_here = end < bytes.len();
        let used = end - at + usize::from(ends_here);
        self.head_len += used;
        if self.head_len > self.max_head {
            return Err(self.head_too_large());
        }
        if ends_here {
            let byte = bytes[end];
            let in_line = matches!(
                self.state,
                State::Method | State::Target | State::Version(_) | State::RequestLineLf
            );
            if in_line && self.facts.line.len() < LINE_PREFIX {
                self.facts.line.push(byte);
            }
            // Where the byte lies in the head.
            let offset = self.head_len - 1;
            self.state = self.next(byte, offset, &mut bytes[end])?;
        }
        Ok(used)
    }

    /// Reads one byte of a chunked body's framing or trailers.
    fn step_chunked(&mut self, byte: u8) -> Result<usize, Refused> {
        if matches!(
            self.state,
            State::TrailerStart | State::Trailer | State::TrailerLf | State::TrailersEndLf
        ) {
            // Trailers count against the head's limit, from the head's end.
            self.head_len += 1;
            if self.head_len > self.max_head {
                return Err((StatusCode::BAD_REQUEST, "trailer section too large"));
            }
        }
        self.state = self.next_in_chunks(byte)?;
        Ok(1)
    }

    /// The refusal of a head past the limit.
    fn head_too_large(&self) -> Refused {
        if self.facts.line_done {
            (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "request head too large",
            )
        } else {
            (StatusCode::URI_TOO_LONG, "request line too long")
        }
    }

    /// The state after `byte` of a head, which lies `offset` bytes into
    /// the head; `slot` holds it, for the version's rewrite.
    fn next(&mut self, byte: u8, offset: usize, slot: &mut u8) -> Result<State, Refused> {
        const BAD: StatusCode = StatusCode::BAD_REQUEST;
        let facts = &mut self.facts;
        Ok(match self.state {
            State::Start => match byte {
                b'\r' => State::StartLf,
                b'\n' => State::Start,
                _ if TCHAR.contains(byte) => {
                    self.spans.begin(offset);
                    facts.line.clear();
                    facts.line.push(byte);
                    facts.method[0] = byte;
                    facts.method_len = 1;
                    State::Method
                }
                _ => return Err((BAD, "malformed request line")),
            },
            State::StartLf => match byte {
                b'\n' => State::Start,
                _ => return Err((BAD, "bare CR before the request line")),
            },
            State::Method => match byte {
                b' ' => {
                    self.spans.method_end(offset);
                    State::Target
                }
                _ if TCHAR.contains(byte) => {
                    if let Some(slot) = facts.method.get_mut(facts.method_len) {
                        *slot = byte;
                    }
                    facts.method_len += 1;
                    State::Method
                }
                _ => return Err((BAD, "malformed method")),
            },
            State::Target => match byte {
                b' ' if facts.target != TargetForm::Empty => {
                    self.spans.target_end(offset);
                    State::Version(0)
                }
                0x21..=0x7e => {
                    facts.target = facts.target.next(byte);
                    State::Target
                }
                _ => return Err((BAD, "malformed request target")),
            },
            State::Version(n) => self.version(n, byte, slot)?,
            State::RequestLineLf => match byte {
                b'\n' => self.request_line_end()?,
                _ => return Err((BAD, "bare CR in the request line")),
            },
            State::LineStart => match byte {
                b'\r' => State::HeadEndLf,
                b'\n' => self.head_end()?,
                b' ' | b'\t' => return Err((BAD, "obsolete line folding")),
                _ if TCHAR.contains(byte) => {
                    self.headers += 1;
                    if self.headers > self.max_headers {
                        return Err((
                            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                            "too many header fields",
                        ));
                    }
                    facts.name[0] = byte;
                    facts.name_len = 1;
                    self.spans.field(offset);
                    State::Name
                }
                _ => return Err((BAD, "malformed header field name")),
            },
            State::Name => match byte {
                b':' => {
                    let state = self.name_end()?;
                    let named = self.facts.field.unwrap_or(Field::Other);
                    self.spans.colon(offset, named);
                    state
                }
                b' ' | b'\t' => return Err((BAD, "whitespace before a header field's colon")),
                _ if TCHAR.contains(byte) => {
                    if let Some(slot) = facts.name.get_mut(facts.name_len) {
                        *slot = byte;
                    }
                    facts.name_len += 1;
                    State::Name
                }
                _ => return Err((BAD, "malformed header field name")),
            },
            State::Value => match byte {
                b'\r' => {
                    self.spans.value_end(offset);
                    State::ValueLf
                }
                b'\n' => {
                    self.spans.value_end(offset);
                    self.value_end()?
                }
                _ if FIELD_VALUE.contains(byte) => {
                    facts.value_bytes(&[byte]);
                    State::Value
                }
                _ => return Err((BAD, "control character in a header field value")),
            },
            State::ValueLf => match byte {
                b'\n' => self.value_end()?,
                _ => return Err((BAD, "bare CR in a header field")),
            },
            State::HeadEndLf => match byte {
                b'\n' => self.head_end()?,
                _ => return Err((BAD, "bare CR at the end of the head")),
            },
            // A body's framing is `step_chunked`'s.
            _ => self.state,
        })
    }

    /// A field line's name was read whole by the state machine.
    fn name_end(&mut self) -> Result<State, Refused> {
        let facts = &self.facts;
        let field = if facts.name_len <= LONGEST_NAME {
            Field::named(&facts.name[..facts.name_len])
        } else {
            Field::Other
        };
        self.field_named(field)
    }

    /// A field line's name was read whole: it names `field`.
    fn field_named(&mut self, field: Field) -> Result<State, Refused> {
        let facts = &mut self.facts;
        match field {
            Field::Host => {
                facts.hosts += 1;
                if facts.hosts > 1 {
                    return Err((StatusCode::BAD_REQUEST, "more than one Host"));
                }
            }
            // Present even when its value turns out empty.
            Field::TransferEncoding => facts.codings.present = true,
            Field::ContentLength => {
                facts.lengths += 1;
                if facts.lengths > 1 {
                    return Err((StatusCode::BAD_REQUEST, "more than one Content-Length"));
                }
            }
            _ => {}
        }
        facts.field = Some(field);
        Ok(State::Value)
    }

    /// A field line's value was read whole: the checks of the fields
    /// that decide the framing and the target.
    fn value_end(&mut self) -> Result<State, Refused> {
        let facts = &mut self.facts;
        match facts.field.take() {
            Some(Field::Host) if !facts.host.is_valid() => {
                return Err((StatusCode::BAD_REQUEST, "invalid Host"));
            }
            Some(Field::ContentLength) if facts.length.value().is_none() => {
                return Err((StatusCode::BAD_REQUEST, "invalid Content-Length"));
            }
            Some(Field::TransferEncoding) => facts.codings.end_line(),
            _ => {}
        }
        Ok(State::LineStart)
    }

    /// The head is whole: the checks that need all of it, then the body's
    /// framing (RFC 9112, section 6).
    fn head_end(&mut self) -> Result<State, Refused> {
        const BAD: StatusCode = StatusCode::BAD_REQUEST;
        let facts = &self.facts;
        let codings = facts.codings;
        if codings.present {
            if facts.http10() {
                return Err((BAD, "Transfer-Encoding in an HTTP/1.0 request"));
            }
            if facts.lengths > 0 {
                return Err((BAD, "both Content-Length and Transfer-Encoding"));
            }
            if codings.malformed {
                return Err((BAD, "malformed Transfer-Encoding"));
            }
            if codings.chunked == 0 && !codings.unknown {
                return Err((BAD, "empty Transfer-Encoding"));
            }
            if codings.chunked > 1 {
                return Err((BAD, "chunked applied more than once"));
            }
            if !codings.last_is_chunked {
                return Err((BAD, "chunked is not the final transfer coding"));
            }
            if codings.unknown {
                return Err((StatusCode::NOT_IMPLEMENTED, "unsupported transfer coding"));
            }
        }
        if facts.hosts == 0 && !facts.http10() {
            return Err((BAD, "no Host in an HTTP/1.1 request"));
        }
        self.heads += 1;
        self.spans.http10 = facts.http10();
        self.may_switch = facts.upgrade || facts.method_is(b"CONNECT");
        let length = facts.length.value().unwrap_or(0);
        self.head_len = 0;
        Ok(if codings.present {
            State::ChunkSize { digits: 0, size: 0 }
        } else if length > 0 {
            State::Body(length)
        } else {
            self.request_done();
            State::Start
        })
    }

    /// The request is read whole; the next one may start.
    fn request_done(&mut self) {
        self.state = State::Start;
        self.head_len = 0;
        self.headers = 0;
        let line = std::mem::take(&mut self.facts.line);
        self.facts = Facts {
            line,
            ..Facts::default()
        };
        self.facts.line.clear();
    }
}
