//! `torsion demo` in a real browser (headless Chromium, see torsion-web's
//! `tests/browser.rs`): the chat page in two pages, a message sent in one
//! seen in the other; the blocking app's page showing a rate; the chart;
//! and the live view listing the two pages' WebSocket connections.
//! Screenshots go to `target/browser-screenshots/demo-*.png`.

mod support;

use serde_json::{Value, json};
use support::{
    chat_checks, clear_screenshots, run_browser_checks, screenshot_directory, start_torsion,
};

#[test]
fn the_demo_in_a_browser_chats_shows_the_rate_and_sees_its_pages_live() {
    let mut demo = start_torsion(&["demo", "--port-base", "0", "--poll-interval", "1"]);
    demo.wait_for_stdout("READY");
    let url = |part: &str| -> String {
        demo.out
            .iter()
            .find_map(|line| {
                let mut words = line.split_whitespace();
                (words.next() == Some("URL") && words.next() == Some(part))
                    .then(|| words.next().unwrap().to_owned())
            })
            .unwrap_or_else(|| panic!("no URL for {part}: {:?}", demo.out))
    };
    let (chat, rate, chart, live) = (url("chat"), url("rate"), url("chart"), url("live"));
    clear_screenshots("demo");

    let mut checks = chat_checks("demo", &chat);
    checks.extend([
        json!({
            // The blocking app answers once the poller has run (every
            // second here): "EUR/USD rate: 1.08…", never "unavailable".
            "name": "demo-rate",
            "tab": "rate",
            "url": rate,
            "expect": [{"css": "body", "text": "EUR/USD rate: 1."}],
        }),
        json!({
            "name": "demo-chart",
            "tab": "chart",
            "url": chart,
            "expect": [{"css": "svg circle.point", "count": 1}],
        }),
        json!({
            "name": "demo-live-view",
            "tab": "live",
            "url": live,
            "expect": [{"css": "#connections tr", "text": "websocket", "count": 2}],
        }),
    ]);
    let results = run_browser_checks(Value::Array(checks));
    assert_eq!(results.len(), 7, "{results:?}");
    let shown = |name: &str| {
        &results
            .iter()
            .find(|(check, _)| check == name)
            .unwrap_or_else(|| panic!("no result for {name}: {results:?}"))
            .1
    };
    // The rate page shows a number, not "unavailable".
    let rate_text = &shown("demo-rate")[0][0];
    let number = rate_text
        .trim()
        .strip_prefix("EUR/USD rate: ")
        .unwrap_or_else(|| panic!("{rate_text:?}"));
    assert!(number.parse::<f64>().is_ok(), "{rate_text:?}");
    // The live view's WebSocket rows are the two pages' chat connections:
    // nothing else in the demo speaks WebSocket.
    assert_eq!(shown("demo-live-view")[0].len(), 2, "{results:?}");
    for (name, _) in &results {
        let png = std::fs::read(screenshot_directory().join(format!("{name}.png")))
            .unwrap_or_else(|error| panic!("the screenshot of {name}: {error}"));
        assert!(png.starts_with(b"\x89PNG"), "{name}.png is a PNG");
    }
    demo.signal("TERM");
    let exited = demo.wait();
    let (code, log) = (exited.status.code(), exited.err);
    assert_eq!(code, Some(0), "{log:#?}");
}
