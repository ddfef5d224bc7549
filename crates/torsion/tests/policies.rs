//! `protocols::TimeoutFactory` over real sockets: a quiet connection is
//! closed once the period has passed, one the client keeps talking on is
//! not, nor one the server keeps writing on while the client says nothing.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use torsion::net::{Address, Protocol, Transport, factory_fn};
use torsion::protocols::TimeoutFactory;
use torsion::protocols::wire::Echo;
use torsion::testing::run_test;
use torsion::{Failure, Reactor};

const PERIOD: Duration = Duration::from_millis(400);

/// Writes `tick` a quarter period apart, eight times, then nothing.
#[derive(Default)]
struct Ticker;

impl Protocol for Ticker {
    fn connection_made(&mut self, transport: &Transport) {
        let reactor = Reactor::current().unwrap();
        for tick in 1..=8 {
            let out = transport.clone();
            reactor.call_later(PERIOD / 4 * tick, move || out.write(b"tick\n"));
        }
    }

    fn data_received(&mut self, _: &[u8]) {}
}

fn listen<P: Protocol>(reactor: &Reactor, build: fn() -> P) -> SocketAddr {
    let factory = TimeoutFactory::new(factory_fn(move |_| Some(build())), PERIOD);
    let port = reactor
        .listen_tcp("127.0.0.1:0".parse().unwrap(), factory)
        .unwrap();
    let Address::Tcp(address) = port.address() else {
        panic!("not TCP")
    };
    // The port lives as long as the reactor.
    std::mem::forget(port);
    address
}

fn connect(address: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Reads until the server closes; returns what came and how long after
/// `since` the end came.
fn until_closed(stream: &mut TcpStream, since: Instant) -> (Vec<u8>, Duration) {
    let mut got = Vec::new();
    stream.read_to_end(&mut got).unwrap();
    (got, since.elapsed())
}

fn assert_closed_by_the_timeout(who: &str, lasted: Duration) {
    assert!(
        lasted >= PERIOD && lasted < PERIOD + Duration::from_secs(3),
        "{who}: closed after {lasted:?}, the period is {PERIOD:?}"
    );
}

#[test]
fn a_quiet_connection_is_closed_and_a_talking_one_is_kept() {
    run_test(Duration::from_secs(30), |reactor| async move {
        let address = listen(&reactor, Echo::default);
        let quiet = reactor.defer_to_thread(move || {
            // The count starts when the server takes the connection.
            let since = Instant::now();
            let mut stream = connect(address);
            until_closed(&mut stream, since)
        });
        let talking = reactor.defer_to_thread(move || {
            let mut stream = connect(address);
            let mut since = Instant::now();
            for _ in 0..8 {
                std::thread::sleep(PERIOD / 4);
                since = Instant::now();
                stream.write_all(b"ping").unwrap();
                let mut echoed = [0; 4];
                stream.read_exact(&mut echoed).unwrap();
                assert_eq!(&echoed, b"ping", "echoed while talking");
            }
            until_closed(&mut stream, since)
        });
        let (got, lasted) = quiet.await?;
        assert!(got.is_empty());
        assert_closed_by_the_timeout("quiet", lasted);
        let (got, lasted) = talking.await?;
        assert!(got.is_empty());
        assert_closed_by_the_timeout("quiet after talking", lasted);
        Ok::<(), Failure>(())
    });
}

#[test]
fn what_the_server_writes_keeps_the_connection_too() {
    run_test(Duration::from_secs(30), |reactor| async move {
        let address = listen(&reactor, Ticker::default);
        let (got, lasted) = reactor
            .defer_to_thread(move || {
                let since = Instant::now();
                let mut stream = connect(address);
                until_closed(&mut stream, since)
            })
            .await?;
        // Eight ticks over twice the period, then a whole period of quiet.
        assert_eq!(got, b"tick\n".repeat(8));
        assert!(
            lasted >= PERIOD * 3,
            "closed after {lasted:?}, before the ticks and a period after them"
        );
        Ok::<(), Failure>(())
    });
}
