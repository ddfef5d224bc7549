//! The endpoint string grammar: fields, escapes, and the errors that name
//! the bad part.

use super::*;

#[test]
fn fields_are_positional_or_keyword() {
    let parsed = parse("tcp:80:interface=127.0.0.1:backlog=5").unwrap();
    assert_eq!(parsed.kind, "tcp");
    assert_eq!(
        parsed.fields,
        vec![
            Field::Positional("80".into()),
            Field::Keyword("interface".into(), "127.0.0.1".into()),
            Field::Keyword("backlog".into(), "5".into()),
        ]
    );
}

#[test]
fn keywords_split_at_the_first_equals_sign() {
    let parsed = parse("x:key=a=b").unwrap();
    assert_eq!(
        parsed.fields,
        vec![Field::Keyword("key".into(), "a=b".into())]
    );
}

#[test]
fn backslash_escapes_colon_equals_and_backslash() {
    let parsed = parse(r"unix:/tmp/a\:b\=c\\d:k\=ey=v\:al").unwrap();
    assert_eq!(
        parsed.fields,
        vec![
            Field::Positional(r"/tmp/a:b=c\d".into()),
            Field::Keyword("k=ey".into(), "v:al".into()),
        ]
    );
}

#[test]
fn quoted_arguments_read_back_unchanged() {
    for original in [r"C:\path", "a=b:c", r"\\::==", "plain", ""] {
        let parsed = parse(&format!("x:{}", quote_string_argument(original))).unwrap();
        assert_eq!(parsed.fields, vec![Field::Positional(original.into())]);
    }
    assert_eq!(quote_string_argument(r"a:b\c"), r"a\:b\\c");
}

#[test]
fn type_names_are_case_insensitive() {
    let reactor = MemoryReactor::new();
    assert!(server_from_string(&reactor, "TCP:80").is_ok());
    assert!(server_from_string(&reactor, "Unix:/tmp/x.sock").is_ok());
    assert!(client_from_string(&reactor, "Tcp:localhost:80").is_ok());
    assert_eq!(parse("TcP6:1").unwrap().kind, "tcp6");
}

#[test]
fn every_parse_error_names_the_bad_part() {
    let cases: Vec<(String, &str)> = vec![
        (server_error(""), "empty"),
        (server_error("bogus:80"), "\"bogus\""),
        (server_error("tcp"), "missing port"),
        (server_error("tcp:abc"), "bad port number \"abc\""),
        (server_error("tcp:70000"), "bad port number \"70000\""),
        (
            server_error("tcp:80:colour=red"),
            "unknown keyword \"colour\"",
        ),
        (server_error("tcp:80:81"), "unexpected argument \"81\""),
        (server_error("tcp:80:port=81"), "port given twice"),
        (server_error("tcp:80:backlog=many"), "bad backlog \"many\""),
        (server_error("tcp:80:backlog=0"), "bad backlog \"0\""),
        (
            server_error("tcp:80:interface=nowhere"),
            "bad interface \"nowhere\"",
        ),
        (
            server_error("tcp6:80:interface=127.0.0.1"),
            "bad interface \"127.0.0.1\"",
        ),
        (server_error("unix:/tmp/s:mode=rw"), "bad mode \"rw\""),
        (server_error("unix:/tmp/s:mode=999"), "bad mode \"999\""),
        (server_error("unix"), "missing address"),
        (server_error("tcp:80\\"), "lone backslash"),
        (server_error("tls:443"), "missing privateKey"),
        (
            server_error("tls:443:privateKey=/nonexistent/key.pem"),
            "/nonexistent/key.pem",
        ),
        (client_error("tcp:port=80"), "missing host"),
        (client_error("tcp:example.com"), "missing port"),
        (
            client_error("tcp:example.com:http"),
            "bad port number \"http\"",
        ),
        (client_error("tcp:h:1:timeout=soon"), "bad timeout \"soon\""),
        (client_error("tcp:h:1:timeout=-1"), "bad timeout \"-1\""),
        (
            client_error("tcp:h:1:bindAddress=me"),
            "bad bindAddress \"me\"",
        ),
        (
            client_error("tcp:h:1:checkPID=1"),
            "unknown keyword \"checkPID\"",
        ),
        (client_error("unix:timeout=1"), "missing path"),
        (
            client_error("tls:localhost:443"),
            "caCerts=FILE is required",
        ),
        (
            client_error("tls:localhost:443:caCerts=/nonexistent/roots.pem"),
            "/nonexistent/roots.pem",
        ),
        (client_error("ftp:h:21"), "unknown endpoint type \"ftp\""),
    ];
    for (message, part) in cases {
        assert!(
            message.contains(part),
            "{message:?} should mention {part:?}"
        );
    }
}

#[test]
fn a_timeout_longer_than_a_duration_holds_is_a_bad_value() {
    // Found by the endpoint grammar's property test: `1e300` is a finite
    // number of seconds, and converting it panicked.
    for description in ["tcp:h:1:timeout=1e300", "unix:/s:timeout=1e300"] {
        let message = client_error(description);
        assert!(message.contains("bad timeout \"1e300\""), "{message}");
    }
}

#[test]
fn a_bad_certificate_file_is_a_parse_error() {
    let dir = temp_dir("badpem");
    let junk = dir.join("junk.pem");
    std::fs::write(&junk, "not a pem file").unwrap();
    let message = server_error(&format!("tls:0:privateKey={}", escaped(&junk)));
    assert!(message.starts_with("tls: "), "{message}");
    assert!(message.contains("junk.pem"), "{message}");
    let message = client_error(&format!("tls:localhost:1:caCerts={}", escaped(&junk)));
    assert!(message.contains("no certificate in"), "{message}");
    std::fs::remove_dir_all(dir).unwrap();
}
