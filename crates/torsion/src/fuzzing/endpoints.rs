//! The endpoint string grammar: no description makes the parser panic,
//! and a value quoted with `quote_string_argument` reads back as itself.

use std::path::Path;

use super::Input;
use crate::endpoints::{client_from_string, quote_string_argument, server_from_string};
use crate::testing::MemoryReactor;

/// Keywords whose value is a file read at parse time; a fuzzer naming
/// `/dev/zero` there would only test the file system.
const FILE_KEYWORDS: [&str; 3] = ["privateKey", "certKey", "caCerts"];

/// Parses the input as a server and as a client description (neither may
/// panic), then checks that an arbitrary value quoted into a field reads
/// back unchanged: a UNIX server's path, a TCP client's host.
pub fn endpoints(data: &[u8]) {
    let mut input = Input::new(data);
    let split = usize::from(input.byte());
    let rest = String::from_utf8_lossy(input.rest());
    let split = (0..=split.min(rest.len()))
        .rev()
        .find(|&at| rest.is_char_boundary(at))
        .unwrap_or(0);
    let (description, value) = rest.split_at(split);
    let network = MemoryReactor::new();
    let unescaped = description.replace('\\', "");
    if !FILE_KEYWORDS
        .iter()
        .any(|keyword| unescaped.contains(keyword))
    {
        let _ = server_from_string(&network, description);
        let _ = client_from_string(&network, description);
    }
    if value.is_empty() {
        return;
    }
    let quoted = quote_string_argument(value);
    let server = server_from_string(&network, &format!("unix:{quoted}:mode=600"))
        .unwrap_or_else(|error| panic!("unix:{quoted}: {error}"));
    assert_eq!(server.unix_path(), Some(Path::new(value)));
    let client = client_from_string(&network, &format!("tcp:host={quoted}:port=80"))
        .unwrap_or_else(|error| panic!("tcp:host={quoted}: {error}"));
    let bracketed = value
        .strip_prefix('[')
        .and_then(|inner| inner.strip_suffix(']'));
    let host = bracketed.unwrap_or(value);
    assert_eq!(client.destination(), (host.to_owned(), Some(80)));
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::fuzzing::property_config;

    /// One of `words`, or a few arbitrary characters.
    fn word(words: &'static [&'static str]) -> impl Strategy<Value = String> {
        prop_oneof![
            3 => proptest::sample::select(words).prop_map(str::to_owned),
            1 => ".{0,6}",
        ]
    }

    fn kind() -> impl Strategy<Value = String> {
        word(&["tcp", "tcp6", "unix", "tls", "ssl", "TCP"])
    }

    fn key() -> impl Strategy<Value = String> {
        word(&[
            "port",
            "host",
            "path",
            "address",
            "interface",
            "backlog",
            "timeout",
            "bindAddress",
            "mode",
            "alpn",
        ])
    }

    fn value() -> impl Strategy<Value = String> {
        word(&[
            "1e300",
            "-1",
            "0",
            "80",
            "65536",
            "::1",
            "127.0.0.1",
            "[::1]",
            "0.5",
            "NaN",
            "inf",
            "7777",
            "99999",
            "\\",
            "\\:",
            "=",
            "",
        ])
    }

    /// A description built from the grammar's words (`type:field:...`,
    /// each field positional or `key=value`), then a split byte and an
    /// arbitrary value after it.
    fn descriptions() -> impl Strategy<Value = Vec<u8>> {
        let field = prop_oneof![
            value(),
            (key(), value()).prop_map(|(key, value)| format!("{key}={value}")),
        ];
        (kind(), vec(field, 0..5), ".{0,8}").prop_map(|(kind, fields, value)| {
            let description = std::iter::once(kind)
                .chain(fields)
                .collect::<Vec<_>>()
                .join(":");
            let split = u8::try_from(description.len()).unwrap_or(u8::MAX);
            let mut data = vec![split];
            data.extend_from_slice(description.as_bytes());
            data.extend_from_slice(value.as_bytes());
            data
        })
    }

    proptest! {
        #![proptest_config(property_config(1024))]

        #[test]
        fn arbitrary_bytes_are_no_exception(data in vec(any::<u8>(), 0..64)) {
            endpoints(&data);
        }

        #[test]
        fn no_description_panics_and_quoted_values_read_back(data in descriptions()) {
            endpoints(&data);
        }
    }
}
