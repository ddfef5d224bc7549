//! A web service in an application, answered by curl: it serves while the
//! application runs, and stopping the application lets the request in
//! flight finish before the port closes.

mod support;

use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use torsion::net::Address;
use torsion::service::Application;
use torsion::time::defer_later;
use torsion::{Failure, Reactor};
use torsion_web::{Body, Reply, Request, Response, WebService};

use support::curl;

#[test]
fn web_service_serves_while_running_and_its_stop_lets_the_request_in_flight_finish() {
    let reactor = Reactor::new().unwrap();
    let r = reactor.clone();
    // "/slow" stops the reactor, then answers 300 ms later: the answer
    // arrives only if the shutdown waits for the server to drain.
    let resource = move |request: Request| -> Reply {
        if request.uri().path() != "/slow" {
            return Response::new(Body::from("hello\n")).into();
        }
        r.stop().unwrap();
        let later = defer_later(&r, Duration::from_millis(300), || {
            Ok::<_, Failure>(Response::new(Body::from("slow\n")))
        });
        Reply::later(later)
    };
    let web = Rc::new(
        WebService::from_string(&reactor, "tcp:0:interface=127.0.0.1", resource)
            .unwrap()
            .named("web"),
    );
    let application = Application::new();
    application.add_service(web.clone()).unwrap();

    let (tx, port) = mpsc::channel::<SocketAddr>();
    let (w, r) = (web.clone(), reactor.clone());
    reactor.call_when_running(move || {
        // After the application's own start, which runs when the reactor
        // does too.
        r.call_later(Duration::ZERO, move || match w.address() {
            Some(Address::Tcp(address)) => tx.send(address).unwrap(),
            other => panic!("not listening on TCP: {other:?}"),
        });
    });
    let clients = std::thread::spawn(move || {
        let address = port.recv_timeout(Duration::from_secs(10)).unwrap();
        let hello = curl(&[&format!("http://{address}/")]);
        let slow = curl(&[&format!("http://{address}/slow")]);
        (address, hello.text(), slow.text())
    });
    let stopper = reactor.clone();
    reactor.call_later(Duration::from_secs(20), move || {
        let _ = stopper.stop();
    });
    application.run(&reactor).unwrap();
    let (address, hello, slow) = clients.join().unwrap();
    assert_eq!(hello, "hello\n");
    assert_eq!(slow, "slow\n");
    assert!(!application.is_running());
    assert!(web.address().is_none());
    assert!(TcpStream::connect(address).is_err(), "the port is closed");
}
