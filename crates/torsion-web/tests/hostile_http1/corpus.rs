//! The malformed-request corpus (tests/data/http1-corpus.txt): reading its
//! cases, playing one against a server over a raw socket, and reading the
//! responses back.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// The corpus, as kept in the repository.
pub const CORPUS: &str = include_str!("../data/http1-corpus.txt");

/// Sent after every case: answered only if the connection stays open.
pub const PROBE: &[u8] = b"GET / HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n";

/// How long one case may take before it counts as hung.
const CASE_LIMIT: Duration = Duration::from_secs(5);

/// Which application the server serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Served {
    StaticFiles,
    Router,
}

/// One response the case expects, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The application answered (any status).
    App,
    /// The server answered this status without calling the application.
    Server(u16),
}

/// Whether the server closes the connection after the case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Closed,
    Open,
}

/// One case of the corpus.
#[derive(Debug)]
pub struct Case {
    pub name: String,
    pub bytes: Vec<u8>,
    pub answers: Vec<Answer>,
    pub outcome: Outcome,
    /// What the static-file server does instead, where it differs.
    pub static_files: Option<(Vec<Answer>, Outcome)>,
}

impl Case {
    /// The responses expected with the probe (one more from the
    /// application when the connection stays open), and the outcome.
    pub fn expected(&self, server: Served) -> (Vec<Answer>, Outcome) {
        let (mut answers, outcome) = match (&self.static_files, server) {
            (Some((answers, outcome)), Served::StaticFiles) => (answers.clone(), *outcome),
            _ => (self.answers.clone(), self.outcome),
        };
        if outcome == Outcome::Open {
            answers.push(Answer::App);
        }
        (answers, outcome)
    }
}

/// Reads every case; panics naming the line of anything malformed.
pub fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut current: Option<Case> = None;
    for (number, line) in CORPUS.lines().enumerate() {
        let at = || format!("http1-corpus.txt line {}", number + 1);
        if let Some(name) = line.strip_prefix("== ") {
            cases.extend(current.take());
            current = Some(Case {
                name: name.trim().to_owned(),
                bytes: Vec::new(),
                answers: Vec::new(),
                outcome: Outcome::Closed,
                static_files: None,
            });
        } else if let Some(bytes) = line.strip_prefix("> ") {
            let case = current
                .as_mut()
                .unwrap_or_else(|| panic!("{}: no case", at()));
            case.bytes
                .extend(unescape(bytes).unwrap_or_else(|e| panic!("{}: {e}", at())));
        } else if let Some(expect) = line.strip_prefix("expect:") {
            let case = current
                .as_mut()
                .unwrap_or_else(|| panic!("{}: no case", at()));
            (case.answers, case.outcome) =
                expectation(expect).unwrap_or_else(|e| panic!("{}: {e}", at()));
        } else if let Some(expect) = line.strip_prefix("static files:") {
            let case = current
                .as_mut()
                .unwrap_or_else(|| panic!("{}: no case", at()));
            case.static_files =
                Some(expectation(expect).unwrap_or_else(|e| panic!("{}: {e}", at())));
        } else if !(line.is_empty() || line.starts_with('#') || line.starts_with("note:")) {
            panic!("{}: cannot read {line:?}", at());
        }
    }
    cases.extend(current);
    for case in &cases {
        assert!(!case.bytes.is_empty(), "case {} sends nothing", case.name);
    }
    cases
}

/// `ok 400 closed`: the answers and the outcome.
fn expectation(text: &str) -> Result<(Vec<Answer>, Outcome), String> {
    let mut words: Vec<&str> = text.split_whitespace().collect();
    let outcome = match words.pop() {
        Some("closed") => Outcome::Closed,
        Some("open") => Outcome::Open,
        other => return Err(format!("ends with {other:?}, not closed or open")),
    };
    let answers = words
        .iter()
        .map(|word| match *word {
            "ok" => Ok(Answer::App),
            status => status
                .parse()
                .map(Answer::Server)
                .map_err(|_| format!("bad answer {status}")),
        })
        .collect::<Result<_, _>>()?;
    Ok((answers, outcome))
}

/// The corpus's escapes: \r \n \t \0 \\ \xHH and \{N*text}.
fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let escape = *bytes.get(i + 1).ok_or("a lone \\ at the end")?;
        i += 2;
        match escape {
            b'r' => out.push(b'\r'),
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'0' => out.push(0),
            b'\\' => out.push(b'\\'),
            b'x' => {
                let hex = text.get(i..i + 2).ok_or("\\x needs two hex digits")?;
                out.push(u8::from_str_radix(hex, 16).map_err(|e| format!("\\x{hex}: {e}"))?);
                i += 2;
            }
            b'{' => {
                let end = text[i..].find('}').ok_or("\\{ without }")? + i;
                let (count, repeated) = text[i..end].split_once('*').ok_or("\\{N*text}")?;
                let count: usize = count.parse().map_err(|e| format!("\\{{{count}: {e}"))?;
                let repeated = unescape(repeated)?;
                for _ in 0..count {
                    out.extend_from_slice(&repeated);
                }
                i = end + 1;
            }
            other => return Err(format!("unknown escape \\{}", other as char)),
        }
    }
    Ok(out)
}

/// What came back for a case.
#[derive(Debug, PartialEq, Eq)]
pub struct Observed {
    pub statuses: Vec<u16>,
    pub closed: bool,
    /// Bytes that did not parse as a response, if any.
    pub garbage: Option<String>,
}

/// Sends the case and the probe on a new connection, reads until the
/// server closes (or the case's time is up), and parses the responses.
pub fn play(address: SocketAddr, case: &Case) -> Observed {
    let mut stream = TcpStream::connect(address).unwrap();
    let deadline = Instant::now() + CASE_LIMIT;
    let mut sent = case.bytes.clone();
    sent.extend_from_slice(PROBE);
    // The server may close before taking everything (a refused head):
    // what matters is what it answers.
    let _ = stream.write_all(&sent);
    let mut received = Vec::new();
    let mut closed = false;
    let mut chunk = [0u8; 16 * 1024];
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        match stream.read(&mut chunk) {
            Ok(0) => {
                closed = true;
                break;
            }
            Ok(n) => received.extend_from_slice(&chunk[..n]),
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => {
                // Reset: the server closed with bytes of ours unread.
                closed = true;
                break;
            }
        }
    }
    let (statuses, garbage) = parse_responses(&received);
    Observed {
        statuses,
        closed,
        garbage,
    }
}

/// The statuses of the responses in `bytes`, and what did not parse.
fn parse_responses(mut bytes: &[u8]) -> (Vec<u16>, Option<String>) {
    let mut statuses = Vec::new();
    while !bytes.is_empty() {
        let Some(head_end) = find(bytes, b"\r\n\r\n") else {
            return (statuses, Some(lossy(bytes)));
        };
        let head = String::from_utf8_lossy(&bytes[..head_end]).to_ascii_lowercase();
        let status = head
            .strip_prefix("http/1.1 ")
            .or_else(|| head.strip_prefix("http/1.0 "))
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse::<u16>().ok());
        let Some(status) = status else {
            return (statuses, Some(lossy(bytes)));
        };
        statuses.push(status);
        bytes = &bytes[head_end + 4..];
        let header = |name: &str| {
            head.lines()
                .find_map(|line| line.strip_prefix(name))
                .map(|value| value.trim().to_owned())
        };
        if status == 204 || status == 304 || status < 200 {
            continue;
        }
        if let Some(length) = header("content-length:") {
            let length: usize = length.parse().unwrap_or(0);
            bytes = &bytes[length.min(bytes.len())..];
        } else if header("transfer-encoding:").is_some_and(|te| te.contains("chunked")) {
            loop {
                let Some(line_end) = find(bytes, b"\r\n") else {
                    return (statuses, Some(lossy(bytes)));
                };
                let size = std::str::from_utf8(&bytes[..line_end])
                    .ok()
                    .and_then(|size| usize::from_str_radix(size.split(';').next()?, 16).ok());
                let Some(size) = size else {
                    return (statuses, Some(lossy(bytes)));
                };
                let end = (line_end + 2 + size + 2).min(bytes.len());
                bytes = &bytes[end..];
                if size == 0 {
                    break;
                }
            }
        } else {
            bytes = &[];
        }
    }
    (statuses, None)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned()
}
