//! Validators (ETag, Last-Modified) and conditional requests, in the order
//! RFC 9110 §13.2.2 evaluates them: If-Match, else If-Unmodified-Since
//! (412 when they fail); then If-None-Match, else If-Modified-Since (304 for
//! GET and HEAD); If-Range decides later whether a Range is honoured.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What identifies one version of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Validators {
    /// A strong entity tag, quotes included.
    pub(crate) etag: String,
    /// The modification time, truncated to whole seconds as HTTP dates are.
    pub(crate) modified: Option<SystemTime>,
}

impl Validators {
    /// The validators of a file: its tag changes with its inode, size or
    /// modification time (to the nanosecond), so a rewrite of the same size
    /// within one second still changes it.
    pub(crate) fn of(metadata: &Metadata) -> Validators {
        let nanos = metadata.mtime() as i128 * 1_000_000_000 + metadata.mtime_nsec() as i128;
        Validators {
            etag: format!("\"{:x}-{:x}-{:x}\"", metadata.ino(), metadata.len(), nanos),
            modified: metadata.modified().ok().map(whole_seconds),
        }
    }

    /// The Last-Modified header's value.
    pub(crate) fn last_modified(&self) -> Option<String> {
        self.modified.map(httpdate::fmt_http_date)
    }
}

fn whole_seconds(time: SystemTime) -> SystemTime {
    match time.duration_since(UNIX_EPOCH) {
        Ok(since) => UNIX_EPOCH + Duration::from_secs(since.as_secs()),
        Err(_) => time,
    }
}

/// The conditional headers of a request, copied so they can travel to a
/// worker thread with the rest of the request's facts.
#[derive(Debug, Clone, Default)]
pub(crate) struct Conditions {
    pub(crate) if_match: Option<String>,
    pub(crate) if_unmodified_since: Option<String>,
    pub(crate) if_none_match: Option<String>,
    pub(crate) if_modified_since: Option<String>,
    pub(crate) if_range: Option<String>,
}

impl Conditions {
    pub(crate) fn from_headers(headers: &http::HeaderMap) -> Conditions {
        let text = |name: http::header::HeaderName| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        Conditions {
            if_match: text(http::header::IF_MATCH),
            if_unmodified_since: text(http::header::IF_UNMODIFIED_SINCE),
            if_none_match: text(http::header::IF_NONE_MATCH),
            if_modified_since: text(http::header::IF_MODIFIED_SINCE),
            if_range: text(http::header::IF_RANGE),
        }
    }

    /// What the preconditions say for a GET or HEAD of this version.
    pub(crate) fn evaluate(&self, validators: &Validators) -> Outcome {
        if let Some(list) = &self.if_match {
            if !list_matches(list, &validators.etag, Comparison::Strong) {
                return Outcome::PreconditionFailed;
            }
        } else if let (Some(date), Some(modified)) =
            (parse_date(&self.if_unmodified_since), validators.modified)
            && modified > date
        {
            return Outcome::PreconditionFailed;
        }
        if let Some(list) = &self.if_none_match {
            if list_matches(list, &validators.etag, Comparison::Weak) {
                return Outcome::NotModified;
            }
        } else if let (Some(date), Some(modified)) =
            (parse_date(&self.if_modified_since), validators.modified)
            && modified <= date
        {
            return Outcome::NotModified;
        }
        Outcome::Proceed
    }

    /// True when a Range may be honoured: no If-Range, or one naming this
    /// very version (a strong tag, or exactly its Last-Modified date).
    pub(crate) fn range_allowed(&self, validators: &Validators) -> bool {
        let Some(if_range) = self.if_range.as_deref().map(str::trim) else {
            return true;
        };
        if if_range.starts_with('"') || if_range.starts_with("W/") {
            return list_matches(if_range, &validators.etag, Comparison::Strong);
        }
        match (httpdate::parse_http_date(if_range), validators.modified) {
            (Ok(date), Some(modified)) => date == modified,
            _ => false,
        }
    }
}

fn parse_date(value: &Option<String>) -> Option<SystemTime> {
    value
        .as_deref()
        .and_then(|text| httpdate::parse_http_date(text.trim()).ok())
}

/// What a request's preconditions decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Answer as if unconditional.
    Proceed,
    /// 304: the client's copy is current.
    NotModified,
    /// 412: the client wanted another version.
    PreconditionFailed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Strong,
    Weak,
}

/// True when an If-Match / If-None-Match list (`*`, or entity tags
/// separated by commas) names `etag`.
fn list_matches(list: &str, etag: &str, comparison: Comparison) -> bool {
    if list.trim() == "*" {
        return true;
    }
    let (ours_weak, ours) = split_weak(etag);
    entity_tags(list).any(|(weak, tag)| match comparison {
        Comparison::Strong => !weak && !ours_weak && tag == ours,
        Comparison::Weak => tag == ours,
    })
}

fn split_weak(tag: &str) -> (bool, &str) {
    match tag.strip_prefix("W/") {
        Some(rest) => (true, rest),
        None => (false, tag),
    }
}

/// The entity tags of a list, each `(weak, "opaque")` with its quotes;
/// anything malformed ends the list. Tags may hold commas, so the list is
/// read quote by quote rather than split.
fn entity_tags(list: &str) -> impl Iterator<Item = (bool, &str)> {
    let mut rest = list;
    std::iter::from_fn(move || {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        let (weak, tag) = split_weak(rest);
        let body = tag.strip_prefix('"')?;
        let end = body.find('"')?;
        let (tag, after) = tag.split_at(end + 2);
        rest = after;
        Some((weak, tag))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version() -> Validators {
        Validators {
            etag: "\"abc\"".into(),
            modified: httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").ok(),
        }
    }

    fn conditions(set: impl FnOnce(&mut Conditions)) -> Conditions {
        let mut conditions = Conditions::default();
        set(&mut conditions);
        conditions
    }

    #[test]
    fn entity_tag_lists_are_read_quote_by_quote() {
        let tags: Vec<_> = entity_tags(r#" "a", W/"b,c" ,"d""#).collect();
        assert_eq!(
            tags,
            [(false, "\"a\""), (true, "\"b,c\""), (false, "\"d\"")]
        );
        assert_eq!(entity_tags("garbage").count(), 0);
    }

    #[test]
    fn if_none_match_compares_weakly_and_answers_not_modified() {
        let v = version();
        for list in ["\"abc\"", "W/\"abc\"", "\"x\", \"abc\"", "*"] {
            let c = conditions(|c| c.if_none_match = Some(list.into()));
            assert_eq!(c.evaluate(&v), Outcome::NotModified, "{list}");
        }
        let c = conditions(|c| c.if_none_match = Some("\"other\"".into()));
        assert_eq!(c.evaluate(&v), Outcome::Proceed);
    }

    #[test]
    fn if_none_match_overrides_if_modified_since() {
        let c = conditions(|c| {
            c.if_none_match = Some("\"other\"".into());
            c.if_modified_since = Some("Wed, 21 Oct 2015 07:28:00 GMT".into());
        });
        assert_eq!(c.evaluate(&version()), Outcome::Proceed);
    }

    #[test]
    fn if_modified_since_compares_whole_seconds() {
        let v = version();
        let same =
            conditions(|c| c.if_modified_since = Some("Wed, 21 Oct 2015 07:28:00 GMT".into()));
        assert_eq!(same.evaluate(&v), Outcome::NotModified);
        let earlier =
            conditions(|c| c.if_modified_since = Some("Wed, 21 Oct 2015 07:27:59 GMT".into()));
        assert_eq!(earlier.evaluate(&v), Outcome::Proceed);
        let nonsense = conditions(|c| c.if_modified_since = Some("yesterday".into()));
        assert_eq!(nonsense.evaluate(&v), Outcome::Proceed);
    }

    #[test]
    fn if_match_compares_strongly_and_fails_the_precondition() {
        let v = version();
        let weak = conditions(|c| c.if_match = Some("W/\"abc\"".into()));
        assert_eq!(weak.evaluate(&v), Outcome::PreconditionFailed);
        let strong = conditions(|c| c.if_match = Some("\"abc\"".into()));
        assert_eq!(strong.evaluate(&v), Outcome::Proceed);
        let old =
            conditions(|c| c.if_unmodified_since = Some("Tue, 20 Oct 2015 00:00:00 GMT".into()));
        assert_eq!(old.evaluate(&v), Outcome::PreconditionFailed);
    }

    #[test]
    fn if_range_needs_a_strong_tag_or_the_exact_date() {
        let v = version();
        let allowed =
            |value: &str| conditions(|c| c.if_range = Some(value.into())).range_allowed(&v);
        assert!(Conditions::default().range_allowed(&v));
        assert!(allowed("\"abc\""));
        assert!(!allowed("W/\"abc\""));
        assert!(!allowed("\"old\""));
        assert!(allowed("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert!(!allowed("Wed, 21 Oct 2015 07:28:01 GMT"));
    }
}
