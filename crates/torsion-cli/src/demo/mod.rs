//! `torsion demo`: the project's showcase, one process serving on
//! 127.0.0.1 (docs/demo.md):
//!
//! - a chat room with two doors: a web page on WebSockets and a line
//!   protocol for `nc` (`torsion::chat`, `torsion_web::chat`);
//! - an exchange rate polled by a `LoopingCall` through torsion's HTTP
//!   client, from the demo's own drifting feed unless `--rate-source`
//!   names another;
//! - a blocking web app on plain threads (`tiny_http`, as Flask would be)
//!   that asks the reactor for the rate through the blocking bridge;
//! - the rate's history as an SVG chart, and the state as JSON;
//! - a live view of the process (`torsion_web::LiveView`).
//!
//! Each part is a service of one `Application`: SIGINT or SIGTERM stops
//! them all, in reverse order, and the command exits with 0.

pub(crate) mod chart;
pub(crate) mod feed;
pub(crate) mod heartbeat;
pub(crate) mod quote;
pub(crate) mod rate;

use std::error::Error;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use clap::Args;
use torsion::chat::{Room, line_chatter};
use torsion::net::{Address, factory_fn};
use torsion::service::{Application, ListeningService};
use torsion::{Failure, Reactor};
use torsion_web::{LiveView, WebService};

use crate::announce::Announce;
use crate::seconds::parse_seconds;
use quote::QuoteService;
use rate::RateSource;

/// The first of the demo's ports unless told.
pub(crate) const DEFAULT_PORT_BASE: u16 = 8600;

/// Each part's port, as an offset from `--port-base`.
const CHAT: u16 = 0;
const LINE_CHAT: u16 = 1;
const QUOTE: u16 = 2;
const CHART: u16 = 3;
const FEED: u16 = 4;
const LIVE_VIEW: u16 = 5;

/// Options of `torsion demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// The first of five consecutive ports on 127.0.0.1: the chat page,
    /// the nc chat, the blocking app, the chart, the rate feed. 0 gives
    /// each part a free port; the URLs are printed either way.
    #[arg(long, value_name = "PORT", default_value_t = DEFAULT_PORT_BASE)]
    port_base: u16,

    /// How often the rate is polled.
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = parse_seconds)]
    poll_interval: Duration,

    /// Where the rate is read (JSON with a number under "rate", or the
    /// bare number). By default the demo's own feed, which drifts.
    #[arg(long, value_name = "URL")]
    rate_source: Option<String>,
}

impl Default for DemoArgs {
    fn default() -> DemoArgs {
        DemoArgs {
            port_base: DEFAULT_PORT_BASE,
            poll_interval: Duration::from_secs(30),
            rate_source: None,
        }
    }
}

impl DemoArgs {
    /// The port of the part at `offset`.
    fn port(&self, offset: u16) -> Result<u16, String> {
        if self.port_base == 0 {
            return Ok(0);
        }
        self.port_base.checked_add(offset).ok_or_else(|| {
            format!(
                "--port-base {} leaves no room for five ports",
                self.port_base
            )
        })
    }

    fn endpoint(&self, offset: u16) -> Result<String, String> {
        Ok(format!("tcp:{}:interface=127.0.0.1", self.port(offset)?))
    }
}

/// Runs the demo until SIGINT or SIGTERM.
pub(crate) fn run(args: DemoArgs) -> Result<(), Box<dyn Error>> {
    if args.poll_interval.is_zero() {
        return Err("--poll-interval must be more than 0".into());
    }
    let reactor = Reactor::new()?;
    let application = Application::new();
    application.add_service(Rc::new(heartbeat::service(&reactor).named("heartbeat")))?;

    let source = match &args.rate_source {
        Some(url) => RateSource::Url(url.clone()),
        None => {
            let feed = Rc::new(
                WebService::from_string(&reactor, &args.endpoint(FEED)?, feed::site())?
                    .named("rate-feed"),
            );
            application.add_service(feed.clone())?;
            RateSource::Feed(feed)
        }
    };
    let source_url = match &source {
        RateSource::Url(url) => Some(url.clone()),
        RateSource::Feed(_) => None,
    };
    let poller = rate::poller(&reactor, source.clone(), args.poll_interval);
    application.add_service(Rc::new(poller.named("rate-poller")))?;
    let chart = Rc::new(
        WebService::from_string(&reactor, &args.endpoint(CHART)?, chart::site(&reactor))?
            .named("rate-chart"),
    );
    application.add_service(chart.clone())?;
    let quote_address = SocketAddr::from((Ipv4Addr::LOCALHOST, args.port(QUOTE)?));
    let quote = Rc::new(QuoteService::new(&reactor, quote_address).named("blocking-app"));
    application.add_service(quote.clone())?;

    let room = Room::new();
    let chat = Rc::new(
        WebService::from_string(
            &reactor,
            &args.endpoint(CHAT)?,
            torsion_web::chat::site(&room),
        )?
        .named("chat-page"),
    );
    application.add_service(chat.clone())?;
    let line_chat = Rc::new(
        ListeningService::from_string(
            &reactor,
            &args.endpoint(LINE_CHAT)?,
            factory_fn(move |_| Some(line_chatter(&room))),
        )?
        .named("chat-line"),
    );
    application.add_service(line_chat.clone())?;
    // The process's own figures: its connections (the browsers' chat
    // sockets among them), ports, timers, thread pool, pending Deferreds.
    let live_view = Rc::new(LiveView::service_on(&reactor, &args.endpoint(LIVE_VIEW)?)?);
    application.add_service(live_view.clone())?;

    application.add_service(Rc::new(Announce::new("announce", move || {
        let feed_url = match &source {
            RateSource::Feed(feed) => format!("{}{}", http_url(feed.address())?, &feed::PATH[1..]),
            RateSource::Url(_) => source_url.clone().unwrap_or_default(),
        };
        let chart_url = http_url(chart.address())?;
        let line = match line_chat.address() {
            Some(Address::Tcp(address)) => address,
            other => return Err(Failure::msg(format!("the line chat is on {other:?}"))),
        };
        let quote = quote
            .address()
            .ok_or_else(|| Failure::msg("the blocking app is not up"))?;
        let lines = [
            format!(
                "URL chat {}  the chat page (WebSockets)",
                http_url(chat.address())?
            ),
            format!(
                "URL chat-line tcp://{line}  the same room with nc 127.0.0.1 {}",
                line.port()
            ),
            format!("URL rate http://{quote}/  the blocking app (tiny_http) asking the reactor"),
            format!("URL chart {chart_url}  the rate's history, drawn as SVG"),
            format!("URL status {chart_url}status  JSON: rate, polls, timer lateness"),
            format!(
                "URL live {}  this process's connections, ports, timers and threads",
                http_url(live_view.address())?
            ),
            format!(
                "URL rate-source {feed_url}  polled every {:?}",
                args.poll_interval
            ),
        ];
        let mut stdout = std::io::stdout().lock();
        for line in lines {
            let _ = writeln!(stdout, "{line}");
        }
        let _ = writeln!(stdout, "READY; Ctrl-C stops");
        let _ = stdout.flush();
        Ok(())
    })))?;

    application.run(&reactor)?;
    tracing::info!("stopped");
    Ok(())
}

/// `http://ADDRESS/` for a web service's bound address.
fn http_url(address: Option<Address>) -> Result<String, Failure> {
    match address {
        Some(Address::Tcp(address)) => Ok(format!("http://{address}/")),
        other => Err(Failure::msg(format!("not a TCP address: {other:?}"))),
    }
}
