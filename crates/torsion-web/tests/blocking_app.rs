//! Blocking functions served from a thread pool, to real clients: the
//! reactor keeps its timers on time while workers sleep, streamed bodies
//! arrive whole, panics are 500s and the pool lives on.

mod support;

use std::cell::RefCell;
use std::io::Write;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use torsion::Reactor;
use torsion::threads::{StopMode, ThreadPool};
use torsion::time::LoopingCall;
use torsion_web::{BlockingApp, BlockingBody, BlockingRequest, BlockingResponse, Router};

use support::{curl, python_requests, serve_while};

const TICK: Duration = Duration::from_millis(10);

#[test]
fn sixteen_sleeping_requests_share_a_pool_of_sixteen_while_a_timer_stays_on_time() {
    let reactor = Reactor::new().unwrap();
    let pool = ThreadPool::new("web-test", 0, 16);
    let app = BlockingApp::new(|request: BlockingRequest| {
        std::thread::sleep(Duration::from_millis(200));
        let worker = std::thread::current().name().unwrap_or("?").to_owned();
        BlockingResponse::new(format!("{} slept on {worker}\n", request.uri().path()).into())
    })
    .pool(pool.clone());

    // Each tick's lateness against its schedule: the first tick's time
    // plus one TICK per interval since (skipped intervals count as late).
    let lateness = Rc::new(RefCell::new(Vec::new()));
    let schedule = Rc::new(RefCell::new(None::<(Instant, u32)>));
    let looping = {
        let lateness = lateness.clone();
        LoopingCall::with_count(reactor.clone(), move |intervals| {
            let now = Instant::now();
            let mut schedule = schedule.borrow_mut();
            let (first, slot) = schedule.get_or_insert((now, 0));
            if !lateness.borrow().is_empty() {
                *slot += intervals as u32;
            }
            let due = *first + TICK * *slot;
            lateness
                .borrow_mut()
                .push(now.saturating_duration_since(due));
        })
    };
    drop(looping.start(TICK, true).unwrap());

    let report = serve_while(&reactor, app, |address| {
        python_requests(
            r#"
from concurrent.futures import ThreadPoolExecutor
url = sys.argv[1]
fetch = lambda n: requests.get(f"{url}/r{n}", timeout=10)
with ThreadPoolExecutor(16) as clients:
    requests.get(url + "/warm-up", timeout=10)
    start = time.monotonic()
    answers = list(clients.map(fetch, range(16)))
    elapsed = time.monotonic() - start
print(json.dumps({"elapsed": elapsed, "statuses": [a.status_code for a in answers],
                  "bodies": [a.text for a in answers]}))
"#,
            &[&format!("http://{address}")],
        )
    });
    looping.stop();
    pool.stop(StopMode::FinishQueued);

    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    let elapsed = report["elapsed"].as_f64().unwrap();
    assert!(
        report["statuses"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s == 200),
        "{report}"
    );
    let workers: std::collections::HashSet<String> = report["bodies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|body| {
            body.as_str()
                .unwrap()
                .rsplit(' ')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        workers.len() > 8,
        "the requests ran on many workers: {workers:?}"
    );
    assert!(
        elapsed < 1.2,
        "16 requests of 200 ms on 16 threads took {elapsed:.3} s (serial would be 3.2 s)"
    );
    let lateness = lateness.borrow();
    let worst = lateness.iter().max().copied().unwrap_or_default();
    assert!(
        lateness.len() > 20,
        "the timer ticked {} times",
        lateness.len()
    );
    assert!(
        worst < Duration::from_millis(50),
        "a tick was {worst:?} late: the reactor was blocked"
    );
    println!(
        "16 x 200 ms in {elapsed:.3} s; {} ticks, worst lateness {worst:?}",
        lateness.len()
    );
}

#[test]
fn streamed_bodies_from_an_iterator_and_a_writer_arrive_whole() {
    let reactor = Reactor::new().unwrap();
    let router = Router::new()
        .get(
            "/lines",
            BlockingApp::new(|_request: BlockingRequest| {
                BlockingResponse::new(BlockingBody::chunks(
                    (0..1000).map(|n| format!("line {n}\n")),
                ))
            }),
        )
        .get(
            "/bulk",
            BlockingApp::new(|_request: BlockingRequest| {
                BlockingResponse::new(BlockingBody::writer(|out| {
                    let block = vec![b'x'; 64 * 1024];
                    for _ in 0..64 {
                        out.write_all(&block)?; // 4 MiB through the channel
                    }
                    Ok(())
                }))
            }),
        )
        .post(
            "/echo",
            BlockingApp::new(|request: BlockingRequest| {
                BlockingResponse::new(BlockingBody::from(request.into_body()))
            })
            .body_limit(1024 * 1024),
        );
    serve_while(&reactor, router, |address| {
        let lines = curl(&[&format!("http://{address}/lines")]);
        assert_eq!(lines.status, 200);
        assert_eq!(lines.header("transfer-encoding"), Some("chunked"));
        let expected: String = (0..1000).map(|n| format!("line {n}\n")).collect();
        assert_eq!(lines.text(), expected);

        let bulk = curl(&[&format!("http://{address}/bulk")]);
        assert_eq!(bulk.body.len(), 4 * 1024 * 1024);
        assert!(bulk.body.iter().all(|b| *b == b'x'));

        let echo = curl(&[
            "--data-binary",
            "hello body",
            &format!("http://{address}/echo"),
        ]);
        assert_eq!(echo.text(), "hello body");
        let too_large = python_requests(
            "r = requests.post(sys.argv[1], data=b'y' * (2 << 20)); print(r.status_code)",
            &[&format!("http://{address}/echo")],
        );
        assert_eq!(too_large.trim(), "413");
    });
}

#[test]
fn a_panic_is_a_500_before_the_head_and_a_cut_response_after_and_the_pool_lives_on() {
    let reactor = Reactor::new().unwrap();
    let pool = ThreadPool::new("panicky", 1, 1);
    let router = Router::new()
        .get(
            "/panic",
            BlockingApp::new(|_request: BlockingRequest| panic!("the app failed"))
                .pool(pool.clone()),
        )
        .get(
            "/panic-while-streaming",
            BlockingApp::new(|_request: BlockingRequest| {
                BlockingResponse::new(BlockingBody::chunks((0..10).map(|n| {
                    assert!(n < 3, "chunk {n} failed");
                    format!("chunk {n}\n")
                })))
            })
            .pool(pool.clone()),
        )
        .get(
            "/fine",
            BlockingApp::new(|_request: BlockingRequest| BlockingResponse::new("fine\n".into()))
                .pool(pool.clone()),
        );
    serve_while(&reactor, router, |address| {
        for _ in 0..3 {
            let failed = curl(&[&format!("http://{address}/panic")]);
            assert_eq!(failed.status, 500);
            let fine = curl(&[&format!("http://{address}/fine")]);
            assert_eq!(fine.text(), "fine\n", "the single pool thread survived");
        }
        let cut = std::process::Command::new("curl")
            .args(["-sS", "--max-time", "10"])
            .arg(format!("http://{address}/panic-while-streaming"))
            .output()
            .unwrap();
        assert!(
            !cut.status.success(),
            "curl sees the response cut short: {cut:?}"
        );
        // What got out before the cut depends on what the connection had
        // flushed; never more than the chunks made before the panic.
        let got = String::from_utf8_lossy(&cut.stdout);
        assert!("chunk 0\nchunk 1\nchunk 2\n".starts_with(&*got), "{got:?}");
        assert_eq!(curl(&[&format!("http://{address}/fine")]).text(), "fine\n");
    });
    pool.stop(StopMode::FinishQueued);
}

#[test]
fn a_client_that_goes_away_stops_the_writing_worker() {
    let reactor = Reactor::new().unwrap();
    let written = Arc::new(AtomicU64::new(0));
    let stopped = Arc::new(AtomicBool::new(false));
    let app = {
        let (written, stopped) = (written.clone(), stopped.clone());
        BlockingApp::new(move |_request: BlockingRequest| {
            let (written, stopped) = (written.clone(), stopped.clone());
            BlockingResponse::new(BlockingBody::writer(move |out| {
                let block = vec![b'z'; 64 * 1024];
                // Up to 1 GiB, unless the client leaves first.
                let outcome = (0..16 * 1024).try_for_each(|_| {
                    out.write_all(&block)?;
                    written.fetch_add(block.len() as u64, Ordering::SeqCst);
                    Ok(())
                });
                stopped.store(true, Ordering::SeqCst);
                outcome
            }))
        })
    };
    let stopped_in_time = {
        let stopped = stopped.clone();
        serve_while(&reactor, app, move |address| {
            python_requests(
                r#"
r = requests.get(sys.argv[1], stream=True, timeout=10)
got = 0
for chunk in r.iter_content(65536):
    got += len(chunk)
    if got >= 256 * 1024:
        break
r.close()
print(got)
"#,
                &[&format!("http://{address}/")],
            );
            let deadline = Instant::now() + Duration::from_secs(10);
            while !stopped.load(Ordering::SeqCst) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            stopped.load(Ordering::SeqCst)
        })
    };
    assert!(stopped_in_time, "the worker stopped after the client left");
    let written = written.load(Ordering::SeqCst);
    assert!(
        written < 64 * 1024 * 1024,
        "the worker was held back by flow control, not left writing: {written} bytes"
    );
}
