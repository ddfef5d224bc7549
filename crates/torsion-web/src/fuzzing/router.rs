//! Route patterns and matching: nothing panics, a match gives exactly the
//! pattern's parameters, and a path built from a pattern matches it with
//! the values it was built from.

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use super::Input;
use crate::router::pattern::{Pattern, SplitPath};

/// Compiles the first part of the input as a pattern and matches the
/// second part against it, whole and (for a pattern without a wildcard,
/// as mounts are) as a prefix.
pub fn route_pattern(data: &[u8]) {
    let (text, path) = Input::new(data).two_texts();
    let Ok(pattern) = Pattern::parse(&text) else {
        return;
    };
    let Ok(path) = SplitPath::new(&path) else {
        return;
    };
    // A parameter takes a whole segment and literals hold no brace, so
    // each `{` opens one parameter.
    let parameters = text.matches('{').count();
    if let Some(found) = pattern.matches(&path) {
        assert_eq!(found.params.len(), parameters, "{text:?} matching {path:?}");
        assert_eq!(found.rest, None);
    }
    if let Some(toggled) = path.toggled_slash() {
        let _ = pattern.matches(&toggled);
    }
    if !pattern.has_wildcard()
        && let Some(found) = pattern.matches_prefix(&path)
    {
        assert_eq!(
            found.params.len(),
            parameters,
            "{text:?} prefix of {path:?}"
        );
        let rest = found.rest.expect("a prefix match has a rest");
        assert!(rest.starts_with('/'), "rest {rest:?} of {path:?}");
    }
}

/// Builds a pattern from the input (literals, plain, `int` and `float`
/// parameters, a wildcard last, a trailing slash) and a path that
/// instantiates it, each value percent-encoded; the path must match with
/// exactly the values it was built from.
pub fn route_instance(data: &[u8]) {
    let mut input = Input::new(data);
    let count = input.byte() % 6;
    let trailing_slash = input.byte() % 2 == 1;
    let mut pattern = Vec::new();
    let mut path = Vec::new();
    let mut expected = Vec::new();
    let mut wildcard = false;
    for index in 0..count {
        let name = format!("p{index}");
        let choice = input.byte() % 6;
        let text = input.text(8);
        match choice {
            0 | 1 => {
                let literal: String = text.chars().filter(|c| !"/{}".contains(*c)).collect();
                let literal = if literal.is_empty() {
                    "x".to_owned()
                } else {
                    literal
                };
                path.push(encode(&literal));
                pattern.push(literal);
            }
            2 => {
                let value = if text.is_empty() {
                    "v".to_owned()
                } else {
                    text
                };
                pattern.push(format!("{{{name}}}"));
                path.push(encode(&value));
                expected.push((name, value));
            }
            3 => {
                let digits: String = text.bytes().map(|b| char::from(b'0' + b % 10)).collect();
                let value = format!("-{digits}1");
                pattern.push(format!("{{{name}:int}}"));
                path.push(encode(&value));
                expected.push((name, value));
            }
            4 => {
                let digits: String = text.bytes().map(|b| char::from(b'0' + b % 10)).collect();
                let value = format!("1{digits}.5");
                pattern.push(format!("{{{name}:float}}"));
                path.push(encode(&value));
                expected.push((name, value));
            }
            _ => {
                // The rest of the path, its slashes kept, each piece
                // between them encoded.
                let pieces: Vec<String> = text.split('/').map(encode).collect();
                pattern.push(format!("{{*{name}}}"));
                path.push(pieces.join("/"));
                expected.push((name, text));
                wildcard = true;
                break;
            }
        }
    }
    let slash = if trailing_slash && !wildcard && !pattern.is_empty() {
        "/"
    } else {
        ""
    };
    let pattern_text = format!("/{}{slash}", pattern.join("/"));
    let path_text = format!("/{}{slash}", path.join("/"));
    let compiled = Pattern::parse(&pattern_text)
        .unwrap_or_else(|error| panic!("built pattern refused: {error}"));
    let split = SplitPath::new(&path_text).expect("an encoded path decodes");
    let found = compiled
        .matches(&split)
        .unwrap_or_else(|| panic!("{path_text:?} does not match {pattern_text:?}"));
    assert_eq!(
        found.params, expected,
        "{path_text:?} against {pattern_text:?}"
    );
}

fn encode(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::fuzzing::property_config;

    /// Bytes that mean something to patterns and paths, more often than
    /// chance gives them.
    fn path_bytes() -> impl Strategy<Value = Vec<u8>> {
        vec(
            prop_oneof![
                2 => any::<u8>(),
                3 => proptest::sample::select(&b"/{}*:%2Fintfloat-.9ab"[..]),
            ],
            0..60,
        )
    }

    /// Small numbers (a choice among few) and slashes, more often than
    /// chance gives them.
    fn instance_bytes() -> impl Strategy<Value = Vec<u8>> {
        vec(
            prop_oneof![
                2 => any::<u8>(),
                3 => proptest::sample::select(&b"\x00\x01\x02\x03\x04\x05//."[..]),
            ],
            0..80,
        )
    }

    proptest! {
        #![proptest_config(property_config(1024))]

        #[test]
        fn matching_any_pattern_against_any_path_gives_its_parameters(data in path_bytes()) {
            route_pattern(&data);
        }

        #[test]
        fn a_path_built_from_a_pattern_matches_it_with_its_values(data in instance_bytes()) {
            route_instance(&data);
        }
    }
}
