//! Malformed messages sent to the server over real sockets: random bytes,
//! truncated headers, compression loops, lying counts. Each is answered
//! with FORMERR or dropped, as its header allows, and the server goes on
//! answering the next query, over UDP and over TCP. A TCP client that
//! goes quiet, whole messages or half of one, is closed at the idle
//! timeout while the others are answered.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::rc::Rc;
use std::time::{Duration, Instant};

use support::{blocking, run, serve, zone};
use torsion_dns::DnsServerFactory;
use torsion_dns::proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use torsion_dns::proto::rr::{Name, RecordType};

/// A header with this id, RD set, one question, and nothing after it.
fn header(id: u16) -> Vec<u8> {
    let mut bytes = id.to_be_bytes().to_vec();
    bytes.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    bytes
}

/// The hand-made malformed messages: (bytes, whether an answer is due).
fn malformed() -> Vec<(Vec<u8>, bool)> {
    let mut cases = vec![
        (vec![], false),
        (vec![0x12], false),
        (header(1)[..11].to_vec(), false),
        // The question is missing.
        (header(2), true),
    ];
    // A name pointing at itself, then one pointing forward to itself.
    let mut looped = header(3);
    looped.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
    cases.push((looped, true));
    let mut forward = header(4);
    forward.extend_from_slice(&[0xc0, 14, 0xc0, 12, 0, 1, 0, 1]);
    cases.push((forward, true));
    // A label running past the end.
    let mut long_label = header(5);
    long_label.extend_from_slice(&[63, b'a', b'b']);
    cases.push((long_label, true));
    // A label length with the reserved 0b01 and 0b10 high bits.
    let mut reserved = header(6);
    reserved.extend_from_slice(&[0x41, b'a', 0, 0, 1, 0, 1]);
    cases.push((reserved, true));
    // A response: dropped, so that two servers cannot bounce it forever.
    let mut response = header(7);
    response[2] |= 0x80;
    cases.push((response, false));
    cases
}

/// Random messages from a fixed seed (xorshift): lengths 0 to 600, the
/// first bytes sometimes a plausible header.
fn random_messages(count: usize) -> Vec<(Vec<u8>, bool)> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..count)
        .map(|_| {
            let length = (next() % 600) as usize;
            let mut bytes: Vec<u8> = (0..length).map(|_| next() as u8).collect();
            if bytes.len() >= 12 && next() % 2 == 0 {
                // QR clear, one question: past the header, into the parser.
                bytes[2] &= 0x7f;
                bytes[4..6].copy_from_slice(&[0, 1]);
            }
            let answered = bytes.len() >= 12 && bytes[2] & 0x80 == 0;
            (bytes, answered)
        })
        .collect()
}

fn query(id: u16, name: &str) -> Vec<u8> {
    let mut message = Message::new(id, MessageType::Query, OpCode::Query);
    message.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    message.to_vec().unwrap()
}

/// Sends each message, waiting for the answer of those that have one due
/// (all at once would overflow the server's receive buffer: a datagram
/// lost there would prove nothing), then a valid query. Returns the
/// answers, in order, with unexpected ones among them, and the valid
/// query's answer.
fn over_udp(server: SocketAddr, cases: Vec<(Vec<u8>, bool)>) -> (Vec<Message>, Message) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    socket.connect(server).unwrap();
    let mut buffer = [0; 65535];
    let mut receive = || {
        let size = socket.recv(&mut buffer).expect("an answer within 5 s");
        Message::from_vec(&buffer[..size]).expect("every answer decodes")
    };
    let mut answers = Vec::new();
    for (message, answered) in &cases {
        socket.send(message).unwrap();
        if *answered {
            let answer = receive();
            assert_eq!(
                answer.metadata.id.to_be_bytes(),
                message[..2],
                "answers in order"
            );
            answers.push(answer);
        }
    }
    socket.send(&query(0xd0e5, "www.example.test.")).unwrap();
    loop {
        let answer = receive();
        if answer.metadata.id == 0xd0e5 {
            return (answers, answer);
        }
        answers.push(answer);
    }
}

fn assert_answered(answer: &Message) {
    assert_eq!(answer.metadata.response_code, ResponseCode::NoError);
    assert_eq!(answer.answers.len(), 1, "{answer}");
}

#[test]
fn malformed_datagrams_are_answered_formerr_or_dropped_and_the_next_query_is_answered() {
    run(20, |reactor| async move {
        let server = serve(&reactor).address();
        let cases = [malformed(), random_messages(300)].concat();
        let due = cases.iter().filter(|(_, answered)| *answered).count();
        let (answers, valid) = blocking(&reactor, move || over_udp(server, cases)).await?;
        assert_answered(&valid);
        assert_eq!(
            answers.len(),
            due,
            "one answer per message with a query header, no other"
        );
        for answer in &answers {
            assert_eq!(answer.metadata.message_type, MessageType::Response);
        }
        let formerr = answers
            .iter()
            .filter(|a| a.metadata.response_code == ResponseCode::FormErr)
            .count();
        // Every hand-made one and most random ones do not parse.
        assert!(formerr >= 5, "{formerr} FORMERR of {}", answers.len());
        for id in [2, 3, 4, 5, 6] {
            let answer = answers.iter().find(|a| a.metadata.id == id).unwrap();
            assert_eq!(
                answer.metadata.response_code,
                ResponseCode::FormErr,
                "id {id}"
            );
        }
        Ok(())
    });
}

/// Writes `message` with its two-byte length on `stream` and reads the
/// answer, if one comes.
fn exchange(stream: &mut TcpStream, message: &[u8]) -> Option<Message> {
    let length = u16::try_from(message.len()).unwrap().to_be_bytes();
    stream.write_all(&length).unwrap();
    stream.write_all(message).unwrap();
    let mut prefix = [0; 2];
    stream.read_exact(&mut prefix).ok()?;
    let mut answer = vec![0; usize::from(u16::from_be_bytes(prefix))];
    stream.read_exact(&mut answer).unwrap();
    Some(Message::from_vec(&answer).expect("the answer decodes"))
}

#[test]
fn over_tcp_a_malformed_message_gets_formerr_and_the_connection_goes_on() {
    run(20, |reactor| async move {
        let server = serve(&reactor).address();
        let outcome = blocking(&reactor, move || {
            let mut stream = TcpStream::connect(server).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut codes = Vec::new();
            for (bytes, answered) in malformed().into_iter().filter(|(b, _)| b.len() >= 12) {
                if answered {
                    codes.push(
                        exchange(&mut stream, &bytes)
                            .unwrap()
                            .metadata
                            .response_code,
                    );
                }
            }
            let valid = exchange(&mut stream, &query(9, "mail.example.test.")).unwrap();
            // Less than a header closes the connection: a new one is served.
            let closed = exchange(&mut stream, b"\x00\x01").is_none();
            let mut fresh = TcpStream::connect(server).unwrap();
            fresh
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let again = exchange(&mut fresh, &query(10, "www.example.test.")).unwrap();
            (codes, valid, closed, again)
        })
        .await?;
        let (codes, valid, closed, again) = outcome;
        assert_eq!(codes, [ResponseCode::FormErr; 5]);
        assert_answered(&valid);
        assert!(
            closed,
            "the connection closed after a message shorter than a header"
        );
        assert_answered(&again);
        Ok(())
    });
}

/// How long a quiet client lasted: from `since` (taken before it last
/// wrote) until the server closed its connection (a read that ends).
fn closed_after(stream: &mut TcpStream, since: Instant) -> Duration {
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "nothing more was due: {rest:?}");
    since.elapsed()
}

#[test]
fn over_tcp_a_quiet_client_is_closed_at_the_idle_timeout_while_others_are_answered() {
    let timeout = Duration::from_millis(600);
    run(20, move |reactor| async move {
        let server =
            Rc::new(DnsServerFactory::new(vec![zone()]).with_tcp_idle_timeout(Some(timeout)));
        let server = server
            .listen(&reactor, "127.0.0.1:0".parse().unwrap())?
            .address();
        let connect = move || {
            let stream = TcpStream::connect(server).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            stream
        };
        // Three clients at once, each on a thread of the pool.
        let quiet = reactor.defer_to_thread(move || {
            let mut stream = connect();
            let asked = Instant::now();
            assert_answered(&exchange(&mut stream, &query(1, "www.example.test.")).unwrap());
            closed_after(&mut stream, asked)
        });
        // Half a message: the length and a few bytes, then nothing.
        let half = reactor.defer_to_thread(move || {
            // The count starts when the server takes the connection.
            let started = Instant::now();
            let mut stream = connect();
            let message = query(2, "www.example.test.");
            stream
                .write_all(&u16::try_from(message.len()).unwrap().to_be_bytes())
                .unwrap();
            stream.write_all(&message[..5]).unwrap();
            closed_after(&mut stream, started)
        });
        // Talking more slowly than the timeout but never stopping for as
        // long: answered throughout.
        let talking = reactor.defer_to_thread(move || {
            let mut stream = connect();
            for id in 0..8 {
                std::thread::sleep(timeout / 4);
                let answer = exchange(&mut stream, &query(10 + id, "mail.example.test."));
                assert_answered(&answer.expect("answered while talking"));
            }
        });
        let (quiet, half) = (quiet.await?, half.await?);
        talking.await?;
        for (who, lasted) in [("quiet", quiet), ("half a message", half)] {
            assert!(
                lasted >= timeout && lasted < timeout + Duration::from_secs(3),
                "{who}: closed after {lasted:?}, the timeout is {timeout:?}"
            );
        }
        Ok(())
    });
}
