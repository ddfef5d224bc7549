//! An application of three services: an echo server, a ticker, and a last
//! one that only says it runs. SIGINT or SIGTERM (Ctrl-C) stops them, in
//! reverse order, each printing its stop, and the program exits with 0.
//!
//! ```text
//! cargo run -p torsion --example services                  # echo on 127.0.0.1:8007
//! cargo run -p torsion --example services -- --listen tcp:0:interface=127.0.0.1
//! cargo run -p torsion --example services -- --fail        # a service that cannot start
//! ```
//!
//! With `--fail` a service listening on a UNIX socket in a directory that
//! does not exist is added after the ticker: its start fails, the ticker
//! and the echo server are stopped again, and the program exits with 1
//! and the error.

use std::rc::Rc;
use std::time::Duration;

use torsion::net::{Protocol, Transport, factory_fn};
use torsion::service::{Application, ListeningService, Service, ServiceCore, TimerService};
use torsion::{Deferred, Failure, Reactor};

/// Sends back whatever it receives.
#[derive(Default)]
struct Echo {
    transport: Option<Transport>,
}

impl Protocol for Echo {
    fn connection_made(&mut self, transport: &Transport) {
        self.transport = Some(transport.clone());
    }
    fn data_received(&mut self, data: &[u8]) {
        if let Some(transport) = &self.transport {
            transport.write(data);
        }
    }
}

/// A service that prints when the one it wraps has started and stopped.
struct Announced<S>(S);

impl<S: Service> Service for Announced<S> {
    fn core(&self) -> &ServiceCore {
        self.0.core()
    }
    fn start_service(&self) -> Result<(), Failure> {
        self.0.start_service()?;
        println!("started {}", self.core().display_name());
        Ok(())
    }
    fn stop_service(&self) -> Deferred<()> {
        let name = self.core().display_name();
        self.0
            .stop_service()
            .map(move |()| println!("stopped {name}"))
    }
}

/// Does nothing; its name says where the application is.
struct Marker(ServiceCore);

impl Service for Marker {
    fn core(&self) -> &ServiceCore {
        &self.0
    }
}

fn main() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    if let Err(error) = run() {
        eprintln!("error: {error}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut listen = "tcp:8007:interface=127.0.0.1".to_owned();
    let mut fail = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--listen" => listen = args.next().ok_or("--listen needs an endpoint")?,
            "--fail" => fail = true,
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }

    let reactor = Reactor::new()?;
    let application = Application::new();

    let echo = Rc::new(Announced(
        ListeningService::from_string(&reactor, &listen, factory_fn(|_| Some(Echo::default())))?
            .named("echo"),
    ));
    application.add_service(echo.clone())?;
    // Printed once the application has started the echo service.
    let r = reactor.clone();
    reactor.call_when_running(move || {
        r.call_later(Duration::ZERO, move || {
            if let Some(address) = echo.0.address() {
                println!("echo listening on {address}");
            }
        });
    });

    let mut ticks = 0u64;
    let ticker = TimerService::new(reactor.clone(), Duration::from_secs(1), move || {
        ticks += 1;
        println!("tick {ticks}");
    });
    application.add_service(Rc::new(Announced(ticker.named("ticker"))))?;

    if fail {
        let broken = ListeningService::from_string(
            &reactor,
            "unix:/nonexistent/services-example.sock",
            factory_fn(|_| Some(Echo::default())),
        )?;
        application.add_service(Rc::new(Announced(broken.named("broken"))))?;
    }

    application.add_service(Rc::new(Announced(Marker(ServiceCore::named("last")))))?;

    application.run(&reactor)?;
    println!("all services stopped");
    Ok(())
}
