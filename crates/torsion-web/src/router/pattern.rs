//! Path patterns: `/users/{id}`, `/users/{id:int}`, `/files/{*rest}`.
//!
//! A pattern is a list of segments between slashes. A segment is literal
//! text, a parameter `{name}` (any one non-empty segment), a typed
//! parameter `{name:int}` (an optional `-` and ASCII digits) or
//! `{name:float}` (anything `f64` parses, finite), or, last only, a
//! wildcard `{*name}` taking the rest of the path (possibly empty). A
//! trailing slash is part of the pattern: `/users/` and `/users` differ.
//!
//! Paths are matched segment by segment after percent-decoding each
//! segment, so `%2F` inside a segment never splits it, and literal text in
//! a pattern is written decoded (`/café`, not `/caf%C3%A9`).
//!
//! When several patterns match, the most specific wins: segments are
//! compared left to right, literal before typed parameter before plain
//! parameter before wildcard ([`Specificity`]).

use std::fmt;

/// A compiled path pattern.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Pattern {
    text: String,
    segments: Vec<Segment>,
    trailing_slash: bool,
}

#[derive(Clone, Debug, PartialEq)]
enum Segment {
    Literal(String),
    Param(String, Kind),
    Wildcard(String),
}

/// What a typed parameter accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Any,
    Int,
    Float,
}

/// How specific a match is: one rank per pattern segment, compared left to
/// right; a longer list wins a tie on the shared part.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Specificity(Vec<u8>);

/// A pattern the router cannot use, with the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PatternError {
    pattern: String,
    reason: String,
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad route pattern {:?}: {}", self.pattern, self.reason)
    }
}

/// A path split into percent-decoded segments.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SplitPath<'a> {
    raw: Vec<&'a str>,
    decoded: Vec<String>,
    trailing_slash: bool,
}

/// A segment that is not UTF-8 once percent-decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NotUtf8;

impl<'a> SplitPath<'a> {
    /// Splits `path` (which starts with `/`) and decodes each segment.
    pub(crate) fn new(path: &'a str) -> Result<SplitPath<'a>, NotUtf8> {
        let inner = path.strip_prefix('/').unwrap_or(path);
        let trailing_slash = !inner.is_empty() && inner.ends_with('/');
        let inner = if trailing_slash {
            &inner[..inner.len() - 1]
        } else {
            inner
        };
        // Only the root itself has no segment: `//` is one empty segment
        // and a trailing slash, as `/a//` is `a`, an empty segment and a
        // trailing slash, so that a wildcard at the root keeps its `/`.
        let raw: Vec<&str> = if inner.is_empty() && !trailing_slash {
            Vec::new()
        } else {
            inner.split('/').collect()
        };
        let decoded = raw
            .iter()
            .map(|segment| {
                percent_encoding::percent_decode_str(segment)
                    .decode_utf8()
                    .map(|text| text.into_owned())
                    .map_err(|_| NotUtf8)
            })
            .collect::<Result<_, _>>()?;
        Ok(SplitPath {
            raw,
            decoded,
            trailing_slash,
        })
    }

    /// The same path with the trailing slash added or removed (the root
    /// has no other form).
    pub(crate) fn toggled_slash(&self) -> Option<SplitPath<'a>> {
        if self.raw.is_empty() {
            return None;
        }
        Some(SplitPath {
            trailing_slash: !self.trailing_slash,
            ..self.clone()
        })
    }
}

/// A successful match: the parameters, and for a prefix match the raw
/// rest of the path (starting with `/`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Match {
    pub(crate) params: Vec<(String, String)>,
    pub(crate) rest: Option<String>,
}

impl Pattern {
    /// Compiles `text`.
    pub(crate) fn parse(text: &str) -> Result<Pattern, PatternError> {
        let error = |reason: &str| PatternError {
            pattern: text.to_owned(),
            reason: reason.to_owned(),
        };
        let Some(inner) = text.strip_prefix('/') else {
            return Err(error("a pattern starts with `/`"));
        };
        let trailing_slash = !inner.is_empty() && inner.ends_with('/');
        let inner = inner.strip_suffix('/').unwrap_or(inner);
        let mut segments = Vec::new();
        let mut names: Vec<String> = Vec::new();
        let parts: Vec<&str> = if inner.is_empty() {
            Vec::new()
        } else {
            inner.split('/').collect()
        };
        for (index, part) in parts.iter().enumerate() {
            if part.is_empty() {
                return Err(error("empty segment (`//`)"));
            }
            let Some(spec) = part.strip_prefix('{') else {
                if part.contains(['{', '}']) {
                    return Err(error(
                        "a parameter takes a whole segment: `{name}`, not text around it",
                    ));
                }
                segments.push(Segment::Literal((*part).to_owned()));
                continue;
            };
            let Some(spec) = spec.strip_suffix('}') else {
                return Err(error("a parameter takes a whole segment and ends with `}`"));
            };
            let segment = if let Some(name) = spec.strip_prefix('*') {
                if index + 1 != parts.len() || trailing_slash {
                    return Err(error("a wildcard `{*name}` must be the last segment"));
                }
                Segment::Wildcard(name.to_owned())
            } else {
                let (name, kind) = match spec.split_once(':') {
                    None => (spec, Kind::Any),
                    Some((name, "int")) => (name, Kind::Int),
                    Some((name, "float")) => (name, Kind::Float),
                    Some((_, other)) => {
                        return Err(error(&format!(
                            "unknown parameter type `{other}` (known: int, float)"
                        )));
                    }
                };
                Segment::Param(name.to_owned(), kind)
            };
            let name = match &segment {
                Segment::Param(name, _) | Segment::Wildcard(name) => name.as_str(),
                Segment::Literal(_) => unreachable!(),
            };
            if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                return Err(error("a parameter name is letters, digits and `_`"));
            }
            if names.iter().any(|known| known == name) {
                return Err(error(&format!("parameter `{name}` appears twice")));
            }
            names.push(name.to_owned());
            segments.push(segment);
        }
        Ok(Pattern {
            text: text.to_owned(),
            segments,
            trailing_slash,
        })
    }

    /// The pattern as written.
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// True if the pattern ends with a wildcard.
    pub(crate) fn has_wildcard(&self) -> bool {
        matches!(self.segments.last(), Some(Segment::Wildcard(_)))
    }

    /// The ranks that order overlapping patterns. A prefix (a mount) ranks
    /// as if a wildcard followed it.
    pub(crate) fn specificity(&self, as_prefix: bool) -> Specificity {
        let mut ranks: Vec<u8> = self
            .segments
            .iter()
            .map(|segment| match segment {
                Segment::Literal(_) => 4,
                Segment::Param(_, Kind::Int | Kind::Float) => 3,
                Segment::Param(_, Kind::Any) => 2,
                Segment::Wildcard(_) => 1,
            })
            .collect();
        if as_prefix {
            ranks.push(1);
        }
        Specificity(ranks)
    }

    /// Matches the whole path.
    pub(crate) fn matches(&self, path: &SplitPath<'_>) -> Option<Match> {
        let mut params = Vec::new();
        for (index, segment) in self.segments.iter().enumerate() {
            if let Segment::Wildcard(name) = segment {
                // The rest is every remaining segment (a trailing slash
                // included), but the wildcard needs the slash before it.
                if index == path.decoded.len() && !path.trailing_slash && index > 0 {
                    return None;
                }
                let mut rest = path.decoded[index.min(path.decoded.len())..].join("/");
                if path.trailing_slash && index < path.decoded.len() {
                    rest.push('/');
                }
                params.push((name.clone(), rest));
                return Some(Match { params, rest: None });
            }
            let value = path.decoded.get(index)?;
            match_segment(segment, value, &mut params)?;
        }
        (self.segments.len() == path.decoded.len() && self.trailing_slash == path.trailing_slash)
            .then_some(Match { params, rest: None })
    }

    /// Matches the start of the path, at a segment boundary; the rest is
    /// given raw (still percent-encoded), `/` at least.
    pub(crate) fn matches_prefix(&self, path: &SplitPath<'_>) -> Option<Match> {
        if path.decoded.len() < self.segments.len() {
            return None;
        }
        let mut params = Vec::new();
        for (segment, value) in self.segments.iter().zip(&path.decoded) {
            match_segment(segment, value, &mut params)?;
        }
        let remaining = &path.raw[self.segments.len()..];
        let mut rest = String::from("/");
        rest.push_str(&remaining.join("/"));
        if path.trailing_slash && !remaining.is_empty() {
            rest.push('/');
        }
        Some(Match {
            params,
            rest: Some(rest),
        })
    }
}

fn match_segment(segment: &Segment, value: &str, params: &mut Vec<(String, String)>) -> Option<()> {
    match segment {
        Segment::Literal(text) => (text == value).then_some(()),
        Segment::Param(name, kind) => {
            let accepted = !value.is_empty()
                && match kind {
                    Kind::Any => true,
                    Kind::Int => {
                        let digits = value.strip_prefix('-').unwrap_or(value);
                        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
                    }
                    Kind::Float => value.parse::<f64>().is_ok_and(f64::is_finite),
                };
            accepted.then(|| params.push((name.clone(), value.to_owned())))
        }
        Segment::Wildcard(_) => unreachable!("a wildcard is handled by its caller"),
    }
}

#[cfg(test)]
mod tests;
