//! The order of shutdown with connections open, over real loopback TCP:
//! connections are disconnected at the start of the during phase, so
//! `connection_lost` runs after the before-shutdown triggers and before the
//! during and after ones, as Twisted's `disconnectAll` does.

use std::cell::RefCell;
use std::net::TcpStream;
use std::rc::Rc;
use std::time::Duration;

use torsion::net::{Address, Protocol, Transport, factory_fn};
use torsion::reactor::{Phase, Signals, SystemEvent};
use torsion::{Failure, Reactor};

type Log = Rc<RefCell<Vec<&'static str>>>;

/// Stops the reactor once connected, and logs its loss.
struct StopsOnConnect {
    log: Log,
    reactor: Reactor,
}

impl Protocol for StopsOnConnect {
    fn connection_made(&mut self, _transport: &Transport) {
        self.log.borrow_mut().push("connection_made");
        self.reactor.stop().unwrap();
    }
    fn data_received(&mut self, _data: &[u8]) {}
    fn connection_lost(&mut self, _reason: Failure) {
        self.log.borrow_mut().push("connection_lost");
    }
}

#[test]
fn connection_lost_runs_after_before_triggers_and_before_during_and_after_triggers() {
    let reactor = Reactor::new().unwrap();
    let log: Log = Rc::default();
    let (l, r) = (log.clone(), reactor.clone());
    let port = reactor
        .listen_tcp(
            "127.0.0.1:0".parse().unwrap(),
            factory_fn(move |_| {
                Some(StopsOnConnect {
                    log: l.clone(),
                    reactor: r.clone(),
                })
            }),
        )
        .unwrap();
    for (phase, entry) in [
        (Phase::Before, "before-shutdown"),
        (Phase::During, "during-shutdown"),
        (Phase::After, "after-shutdown"),
    ] {
        let l = log.clone();
        reactor.add_system_event_trigger(phase, SystemEvent::Shutdown, move || {
            l.borrow_mut().push(entry)
        });
    }
    // The client stays connected; only the reactor's shutdown ends it.
    let Address::Tcp(address) = port.address() else {
        panic!("a TCP port has a TCP address");
    };
    let client = TcpStream::connect(address).unwrap();
    let r = reactor.clone();
    reactor.call_later(Duration::from_secs(10), move || {
        let _ = r.stop();
    });
    reactor.run_with(Signals::LeaveAlone).unwrap();
    drop(client);
    assert_eq!(
        *log.borrow(),
        [
            "connection_made",
            "before-shutdown",
            "connection_lost",
            "during-shutdown",
            "after-shutdown"
        ]
    );
}
