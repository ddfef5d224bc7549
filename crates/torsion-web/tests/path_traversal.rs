//! No request reaches outside the served directory: a corpus of traversal
//! attacks, sent as raw request lines (curl would normalize most of them)
//! and through `curl --path-as-is`, against a root that has a secret file
//! beside it and symlinks leading out.

mod support;

use support::{OUTSIDE_SECRET, SIBLING_SECRET, Tree, curl, raw_get, serve};
use torsion_web::{Server, StaticFiles};

/// Raw request targets, each trying to reach `../secret.txt` or
/// `../outside/passwd` (or the system's own files).
fn corpus(tree: &Tree) -> Vec<Vec<u8>> {
    let absolute_secret = tree.base().join("secret.txt");
    let absolute_secret = absolute_secret.to_str().unwrap();
    let mut targets: Vec<Vec<u8>> = [
        // Plain dot-dot, in every position.
        "/../secret.txt",
        "/../../secret.txt",
        "/sub/../../secret.txt",
        "//../secret.txt",
        "/./../secret.txt",
        "/sub/./../../secret.txt",
        // Percent-encoded dots and slashes, any case.
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/.%2e/secret.txt",
        "/%2e./secret.txt",
        "/..%2fsecret.txt",
        "/..%2Fsecret.txt",
        "/%2e%2e%2fsecret.txt",
        "/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/sub%2f..%2f..%2fsecret.txt",
        // Double encoding.
        "/%252e%252e/secret.txt",
        "/%252e%252e%252fsecret.txt",
        // Backslashes, raw and encoded.
        "/..\\secret.txt",
        "/sub\\..\\..\\secret.txt",
        "/..%5csecret.txt",
        "/%2e%2e%5csecret.txt",
        // NUL.
        "/..%00/secret.txt",
        "/../secret.txt%00.html",
        "/leak%00",
        // Overlong UTF-8 and other non-UTF-8 spellings of `.` and `/`.
        "/%c0%ae%c0%ae/secret.txt",
        "/%c0%ae%c0%ae%c0%afsecret.txt",
        "/%e0%80%ae%e0%80%ae/secret.txt",
        "/..%c0%afsecret.txt",
        "/..%c1%9csecret.txt",
        "/%u002e%u002e/secret.txt",
        // Symlinks that lead out: to a file, to a directory, absolute.
        "/leak",
        "/leakdir/passwd",
        "/leakdir/",
        "/leakdir",
        "/absleak",
        "/trap/",
        "/%6ceak",
        // Absolute paths and absolute-form request targets.
        "/etc/passwd",
        "//etc/passwd",
        "/%2fetc/passwd",
        "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "http://127.0.0.1/../secret.txt",
        "..%2fsecret.txt",
        "*",
        // Tomcat- and IIS-style oddities.
        "/sub/..;/..;/secret.txt",
        "/..../secret.txt",
    ]
    .iter()
    .map(|target| target.as_bytes().to_vec())
    .collect();
    targets.push(format!("/{absolute_secret}").into_bytes());
    targets.push(absolute_secret.as_bytes().to_vec());
    // Raw bytes no URL should carry: NUL, and an overlong dot unencoded.
    targets.push(b"/..\0/secret.txt".to_vec());
    targets.push(b"/\xc0\xae\xc0\xae/secret.txt".to_vec());
    targets
}

fn assert_refused(target: &str, status: u16, body: &[u8]) {
    let body = String::from_utf8_lossy(body);
    assert!(
        !body.contains(SIBLING_SECRET) && !body.contains(OUTSIDE_SECRET) && !body.contains("root:"),
        "{target} leaked: {status} {body}"
    );
    assert!(
        matches!(status, 400 | 403 | 404),
        "{target} answered {status} (expected 400, 403 or 404): {body}"
    );
}

#[test]
fn no_raw_request_line_in_the_corpus_escapes_the_root() {
    let tree = Tree::new();
    let public = tree.public();
    let server = serve(move |_| Server::new(StaticFiles::new(public)));

    // The same server does serve what is inside, symlinks within included.
    let inside = raw_get(server.address, b"/inner");
    assert_eq!(
        (inside.status, inside.text().as_str()),
        (200, "hello, world\n")
    );

    let corpus = corpus(&tree);
    assert!(corpus.len() >= 30, "a corpus of {} strings", corpus.len());
    for target in &corpus {
        let response = raw_get(server.address, target);
        assert_refused(
            &String::from_utf8_lossy(target),
            response.status,
            &response.body,
        );
    }
}

#[test]
fn a_listing_names_a_symlink_out_but_following_it_finds_nothing() {
    let tree = Tree::new();
    let public = tree.public();
    let server = serve(move |_| Server::new(StaticFiles::new(public).with_listing(true)));
    let listing = curl(&[&server.url("/")]);
    assert_eq!(listing.status, 200);
    assert!(
        listing.text().contains("href=\"./leak\""),
        "{}",
        listing.text()
    );
    let trap = curl(&[&server.url("/trap/")]);
    assert_eq!(
        trap.status, 200,
        "the index leads out, so the directory is listed"
    );
    assert!(!trap.text().contains(SIBLING_SECRET));
    for target in ["/leak", "/leakdir/", "/trap/index.html"] {
        let response = curl(&[&server.url(target)]);
        assert_refused(target, response.status, &response.body);
    }
}

#[test]
fn curl_with_path_as_is_does_not_escape_the_root_either() {
    let tree = Tree::new();
    let public = tree.public();
    let server = serve(move |_| Server::new(StaticFiles::new(public)));
    for target in [
        "/../secret.txt",
        "/sub/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/..%5csecret.txt",
        "/%c0%ae%c0%ae/secret.txt",
        "/leak",
        "/leakdir/passwd",
        "/trap/",
    ] {
        let response = curl(&["--path-as-is", &server.url(target)]);
        assert_refused(target, response.status, &response.body);
    }
    let inside = curl(&["--path-as-is", &server.url("/sub/../hello.txt")]);
    assert_eq!(
        inside.status, 404,
        "`..` is refused even when it stays inside"
    );
}
