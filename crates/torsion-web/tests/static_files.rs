//! StaticFiles against curl: content types and validators, conditional
//! requests, byte ranges (single, multiple, unsatisfiable), HEAD, index
//! files, the trailing-slash redirect and the listing.

mod support;

use std::time::Duration;

use support::{Running, Tree, curl, curl_output, exchange, parse_response};
use torsion_web::{Server, StaticFiles};

fn serve(tree: &Tree, listing: bool) -> Running {
    let public = tree.public();
    support::serve(move |_| Server::new(StaticFiles::new(public).with_listing(listing)))
}

#[test]
fn a_file_comes_with_its_type_length_and_validators() {
    let tree = Tree::new();
    let server = serve(&tree, false);
    let hello = curl(&[&server.url("/hello.txt")]);
    assert_eq!(hello.status, 200);
    assert_eq!(hello.text(), "hello, world\n");
    assert_eq!(hello.header("content-type"), Some("text/plain"));
    assert_eq!(hello.header("content-length"), Some("13"));
    assert_eq!(hello.header("accept-ranges"), Some("bytes"));
    assert!(hello.header("etag").is_some_and(|tag| tag.starts_with('"')));
    let modified = hello.header("last-modified").expect("a Last-Modified date");
    assert!(httpdate::parse_http_date(modified).is_ok(), "{modified}");
    let page = curl(&[&server.url("/page.html")]);
    assert_eq!(page.header("content-type"), Some("text/html"));
}

#[test]
fn conditional_requests_answer_304_412_and_honour_if_range() {
    let tree = Tree::new();
    let server = serve(&tree, false);
    let url = server.url("/digits.txt");
    let first = curl(&[&url]);
    let etag = first.header("etag").unwrap().to_owned();
    let modified = first.header("last-modified").unwrap().to_owned();

    let cached = curl(&["-H", &format!("If-None-Match: {etag}"), &url]);
    assert_eq!(cached.status, 304);
    assert!(cached.body.is_empty());
    assert_eq!(cached.header("etag"), Some(etag.as_str()));

    let weak = curl(&["-H", &format!("If-None-Match: \"other\", W/{etag}"), &url]);
    assert_eq!(weak.status, 304, "If-None-Match compares weakly");

    let changed = curl(&["-H", "If-None-Match: \"other\"", &url]);
    assert_eq!(
        (changed.status, changed.text().as_str()),
        (200, "0123456789abcdefghij")
    );

    let since = curl(&["-H", &format!("If-Modified-Since: {modified}"), &url]);
    assert_eq!(since.status, 304);
    let before = curl(&[
        "-H",
        "If-Modified-Since: Thu, 01 Jan 1998 00:00:00 GMT",
        &url,
    ]);
    assert_eq!(before.status, 200);

    let wrong_version = curl(&["-H", "If-Match: \"other\"", &url]);
    assert_eq!(wrong_version.status, 412);
    let right_version = curl(&["-H", &format!("If-Match: {etag}"), &url]);
    assert_eq!(right_version.status, 200);
    let unmodified = curl(&[
        "-H",
        "If-Unmodified-Since: Thu, 01 Jan 1998 00:00:00 GMT",
        &url,
    ]);
    assert_eq!(unmodified.status, 412);

    let same = curl(&["-r", "0-3", "-H", &format!("If-Range: {etag}"), &url]);
    assert_eq!((same.status, same.text().as_str()), (206, "0123"));
    let stale = curl(&["-r", "0-3", "-H", "If-Range: \"old\"", &url]);
    assert_eq!(stale.status, 200, "a stale If-Range gets the whole file");
    assert_eq!(stale.text(), "0123456789abcdefghij");
}

#[test]
fn a_single_range_answers_206_with_its_content_range() {
    let tree = Tree::new();
    let server = serve(&tree, false);
    let url = server.url("/digits.txt");
    let first_ten = curl(&["-r", "0-9", &url]);
    assert_eq!(first_ten.status, 206);
    assert_eq!(first_ten.text(), "0123456789");
    assert_eq!(first_ten.header("content-range"), Some("bytes 0-9/20"));
    assert_eq!(first_ten.header("content-length"), Some("10"));
    let tail = curl(&["-r", "-5", &url]);
    assert_eq!((tail.status, tail.text().as_str()), (206, "fghij"));
    assert_eq!(tail.header("content-range"), Some("bytes 15-19/20"));
    let open_ended = curl(&["-r", "18-", &url]);
    assert_eq!(open_ended.text(), "ij");
}

#[test]
fn several_ranges_answer_multipart_byteranges() {
    let tree = Tree::new();
    let server = serve(&tree, false);
    let response = curl(&["-r", "0-1,5-6", &server.url("/digits.txt")]);
    assert_eq!(response.status, 206);
    let content_type = response.header("content-type").unwrap();
    let boundary = content_type
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap_or_else(|| panic!("{content_type}"));
    assert_eq!(
        response.header("content-length"),
        Some(response.body.len().to_string().as_str())
    );
    let expected = format!(
        "\r\n--{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/20\r\n\r\n01\
         \r\n--{boundary}\r\nContent-Type: text/plain\r\nContent-Range: bytes 5-6/20\r\n\r\n56\
         \r\n--{boundary}--\r\n"
    );
    assert_eq!(response.text(), expected);
}

#[test]
fn an_unsatisfiable_range_answers_416_with_the_length() {
    let tree = Tree::new();
    let server = serve(&tree, false);
    let response = curl(&["-r", "100-200", &server.url("/digits.txt")]);
    assert_eq!(response.status, 416);
    assert_eq!(response.header("content-range"), Some("bytes */20"));
    let malformed = curl(&["-H", "Range: bytes=9-1", &server.url("/digits.txt")]);
    assert_eq!(malformed.status, 200, "a malformed Range is ignored");
}

#[test]
fn head_sends_the_headers_of_get_and_no_body() {
    let tree = Tree::new();
    let server = serve(&tree, false);
    let head = curl(&["-I", &server.url("/digits.txt")]);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("20"));
    assert_eq!(head.header("content-type"), Some("text/plain"));
    assert!(head.header("etag").is_some());

    // On one connection: if HEAD sent a body, the GET's answer would be
    // read from the middle of it.
    let text = exchange(
        server.address,
        b"HEAD /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n\
          GET /digits.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(10),
    );
    let second = text.find("HTTP/1.1 200").and_then(|first| {
        text[first + 1..]
            .find("HTTP/1.1 200")
            .map(|second| first + 1 + second)
    });
    let second = second.unwrap_or_else(|| panic!("two responses: {text}"));
    assert!(!text[..second].contains("hello, world"), "{text}");
    assert!(
        text[second..].ends_with("\r\n\r\n0123456789abcdefghij"),
        "{text}"
    );
}

#[test]
fn a_directory_redirects_to_its_slash_and_serves_its_index() {
    let tree = Tree::new();
    let server = serve(&tree, false);
    let redirect = curl(&[&server.url("/site?x=1")]);
    assert_eq!(redirect.status, 301);
    assert_eq!(redirect.header("location"), Some("/site/?x=1"));
    // Parsed as one response: the answer curl followed the redirect to is
    // then in its body.
    let output = curl_output(&["-i", "-L", &server.url("/site")]);
    assert!(output.status.success(), "{output:?}");
    let followed = parse_response(&output.stdout);
    assert!(
        followed.text().contains("HTTP/1.1 200"),
        "curl followed to the index"
    );
    assert!(followed.text().ends_with("<h1>site index</h1>\n"));
    let index = curl(&[&server.url("/site/")]);
    assert_eq!(index.status, 200);
    assert_eq!(index.text(), "<h1>site index</h1>\n");
    assert_eq!(index.header("content-type"), Some("text/html"));
}

#[test]
fn a_directory_without_index_is_listed_only_when_asked() {
    let tree = Tree::new();
    let private = serve(&tree, false);
    assert_eq!(curl(&[&private.url("/sub/")]).status, 403);

    let listed = serve(&tree, true);
    let listing = curl(&[&listed.url("/sub/")]);
    assert_eq!(listing.status, 200);
    assert_eq!(
        listing.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let page = listing.text();
    assert!(page.contains("<a href=\"./a.txt\">a.txt</a>"), "{page}");
    assert!(page.contains("&lt;b&gt; &amp; c.txt"), "{page}");
    assert!(!page.contains("<b>"), "{page}");
    let followed = curl(&[&listed.url("/sub/%3Cb%3E%20%26%20c.txt")]);
    assert_eq!(followed.text(), "b\n");
}

#[test]
fn missing_files_and_other_methods_are_refused() {
    let tree = Tree::new();
    let server = serve(&tree, false);
    assert_eq!(curl(&[&server.url("/nothing-here")]).status, 404);
    assert_eq!(curl(&[&server.url("/hello.txt/")]).status, 404);
    let post = curl(&["-X", "POST", "-d", "x", &server.url("/hello.txt")]);
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    let raw = parse_response(
        exchange(
            server.address,
            b"DELETE /hello.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            Duration::from_secs(10),
        )
        .as_bytes(),
    );
    assert_eq!(raw.status, 405);
    assert!(tree.public().join("hello.txt").exists());
}

/// A working copy served as it is: `.git/` and `.env` must not leak.
fn plant_hidden_files(tree: &Tree) {
    let public = tree.public();
    std::fs::create_dir(public.join(".git")).unwrap();
    std::fs::write(public.join(".git/config"), "[remote] secret").unwrap();
    std::fs::write(public.join(".env"), "SECRET=1").unwrap();
    std::fs::write(public.join(".git/index.html"), "<p>git index</p>").unwrap();
    std::os::unix::fs::symlink(".env", public.join("visible-link")).unwrap();
}

#[test]
fn hidden_files_are_missing_and_unlisted_by_default() {
    let tree = Tree::new();
    plant_hidden_files(&tree);
    let server = serve(&tree, true);
    for path in [
        "/.git/config",
        "/.env",
        "/.git/",
        "/.git",
        "/%2egit/config",
        "/visible-link",
    ] {
        let fetched = curl(&["--path-as-is", &server.url(path)]);
        assert_eq!(fetched.status, 404, "{path}: {}", fetched.text());
    }
    let listing = curl(&[&server.url("/")]).text();
    assert!(listing.contains("hello.txt"), "{listing}");
    assert!(
        !listing.contains(".git") && !listing.contains(".env"),
        "{listing}"
    );
}

#[test]
fn hidden_files_are_served_and_listed_when_shown() {
    let tree = Tree::new();
    plant_hidden_files(&tree);
    let public = tree.public();
    let server = support::serve(move |_| {
        Server::new(
            StaticFiles::new(public)
                .with_listing(true)
                .with_hidden_files(true),
        )
    });
    assert_eq!(
        curl(&[&server.url("/.git/config")]).text(),
        "[remote] secret"
    );
    assert_eq!(curl(&[&server.url("/.env")]).text(), "SECRET=1");
    assert_eq!(curl(&[&server.url("/.git/")]).text(), "<p>git index</p>");
    assert!(curl(&[&server.url("/")]).text().contains("./.env\""));
}
