//! The rate's history as a chart drawn on the server: an SVG of the
//! samples (a line through them, a dot on each), inside a page with the
//! current rate, and the board's state as JSON.

use std::fmt::Write;
use std::rc::Rc;

use torsion::Reactor;
use torsion_web::http::{HeaderValue, header};
use torsion_web::respond::{html, json};
use torsion_web::{Body, Request, Response, Router};

use super::heartbeat::Heartbeat;
use super::rate::{RateBoard, Sample};

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 240.0;
const MARGIN: f64 = 40.0;

/// `/` the page, `/chart.svg` the chart alone, `/status` the board and the
/// heartbeat as JSON.
pub(crate) fn site(reactor: &Reactor) -> Router {
    let board = reactor.extension::<RateBoard>();
    let heartbeat = reactor.extension::<Heartbeat>();
    let page_board = board.clone();
    let svg_board = board.clone();
    Router::new()
        .get("/", move |_request: Request| html(page(&page_board)))
        .get("/chart.svg", move |_request: Request| {
            let mut response = Response::new(Body::from(svg(&svg_board.history())));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("image/svg+xml"),
            );
            response
        })
        .get("/status", move |_request: Request| {
            status(&board, &heartbeat)
        })
}

fn status(board: &Rc<RateBoard>, heartbeat: &Rc<Heartbeat>) -> Response {
    let (polls, failures) = board.counts();
    json(&serde_json::json!({
        "rate": board.latest().map(|sample| sample.rate),
        "polls": polls,
        "failures": failures,
        "last_error": board.last_error(),
        "history": board.history(),
        "timer": heartbeat.lateness(),
    }))
}

fn page(board: &RateBoard) -> String {
    let history = board.history();
    let current = match board.latest() {
        Some(sample) => format!("{:.5}", sample.rate),
        None => "unavailable".to_owned(),
    };
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"refresh\" content=\"5\">\n<title>EUR/USD</title>\n\
         <style>body {{ font: 16px/1.4 system-ui, sans-serif; margin: 2em; }}</style>\n\
         </head>\n<body>\n<h1>EUR/USD: {current}</h1>\n<p>{} samples, polled by a \
         LoopingCall through torsion's HTTP client.</p>\n{}\n</body>\n</html>\n",
        history.len(),
        svg(&history)
    )
}

/// The chart: time across, rate up, scaled to the samples' range.
fn svg(history: &[Sample]) -> String {
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         viewBox=\"0 0 {WIDTH} {HEIGHT}\" data-points=\"{}\">\n\
         <rect width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"white\" stroke=\"#ccc\"/>\n",
        history.len()
    );
    if history.is_empty() {
        out.push_str("<text x=\"50%\" y=\"50%\" text-anchor=\"middle\">no rate yet</text>\n</svg>");
        return out;
    }
    let (low, high) = history.iter().fold((f64::MAX, f64::MIN), |(low, high), s| {
        (low.min(s.rate), high.max(s.rate))
    });
    // A flat history still gets a band to sit in.
    let span = (high - low).max(0.0001);
    let (first, last) = (history[0].time, history[history.len() - 1].time);
    let duration = (last - first).max(1.0);
    let place = |sample: &Sample| {
        let x = MARGIN + (sample.time - first) / duration * (WIDTH - 2.0 * MARGIN);
        let y = HEIGHT - MARGIN - (sample.rate - low) / span * (HEIGHT - 2.0 * MARGIN);
        (x, y)
    };
    let _ = writeln!(
        out,
        "<text x=\"4\" y=\"{:.1}\" font-size=\"11\">{high:.5}</text>\n\
         <text x=\"4\" y=\"{:.1}\" font-size=\"11\">{low:.5}</text>",
        MARGIN,
        HEIGHT - MARGIN
    );
    let points: Vec<String> = history
        .iter()
        .map(|sample| {
            let (x, y) = place(sample);
            format!("{x:.1},{y:.1}")
        })
        .collect();
    let _ = writeln!(
        out,
        "<polyline fill=\"none\" stroke=\"#36c\" stroke-width=\"2\" points=\"{}\"/>",
        points.join(" ")
    );
    for sample in history {
        let (x, y) = place(sample);
        let _ = writeln!(
            out,
            "<circle class=\"point\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3\" fill=\"#36c\" \
             data-rate=\"{:.5}\"><title>{:.5}</title></circle>",
            sample.rate, sample.rate
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(time: f64, rate: f64) -> Sample {
        Sample { time, rate }
    }

    #[test]
    fn every_sample_is_a_point_and_the_extremes_touch_the_margins() {
        let chart = svg(&[sample(0.0, 1.08), sample(1.0, 1.09), sample(2.0, 1.085)]);
        assert_eq!(chart.matches("<circle class=\"point\"").count(), 3);
        assert!(chart.contains("data-points=\"3\""));
        assert!(chart.contains("cx=\"40.0\" cy=\"200.0\""), "{chart}");
        assert!(chart.contains("cx=\"600.0\" cy=\"120.0\""), "{chart}");
        assert!(chart.contains("cx=\"320.0\" cy=\"40.0\""), "{chart}");
    }

    #[test]
    fn an_empty_history_says_so() {
        let chart = svg(&[]);
        assert!(chart.contains("no rate yet"));
        assert!(!chart.contains("<circle"));
    }
}
