//! The services file of `torsion run`: TOML, one `[[service]]` table per
//! service, read with its spans so that every mistake is reported with the
//! line it is on.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

/// The kinds of service a file may name, with what each needs.
pub(crate) const KINDS: &[(&str, &str)] = &[
    ("static", "listen, path; listing, hidden, shutdown_timeout"),
    ("router", "listen, routes"),
    ("echo", "listen"),
    ("line-chat", "listen; room"),
    ("websocket-chat", "listen; room"),
    ("rate-poller", "source; listen, interval"),
];

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    service: Vec<Spanned<Entry>>,
}

/// One `[[service]]` table as written: every field any kind takes, so that
/// serde reports an unknown one; which belong to the kind is checked after.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: Spanned<String>,
    kind: Spanned<String>,
    listen: Option<Spanned<String>>,
    path: Option<Spanned<PathBuf>>,
    listing: Option<Spanned<bool>>,
    hidden: Option<Spanned<bool>>,
    shutdown_timeout: Option<Spanned<f64>>,
    routes: Option<Spanned<Vec<Spanned<Route>>>>,
    room: Option<Spanned<String>>,
    source: Option<Spanned<String>>,
    interval: Option<Spanned<f64>>,
}

/// One route of a `router` service: a fixed answer at a path.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Route {
    /// The path pattern (`/hello/{name}`), as `Router` takes it.
    pub(crate) path: String,
    /// The method; GET unless told.
    #[serde(default = "get")]
    pub(crate) method: String,
    /// The status code; 200 unless told.
    #[serde(default = "ok")]
    pub(crate) status: u16,
    /// A text body (text/plain).
    pub(crate) text: Option<String>,
    /// A JSON body, written as TOML.
    pub(crate) json: Option<toml::Value>,
}

fn get() -> String {
    "GET".to_owned()
}

fn ok() -> u16 {
    200
}

/// A service of the file, checked: its kind has what it needs.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    /// The unique name.
    pub(crate) name: String,
    /// What it is.
    pub(crate) kind: Kind,
    /// The endpoint string, and where it is written (checked once a
    /// reactor can parse it).
    pub(crate) listen: Option<(String, Range<usize>)>,
}

/// What each kind needs, read from the file.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    /// A directory over HTTP (`torsion web`).
    Static {
        path: PathBuf,
        listing: bool,
        hidden: bool,
        shutdown_timeout: Option<Duration>,
    },
    /// Fixed answers at paths, through a `Router`.
    Router { routes: Vec<Spanned<Route>> },
    /// Echoes what it receives.
    Echo,
    /// The chat room's line door.
    LineChat { room: String },
    /// The chat room's web page and WebSocket.
    WebSocketChat { room: String },
    /// The exchange-rate poller, with its chart and status when it listens.
    RatePoller { source: String, interval: Duration },
}

/// A mistake in the file, and where.
#[derive(Debug)]
pub(crate) struct ConfigError {
    /// What is wrong.
    pub(crate) message: String,
    /// Where, in bytes; `None` for the file as a whole.
    pub(crate) span: Option<Range<usize>>,
}

impl ConfigError {
    pub(crate) fn at(span: Range<usize>, message: impl Into<String>) -> ConfigError {
        ConfigError {
            message: message.into(),
            span: Some(span),
        }
    }

    /// `FILE:LINE: message`, then the line itself with the place marked.
    pub(crate) fn render(&self, file: &str, text: &str) -> String {
        let Some(span) = &self.span else {
            return format!("{file}: {}", self.message);
        };
        let start = span.start.min(text.len());
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let number = text[..start].matches('\n').count() + 1;
        let column = text[line_start..start].chars().count();
        let width = text[start..span.end.clamp(start, line_end)]
            .chars()
            .count()
            .max(1);
        let gutter = " ".repeat(number.to_string().len());
        format!(
            "{file}:{number}: {}\n{gutter} |\n{number} | {}\n{gutter} | {}{}",
            self.message,
            &text[line_start..line_end],
            " ".repeat(column),
            "^".repeat(width)
        )
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The services of a file, in its order, or the first mistake.
pub(crate) fn parse(text: &str) -> Result<Vec<Spec>, ConfigError> {
    let file: File = toml::from_str(text).map_err(|error| ConfigError {
        message: error.message().trim().to_owned(),
        span: error.span(),
    })?;
    if file.service.is_empty() {
        return Err(ConfigError {
            message: "no services: add a [[service]] table".to_owned(),
            span: None,
        });
    }
    let mut seen: BTreeMap<String, Range<usize>> = BTreeMap::new();
    let mut poller: Option<usize> = None;
    let mut specs = Vec::new();
    for entry in file.service {
        // The span of a table in an array is its `[[service]]` header.
        let span = entry.span();
        let entry = entry.into_inner();
        let name = entry.name.get_ref().clone();
        if name.is_empty() {
            return Err(ConfigError::at(
                entry.name.span(),
                "a service's name cannot be empty",
            ));
        }
        if let Some(first) = seen.get(&name) {
            let line = text[..first.start].matches('\n').count() + 1;
            return Err(ConfigError::at(
                entry.name.span(),
                format!("a second service named {name:?} (the first is on line {line})"),
            ));
        }
        seen.insert(name.clone(), entry.name.span());
        if entry.kind.get_ref() == "rate-poller" {
            // The rate lives in one board per reactor, which the chart
            // and the blocking bridge find by its type.
            if let Some(first) = &poller {
                let line = text[..*first].matches('\n').count() + 1;
                return Err(ConfigError::at(
                    entry.kind.span(),
                    format!(
                        "a second rate-poller (the first is on line {line}): a process keeps one rate"
                    ),
                ));
            }
            poller = Some(entry.kind.span().start);
        }
        specs.push(check(entry, span)?);
    }
    Ok(specs)
}

/// Checks one entry against its kind.
fn check(entry: Entry, span: Range<usize>) -> Result<Spec, ConfigError> {
    let kind_name = entry.kind.get_ref().as_str();
    let Some((_, fields)) = KINDS.iter().find(|(kind, _)| *kind == kind_name) else {
        let kinds: Vec<&str> = KINDS.iter().map(|(kind, _)| *kind).collect();
        return Err(ConfigError::at(
            entry.kind.span(),
            format!(
                "unknown kind {kind_name:?}; the kinds are {}",
                kinds.join(", ")
            ),
        ));
    };
    let (required, optional) = fields.split_once("; ").unwrap_or((fields, ""));
    let required: Vec<&str> = required.split(", ").filter(|f| !f.is_empty()).collect();
    let allowed: Vec<&str> = required
        .iter()
        .copied()
        .chain(optional.split(", ").filter(|f| !f.is_empty()))
        .collect();
    let present = [
        ("listen", entry.listen.as_ref().map(Spanned::span)),
        ("path", entry.path.as_ref().map(Spanned::span)),
        ("listing", entry.listing.as_ref().map(Spanned::span)),
        ("hidden", entry.hidden.as_ref().map(Spanned::span)),
        (
            "shutdown_timeout",
            entry.shutdown_timeout.as_ref().map(Spanned::span),
        ),
        ("routes", entry.routes.as_ref().map(Spanned::span)),
        ("room", entry.room.as_ref().map(Spanned::span)),
        ("source", entry.source.as_ref().map(Spanned::span)),
        ("interval", entry.interval.as_ref().map(Spanned::span)),
    ];
    for (field, place) in &present {
        if let Some(place) = place
            && !allowed.contains(field)
        {
            return Err(ConfigError::at(
                place.clone(),
                format!(
                    "a {kind_name} service takes no `{field}` (it takes {})",
                    allowed.join(", ")
                ),
            ));
        }
    }
    for field in &required {
        if present
            .iter()
            .any(|(name, place)| name == field && place.is_none())
        {
            return Err(ConfigError::at(
                span.clone(),
                format!(
                    "service {:?} ({kind_name}) is missing `{field}`",
                    entry.name.get_ref()
                ),
            ));
        }
    }
    let room = || {
        entry
            .room
            .as_ref()
            .map_or_else(|| "lobby".to_owned(), |room| room.get_ref().clone())
    };
    let kind = match kind_name {
        "static" => Kind::Static {
            path: entry
                .path
                .clone()
                .map(Spanned::into_inner)
                .unwrap_or_default(),
            listing: entry.listing.as_ref().is_none_or(|on| *on.get_ref()),
            hidden: entry.hidden.as_ref().is_some_and(|on| *on.get_ref()),
            shutdown_timeout: entry
                .shutdown_timeout
                .as_ref()
                .map(|seconds| seconds_at(seconds, "shutdown_timeout"))
                .transpose()?,
        },
        "router" => Kind::Router {
            routes: entry
                .routes
                .clone()
                .map(Spanned::into_inner)
                .unwrap_or_default(),
        },
        "echo" => Kind::Echo,
        "line-chat" => Kind::LineChat { room: room() },
        "websocket-chat" => Kind::WebSocketChat { room: room() },
        "rate-poller" => Kind::RatePoller {
            source: entry
                .source
                .clone()
                .map(Spanned::into_inner)
                .unwrap_or_default(),
            interval: entry
                .interval
                .as_ref()
                .map(|seconds| seconds_at(seconds, "interval"))
                .transpose()?
                .unwrap_or(Duration::from_secs(30)),
        },
        _ => unreachable!("every kind of KINDS is matched"),
    };
    Ok(Spec {
        name: entry.name.into_inner(),
        kind,
        listen: entry
            .listen
            .map(|listen| (listen.get_ref().clone(), listen.span())),
    })
}

/// A positive number of seconds.
fn seconds_at(seconds: &Spanned<f64>, field: &str) -> Result<Duration, ConfigError> {
    Duration::try_from_secs_f64(*seconds.get_ref())
        .ok()
        .filter(|duration| !duration.is_zero())
        .ok_or_else(|| {
            ConfigError::at(
                seconds.span(),
                format!("`{field}` must be a positive number of seconds"),
            )
        })
}

#[cfg(test)]
mod tests;
