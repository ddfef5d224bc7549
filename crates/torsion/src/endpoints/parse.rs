//! The endpoint string grammar: `type:arg:key=value:...`.

use crate::endpoints::EndpointError;

/// One `:`-separated field after the type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Field {
    /// A field without an unescaped `=`.
    Positional(String),
    /// `key=value`, split at the first unescaped `=`.
    Keyword(String, String),
}

/// A description split into its type (lower-cased) and its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Parsed {
    pub(crate) kind: String,
    pub(crate) fields: Vec<Field>,
}

/// Splits `description` on unescaped `:`; a backslash makes the next
/// character literal.
pub(crate) fn parse(description: &str) -> Result<Parsed, EndpointError> {
    if description.trim().is_empty() {
        return Err(EndpointError::Empty);
    }
    let mut fields: Vec<Field> = Vec::new();
    let mut text = String::new();
    // The key, once an unescaped `=` has been seen in this field.
    let mut key: Option<String> = None;
    let mut chars = description.chars();
    let mut finish = |text: &mut String, key: &mut Option<String>| {
        let value = std::mem::take(text);
        fields.push(match key.take() {
            Some(key) => Field::Keyword(key, value),
            None => Field::Positional(value),
        });
    };
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(escaped) => text.push(escaped),
                None => {
                    return Err(EndpointError::TrailingBackslash(description.to_owned()));
                }
            },
            ':' => finish(&mut text, &mut key),
            '=' if key.is_none() => key = Some(std::mem::take(&mut text)),
            other => text.push(other),
        }
    }
    finish(&mut text, &mut key);
    let mut fields = fields.into_iter();
    let kind = match fields.next() {
        Some(Field::Positional(kind)) if !kind.is_empty() => kind.to_ascii_lowercase(),
        Some(Field::Positional(_)) | None => return Err(EndpointError::Empty),
        Some(Field::Keyword(key, value)) => {
            return Err(EndpointError::UnknownType(format!("{key}={value}")));
        }
    };
    Ok(Parsed {
        kind,
        fields: fields.collect(),
    })
}

/// Escapes `s` so that it reads back as one literal field: `\`, `:` and
/// `=` get a backslash (Twisted's `quoteStringArgument` escapes only `\`
/// and `:`; escaping `=` too keeps a positional value containing `=` from
/// reading as a keyword).
///
/// ```
/// use torsion::endpoints::quote_string_argument;
///
/// assert_eq!(quote_string_argument(r"C:\sock=1"), r"C\:\\sock\=1");
/// ```
pub fn quote_string_argument(s: &str) -> String {
    let mut quoted = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | ':' | '=') {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted
}

/// The arguments of one endpoint type: positional values are named in the
/// order the type lists them; keywords must be among the names it knows.
#[derive(Debug)]
pub(crate) struct Arguments {
    kind: &'static str,
    values: Vec<(&'static str, String)>,
}

impl Arguments {
    /// Names the fields: `positional` gives the names of positional
    /// arguments in order, `keywords` every name accepted as a keyword
    /// (positional names are accepted as keywords too).
    pub(crate) fn new(
        kind: &'static str,
        fields: Vec<Field>,
        positional: &[&'static str],
        keywords: &[&'static str],
    ) -> Result<Arguments, EndpointError> {
        let mut values: Vec<(&'static str, String)> = Vec::new();
        let mut next_positional = positional.iter();
        for field in fields {
            let (name, value) = match field {
                Field::Positional(value) => match next_positional.next() {
                    Some(name) => (*name, value),
                    None => {
                        return Err(EndpointError::TooManyArguments {
                            endpoint: kind,
                            argument: value,
                        });
                    }
                },
                Field::Keyword(key, value) => {
                    let known = positional
                        .iter()
                        .chain(keywords)
                        .find(|name| **name == key)
                        .copied();
                    match known {
                        Some(name) => (name, value),
                        None => {
                            return Err(EndpointError::UnknownKeyword {
                                endpoint: kind,
                                keyword: key,
                            });
                        }
                    }
                }
            };
            if values.iter().any(|(seen, _)| *seen == name) {
                return Err(EndpointError::Duplicate {
                    endpoint: kind,
                    argument: name,
                });
            }
            values.push((name, value));
        }
        Ok(Arguments { kind, values })
    }

    /// The endpoint type, for error messages.
    pub(crate) fn kind(&self) -> &'static str {
        self.kind
    }

    /// The value of `name`, if given.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(seen, _)| *seen == name)
            .map(|(_, value)| value.as_str())
    }

    /// The value of `name`, which must be given and not empty.
    pub(crate) fn required(&self, name: &'static str) -> Result<&str, EndpointError> {
        match self.get(name) {
            Some(value) if !value.is_empty() => Ok(value),
            _ => Err(EndpointError::Missing {
                endpoint: self.kind,
                argument: name,
            }),
        }
    }

    /// A bad value for `name`.
    pub(crate) fn bad(&self, name: &'static str, value: &str, expected: &str) -> EndpointError {
        EndpointError::BadValue {
            endpoint: self.kind,
            argument: name,
            value: value.to_owned(),
            expected: expected.to_owned(),
        }
    }

    /// A TCP port number (0 to 65535).
    pub(crate) fn port(&self, name: &'static str) -> Result<u16, EndpointError> {
        let value = self.required(name)?;
        value.parse().map_err(|_| EndpointError::BadPort {
            endpoint: self.kind,
            value: value.to_owned(),
        })
    }

    /// The listen backlog, `default` when not given.
    pub(crate) fn backlog(&self, default: i32) -> Result<i32, EndpointError> {
        match self.get("backlog") {
            None => Ok(default),
            Some(value) => match value.parse::<i32>() {
                Ok(backlog) if backlog > 0 => Ok(backlog),
                _ => Err(self.bad("backlog", value, "a positive whole number")),
            },
        }
    }

    /// A timeout in seconds (whole or fractional).
    pub(crate) fn seconds(
        &self,
        name: &'static str,
    ) -> Result<Option<std::time::Duration>, EndpointError> {
        match self.get(name) {
            None => Ok(None),
            // `try_from`: a finite number of seconds can still be more
            // than a Duration holds (`1e300`), and must be an error, not
            // a panic.
            Some(value) => match value
                .parse::<f64>()
                .ok()
                .and_then(|seconds| std::time::Duration::try_from_secs_f64(seconds).ok())
            {
                Some(duration) => Ok(Some(duration)),
                None => Err(self.bad(name, value, "a number of seconds")),
            },
        }
    }

    /// `handshakeTimeout`, in seconds: `Some(None)` for 0 (no bound), `None`
    /// when not given.
    pub(crate) fn handshake_timeout(
        &self,
    ) -> Result<Option<Option<std::time::Duration>>, EndpointError> {
        Ok(self
            .seconds("handshakeTimeout")?
            .map(|bound| (!bound.is_zero()).then_some(bound)))
    }

    /// A yes-or-no argument: `true` or `false` (also `1` and `0`, `yes`
    /// and `no`, any case).
    pub(crate) fn boolean(&self, name: &'static str) -> Result<Option<bool>, EndpointError> {
        match self.get(name) {
            None => Ok(None),
            Some(value) => match value.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Ok(Some(true)),
                "false" | "0" | "no" => Ok(Some(false)),
                _ => Err(self.bad(name, value, "true or false")),
            },
        }
    }

    /// An IP address.
    pub(crate) fn ip(&self, name: &'static str) -> Result<Option<std::net::IpAddr>, EndpointError> {
        match self.get(name) {
            None => Ok(None),
            Some(value) => value
                .parse()
                .map(Some)
                .map_err(|_| self.bad(name, value, "an IP address")),
        }
    }
}
