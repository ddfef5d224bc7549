//! Hostile HTTP/1 requests: every case of the malformed-request and
//! smuggling corpus (tests/data/http1-corpus.txt) against the static-file
//! server `torsion web` builds and against a Router app, over real
//! loopback sockets; and the access log of the requests the server refuses
//! before they reach the application.

#[path = "hostile_http1/corpus.rs"]
mod corpus;
mod support;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use corpus::{Answer, Observed, Outcome, Served, cases, play};
use support::{Running, serve};
use torsion_web::{
    AccessLog, Body, BodyError, RejectedRequest, Reply, Request, Resource, Response, Router,
    Server, ServerOptions, StaticFiles,
};

/// What the application saw, shared with the test's thread.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<SeenInner>>);

#[derive(Default)]
struct SeenInner {
    requests: usize,
    rejected: Vec<u16>,
}

impl Seen {
    fn snapshot(&self) -> (usize, Vec<u16>) {
        let inner = self.0.lock().unwrap();
        (inner.requests, inner.rejected.clone())
    }
}

/// Counts the requests that reach `inner` and the refusals it is told of.
struct Counted<R> {
    inner: R,
    seen: Seen,
}

impl<R: Resource> Resource for Counted<R> {
    fn handle(&self, request: Request) -> Reply {
        self.seen.0.lock().unwrap().requests += 1;
        self.inner.handle(request)
    }

    fn rejected(&self, request: &RejectedRequest) {
        self.seen
            .0
            .lock()
            .unwrap()
            .rejected
            .push(request.status().as_u16());
    }
}

/// The static-file server as `torsion web` builds it (an access log around
/// the files, the default limits), counted.
fn static_file_server(seen: Seen) -> (Running, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "<h1>index</h1>\n").unwrap();
    let root = dir.path().to_owned();
    let running = serve(move |_| {
        let files = StaticFiles::new(&root);
        Server::new(AccessLog::new(Counted { inner: files, seen }))
            .with_options(ServerOptions::default())
    });
    (running, dir)
}

/// A Router app: GET / answers, POST / reads the body and says its length.
fn router_app(seen: Seen) -> Running {
    serve(move |_| {
        let router = Router::new()
            .get("/", |_request: Request| {
                Response::new(Body::from("hello\n"))
            })
            .post("/", |request: Request| {
                Reply::later(async move {
                    let body = request.into_body().bytes().await?;
                    Ok::<_, BodyError>(Response::new(Body::from(format!("{}\n", body.len()))))
                })
            });
        Server::new(AccessLog::new(Counted {
            inner: router,
            seen,
        }))
    })
}

/// Plays every case against `address`; gives a line for each case that
/// went otherwise than the corpus says.
fn failures(address: SocketAddr, served: Served, seen: &Seen) -> Vec<String> {
    let mut failed = Vec::new();
    for case in cases() {
        let (requests_before, rejected_before) = seen.snapshot();
        let observed = play(address, &case);
        let (expected, outcome) = case.expected(served);
        let expected_rejections: Vec<u16> = expected
            .iter()
            .filter_map(|answer| match answer {
                Answer::Server(status) => Some(*status),
                Answer::App => None,
            })
            .collect();
        // A refusal may be reported a little after the client has read
        // its answer.
        let settle = Instant::now() + Duration::from_secs(1);
        let (requests, rejected) = loop {
            let (requests, rejected) = seen.snapshot();
            let rejected = rejected[rejected_before.len()..].to_vec();
            if rejected.len() >= expected_rejections.len() || Instant::now() > settle {
                break (requests - requests_before, rejected);
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let problems = check(
            &expected,
            &observed,
            requests,
            &rejected,
            &expected_rejections,
        );
        if !problems.is_empty() {
            failed.push(format!(
                "{}: expected {} {:?}; got {:?} {}{}; {}",
                case.name,
                describe(&expected),
                outcome,
                observed.statuses,
                if observed.closed { "closed" } else { "open" },
                observed
                    .garbage
                    .as_ref()
                    .map(|g| format!(" then {g:?}"))
                    .unwrap_or_default(),
                problems.join(", ")
            ));
        }
    }
    failed
}

/// What is wrong with what a case got, if anything.
fn check(
    expected: &[Answer],
    observed: &Observed,
    requests: usize,
    rejected: &[u16],
    expected_rejections: &[u16],
) -> Vec<String> {
    let mut problems = Vec::new();
    let statuses_match = expected.len() == observed.statuses.len()
        && expected
            .iter()
            .zip(&observed.statuses)
            .all(|(answer, &status)| match answer {
                Answer::App => true,
                Answer::Server(expected) => *expected == status,
            });
    if !statuses_match || observed.garbage.is_some() {
        problems.push("responses differ".to_owned());
    }
    if !observed.closed {
        problems.push("the connection was not closed".to_owned());
    }
    let app_answers = expected.iter().filter(|a| **a == Answer::App).count();
    if requests != app_answers {
        problems.push(format!(
            "the application saw {requests} requests, not {app_answers}"
        ));
    }
    if rejected != expected_rejections {
        problems.push(format!(
            "refusals reported {rejected:?}, not {expected_rejections:?}"
        ));
    }
    problems
}

fn describe(answers: &[Answer]) -> String {
    let words: Vec<String> = answers
        .iter()
        .map(|answer| match answer {
            Answer::App => "ok".to_owned(),
            Answer::Server(status) => status.to_string(),
        })
        .collect();
    format!("[{}]", words.join(" "))
}

fn assert_no_failures(server: &str, failed: Vec<String>) {
    if !failed.is_empty() {
        let mut report = format!("{} corpus cases failed against {server}:\n", failed.len());
        for line in &failed {
            let _ = writeln!(report, "  {line}");
        }
        panic!("{report}");
    }
}

#[test]
fn the_corpus_holds_at_least_sixty_cases_each_closed_or_answered() {
    let cases = cases();
    assert!(cases.len() >= 60, "{} cases", cases.len());
    let mut names: Vec<&str> = cases.iter().map(|case| case.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "case names are unique");
    for case in &cases {
        assert!(
            case.outcome == Outcome::Closed || !case.answers.is_empty(),
            "{} keeps a connection open that answered nothing",
            case.name
        );
    }
}

#[test]
fn the_static_file_server_answers_every_corpus_case_as_the_rfcs_say() {
    let seen = Seen::default();
    let (running, _dir) = static_file_server(seen.clone());
    assert_no_failures(
        "the static-file server",
        failures(running.address, Served::StaticFiles, &seen),
    );
}

#[test]
fn a_router_app_answers_every_corpus_case_as_the_rfcs_say() {
    let seen = Seen::default();
    let running = router_app(seen.clone());
    assert_no_failures(
        "a Router app",
        failures(running.address, Served::Router, &seen),
    );
}

#[test]
fn a_refused_request_waits_for_the_slow_answer_before_it() {
    let running = serve(|reactor| {
        let reactor = reactor.clone();
        Server::new(move |_request: Request| -> Reply {
            torsion::time::defer_later(&reactor, Duration::from_millis(200), || {
                Ok::<_, torsion::Failure>(Response::new(Body::from("slow\n")))
            })
            .into()
        })
    });
    let answer = support::exchange(
        running.address,
        b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\nGET /bad HTTP/1.1\r\n\r\n",
        Duration::from_secs(5),
    );
    let first = answer.find("HTTP/1.1 200 OK").expect(&answer);
    let second = answer.find("HTTP/1.1 400 Bad Request").expect(&answer);
    assert!(first < second, "{answer}");
    assert!(answer.contains("slow\n"), "{answer}");
}
