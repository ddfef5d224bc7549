//! The demo's own rate source, so it needs no network: a JSON feed whose
//! EUR/USD rate drifts with time, served on a port of its own like a
//! remote service would be.

use std::f64::consts::TAU;

use torsion_web::respond::json;
use torsion_web::{Request, Router};

use super::rate::unix_now;

/// Where the feed answers.
pub(crate) const PATH: &str = "/rate.json";

/// The feed: `GET /rate.json` answers
/// `{"base":"EUR","quote":"USD","rate":1.08512,"time":1733360000.5}`.
pub(crate) fn site() -> Router {
    Router::new().get(PATH, |_request: Request| {
        let time = unix_now();
        json(&serde_json::json!({
            "base": "EUR",
            "quote": "USD",
            "rate": rate_at(time),
            "time": time,
        }))
    })
}

/// A rate that drifts: a slow swing of a few hundredths over ten minutes
/// with a faster ripple on top, rounded to five decimals as quotes are.
/// A function of the time alone, so every reader agrees.
fn rate_at(time: f64) -> f64 {
    let drift = 1.085 + 0.012 * (TAU * time / 600.0).sin() + 0.002 * (TAU * time / 37.0).sin();
    (drift * 100_000.0).round() / 100_000.0
}

#[cfg(test)]
mod tests {
    use super::rate_at;

    #[test]
    fn the_rate_stays_near_parity_and_moves_within_seconds() {
        let start = 1_733_360_000.0;
        let rates: Vec<f64> = (0..10).map(|s| rate_at(start + s as f64)).collect();
        assert!(rates.iter().all(|rate| (1.07..1.10).contains(rate)));
        assert!(rates.windows(2).filter(|pair| pair[0] != pair[1]).count() >= 5);
    }
}
