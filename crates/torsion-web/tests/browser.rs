//! torsion-web's pages in a real browser: headless Chromium, driven by
//! `browser_driver.py` through selenium and the system's chromedriver,
//! against a server on loopback. Each page check is one entry of data
//! (where to go, what to wait for, what to type and click, what must show);
//! a screenshot of each is saved under `target/browser-screenshots/`.
//!
//! Needs `chromium` and `chromedriver` on PATH (Debian: `chromium`,
//! `chromium-driver`; `scripts/test` installs them): without them the test
//! fails saying so.

mod support;

use serde_json::{Value, json};
use support::{chat_checks, clear_screenshots, run_browser_checks, screenshot_directory, serve};
use torsion::chat::Room;
use torsion_web::{LiveView, Server};

#[test]
fn two_pages_chat_and_the_live_view_lists_their_websockets() {
    // The chat and the live view on one reactor: the live view sees the
    // chat's connections.
    let server = serve(move |_| {
        Server::new(torsion_web::chat::site(&Room::new()).mount("/live", LiveView::new()))
    });
    let base = server.url("");

    clear_screenshots("web");
    let mut checks = chat_checks("web", &format!("{base}/"));
    checks.push(json!({
        "name": "web-live-view",
        "tab": "live",
        "url": format!("{base}/live/"),
        "expect": [{"css": "#connections tr", "text": "websocket", "count": 2}],
    }));
    let results = run_browser_checks(Value::Array(checks));

    let names: Vec<&str> = results.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "web-chat-alice-joins",
            "web-chat-bob-joins",
            "web-chat-alice-says-hello",
            "web-chat-bob-hears-it",
            "web-live-view"
        ]
    );
    // The live view's WebSocket rows are the two browser pages' own
    // connections: nothing else in the process speaks WebSocket.
    let rows = &results[4].1[0];
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(
        rows.iter().all(|row| row.starts_with("127.0.0.1:")),
        "{rows:?}"
    );
    for (name, _) in &results {
        let png = std::fs::read(screenshot_directory().join(format!("{name}.png")))
            .unwrap_or_else(|error| panic!("the screenshot of {name}: {error}"));
        assert!(png.starts_with(b"\x89PNG"), "{name}.png is a PNG");
    }
    server.stop();
}
