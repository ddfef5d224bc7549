use std::cell::RefCell;
use std::rc::Rc;

use tokio_util::codec::{AnyDelimiterCodec, LengthDelimitedCodec, LinesCodec, LinesCodecError};

use super::*;
use crate::protocols::{LineCodec, LineFrame};
use crate::testing::{CHUNK_SIZES, StringTransport, feed_in_chunks, replay_protocol};

/// What a handler may do after a frame.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Then {
    Pause,
    /// Pause the transport itself, not the framing layer.
    PauseTransport,
    Stop,
    Lose,
    Abort,
}

/// Records frames and errors; reacts to the frames named in `on`.
struct Record<T> {
    frames: Vec<T>,
    errors: Vec<String>,
    on: Vec<(T, Then)>,
    /// Leave the connection open on a decode error.
    lenient: bool,
}

impl<T> Record<T> {
    fn new() -> Record<T> {
        Record {
            frames: Vec::new(),
            errors: Vec::new(),
            on: Vec::new(),
            lenient: false,
        }
    }

    fn on(mut self, frame: T, then: Then) -> Record<T> {
        self.on.push((frame, then));
        self
    }
}

impl<D> FrameHandler<D> for Record<D::Item>
where
    D: Decoder + 'static,
    D::Item: PartialEq + Clone + 'static,
    D::Error: fmt::Debug,
{
    fn frame_received(&mut self, ctx: &mut FrameContext<'_, D>, frame: D::Item) {
        let then = self.on.iter().find(|(f, _)| *f == frame).map(|(_, t)| *t);
        self.frames.push(frame);
        match then {
            Some(Then::Pause) => ctx.pause_producing(),
            Some(Then::PauseTransport) => ctx.transport().unwrap().pause_reading(),
            Some(Then::Stop) => ctx.stop_producing(),
            Some(Then::Lose) => ctx.lose_connection(),
            Some(Then::Abort) => ctx.transport().unwrap().abort_connection(),
            None => {}
        }
    }

    fn decode_error(&mut self, ctx: &mut FrameContext<'_, D>, error: D::Error) {
        self.errors.push(format!("{error:?}"));
        if !self.lenient {
            ctx.lose_connection();
        }
    }
}

fn lines_protocol(
    handler: Record<String>,
) -> (StringTransport, FramedProtocol<LinesCodec, Record<String>>) {
    let fake = StringTransport::new();
    let mut protocol = FramedProtocol::new(LinesCodec::new(), handler);
    fake.make_connection(&mut protocol);
    (fake, protocol)
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn an_ecosystem_codec_frames_the_stream_at_every_chunk_size() {
    let frames = replay_protocol(
        b"one\ntwo\r\n\nthree",
        || FramedProtocol::new(LinesCodec::new(), Record::<String>::new()),
        |protocol, _| protocol.handler().frames.clone(),
    );
    assert_eq!(frames, strings(&["one", "two", ""]));
}

#[test]
fn a_length_delimited_codec_is_a_protocol_too() {
    let input = b"\x00\x00\x00\x03abc\x00\x00\x00\x00\x00\x00\x00\x02hi";
    let frames = replay_protocol(
        input,
        || FramedProtocol::new(LengthDelimitedCodec::new(), Record::new()),
        |protocol, _| protocol.handler().frames.clone(),
    );
    assert_eq!(frames, [&b"abc"[..], b"", b"hi"]);
}

#[test]
fn send_encodes_with_the_codec() {
    struct Echo;
    impl FrameHandler<AnyDelimiterCodec> for Echo {
        fn frame_received(
            &mut self,
            ctx: &mut FrameContext<'_, AnyDelimiterCodec>,
            frame: bytes::Bytes,
        ) {
            ctx.send(std::str::from_utf8(&frame).unwrap()).unwrap();
        }
    }
    let fake = StringTransport::new();
    let codec = AnyDelimiterCodec::new(b";".to_vec(), b"|".to_vec());
    let mut protocol = FramedProtocol::new(codec, Echo);
    fake.make_connection(&mut protocol);
    protocol.data_received(b"a;bc;");
    assert_eq!(fake.value(), b"a|bc|");
}

#[test]
fn pausing_inside_frame_received_stops_delivery_from_the_same_buffer() {
    for size in CHUNK_SIZES {
        let (fake, mut protocol) = lines_protocol(Record::new().on("pause".into(), Then::Pause));
        feed_in_chunks(&mut protocol, b"a\npause\nb\nc\n", size);
        assert_eq!(
            protocol.handler().frames,
            strings(&["a", "pause"]),
            "size {size}"
        );
        assert!(fake.is_reading_paused());
        protocol.resume_producing();
        assert_eq!(
            protocol.handler().frames,
            strings(&["a", "pause", "b", "c"]),
            "size {size}"
        );
        assert!(!fake.is_reading_paused());
    }
}

#[test]
fn pausing_the_transport_inside_frame_received_stops_delivery_from_the_same_buffer() {
    for size in CHUNK_SIZES {
        let (fake, mut protocol) =
            lines_protocol(Record::new().on("pause".into(), Then::PauseTransport));
        feed_in_chunks(&mut protocol, b"a\npause\nb\nc\n", size);
        assert_eq!(
            protocol.handler().frames,
            strings(&["a", "pause"]),
            "size {size}"
        );
        assert!(
            !protocol.is_paused(),
            "the framing layer itself was not paused"
        );
        assert!(fake.simulate_resume(&mut protocol));
        assert_eq!(
            protocol.handler().frames,
            strings(&["a", "pause", "b", "c"]),
            "size {size}"
        );
    }
}

#[test]
fn resuming_the_transport_with_nothing_held_back_does_not_decode_again() {
    let fake = StringTransport::new();
    let mut handler = Record::new();
    handler.lenient = true;
    let codec = LengthDelimitedCodec::builder()
        .max_frame_length(2)
        .new_codec();
    let mut protocol = FramedProtocol::new(codec, handler);
    fake.make_connection(&mut protocol);
    protocol.data_received(b"\x00\x00\x00\x09");
    assert_eq!(protocol.handler().errors.len(), 1);
    fake.transport().pause_reading();
    assert!(fake.simulate_resume(&mut protocol));
    assert_eq!(
        protocol.handler().errors.len(),
        1,
        "a stalled decode error is not reported again on resume"
    );
}

#[test]
fn resuming_inside_the_same_callback_keeps_delivering() {
    struct Blink(Vec<String>);
    impl FrameHandler<LinesCodec> for Blink {
        fn frame_received(&mut self, ctx: &mut FrameContext<'_, LinesCodec>, line: String) {
            ctx.pause_producing();
            ctx.resume_producing();
            self.0.push(line);
        }
    }
    let fake = StringTransport::new();
    let mut protocol = FramedProtocol::new(LinesCodec::new(), Blink(Vec::new()));
    fake.make_connection(&mut protocol);
    protocol.data_received(b"a\nb\n");
    assert_eq!(protocol.handler().0, strings(&["a", "b"]));
}

#[test]
fn stop_producing_inside_frame_received_closes_and_stops_delivery() {
    for size in CHUNK_SIZES {
        let (fake, mut protocol) = lines_protocol(Record::new().on("stop".into(), Then::Stop));
        feed_in_chunks(&mut protocol, b"a\nstop\nb\n", size);
        assert_eq!(
            protocol.handler().frames,
            strings(&["a", "stop"]),
            "size {size}"
        );
        assert!(fake.is_disconnecting());
        assert!(fake.is_reading_paused());
    }
}

#[test]
fn losing_the_connection_mid_buffer_stops_delivery() {
    let frames = replay_protocol(
        b"a\nquit\nb\nc\n",
        || {
            FramedProtocol::new(
                LinesCodec::new(),
                Record::new().on("quit".into(), Then::Lose),
            )
        },
        |protocol, fake| (protocol.handler().frames.clone(), fake.is_disconnecting()),
    );
    assert_eq!(frames, (strings(&["a", "quit"]), true));
}

#[test]
fn aborting_the_connection_mid_buffer_stops_delivery() {
    let frames = replay_protocol(
        b"a\nabort\nb\n",
        || {
            FramedProtocol::new(
                LinesCodec::new(),
                Record::new().on("abort".into(), Then::Abort),
            )
        },
        |protocol, fake| (protocol.handler().frames.clone(), fake.is_aborted()),
    );
    assert_eq!(frames, (strings(&["a", "abort"]), true));
}

#[test]
fn a_mode_switch_inside_a_handler_applies_to_the_rest_of_the_buffer() {
    /// Goes raw after `raw`, back to lines (with the raw bytes after `.`
    /// put back) when a raw chunk holds a `.`.
    #[derive(Default)]
    struct Switch(Vec<LineFrame>);
    impl FrameHandler<LineCodec> for Switch {
        fn frame_received(&mut self, ctx: &mut FrameContext<'_, LineCodec>, frame: LineFrame) {
            match &frame {
                LineFrame::Line(line) if &line[..] == b"raw" => ctx.decoder_mut().set_raw_mode(),
                LineFrame::Raw(data) => {
                    if let Some(dot) = data.iter().position(|&b| b == b'.') {
                        ctx.decoder_mut().set_line_mode();
                        ctx.unread(&data[dot + 1..]);
                        self.0.push(LineFrame::Raw(BytesMut::from(&data[..dot])));
                        return;
                    }
                }
                LineFrame::Line(_) => {}
            }
            self.0.push(frame);
        }
    }
    let frames = replay_protocol(
        b"a\r\nraw\r\nxy\r\nz.b\r\nc\r\n",
        || FramedProtocol::new(LineCodec::new(), Switch::default()),
        |protocol, _| {
            // Raw chunks depend on the chunk size; their bytes do not.
            let mut merged: Vec<LineFrame> = Vec::new();
            for frame in &protocol.handler().0 {
                match (merged.last_mut(), frame) {
                    (Some(LineFrame::Raw(all)), LineFrame::Raw(more)) => {
                        all.extend_from_slice(more)
                    }
                    _ => merged.push(frame.clone()),
                }
            }
            merged
        },
    );
    let line = |s: &str| LineFrame::Line(BytesMut::from(s));
    assert_eq!(
        frames,
        [
            line("a"),
            line("raw"),
            LineFrame::Raw(BytesMut::from("xy\r\nz")),
            line("b"),
            line("c"),
        ]
    );
}

#[test]
fn unread_puts_bytes_in_front_of_the_buffer() {
    struct PutBack(Vec<String>, bool);
    impl FrameHandler<LinesCodec> for PutBack {
        fn frame_received(&mut self, ctx: &mut FrameContext<'_, LinesCodec>, line: String) {
            if !self.1 {
                self.1 = true;
                ctx.unread(b"first\n");
            }
            self.0.push(line);
        }
    }
    let fake = StringTransport::new();
    let mut protocol = FramedProtocol::new(LinesCodec::new(), PutBack(Vec::new(), false));
    fake.make_connection(&mut protocol);
    protocol.data_received(b"zero\nsecond\n");
    assert_eq!(protocol.handler().0, strings(&["zero", "first", "second"]));
}

#[test]
fn take_buffer_drops_what_is_not_decoded() {
    let (_, mut protocol) = lines_protocol(Record::new());
    protocol.data_received(b"a\npartial");
    assert_eq!(protocol.buffered(), 7);
    assert_eq!(&protocol.take_buffer()[..], b"partial");
    assert_eq!(protocol.buffered(), 0);
}

#[test]
fn the_default_decode_error_hook_closes_the_connection() {
    struct Quiet;
    impl FrameHandler<LinesCodec> for Quiet {
        fn frame_received(&mut self, _: &mut FrameContext<'_, LinesCodec>, _: String) {}
    }
    let fake = StringTransport::new();
    let mut protocol = FramedProtocol::new(LinesCodec::new_with_max_length(3), Quiet);
    fake.make_connection(&mut protocol);
    protocol.data_received(b"toolong\n");
    assert!(fake.is_disconnecting());
}

#[test]
fn a_decode_error_that_consumed_bytes_lets_decoding_go_on() {
    let fake = StringTransport::new();
    let mut handler = Record::new();
    handler.lenient = true;
    let mut protocol = FramedProtocol::new(LinesCodec::new_with_max_length(3), handler);
    fake.make_connection(&mut protocol);
    protocol.data_received(b"toolong\nok\n");
    assert_eq!(protocol.handler().frames, strings(&["ok"]));
    assert_eq!(
        protocol.handler().errors,
        [format!("{:?}", LinesCodecError::MaxLineLengthExceeded)]
    );
}

#[test]
fn a_decode_error_that_consumed_nothing_waits_for_more_bytes() {
    let fake = StringTransport::new();
    let mut handler = Record::new();
    handler.lenient = true;
    let codec = LengthDelimitedCodec::builder()
        .max_frame_length(2)
        .new_codec();
    let mut protocol = FramedProtocol::new(codec, handler);
    fake.make_connection(&mut protocol);
    protocol.data_received(b"\x00\x00\x00\x09");
    assert_eq!(protocol.handler().errors.len(), 1);
    protocol.data_received(b"x");
    assert_eq!(protocol.handler().errors.len(), 2);
    assert!(!fake.is_disconnecting());
}

#[test]
fn the_decoder_gets_the_end_of_stream_when_the_peer_half_closes() {
    let (_, mut protocol) = lines_protocol(Record::new());
    protocol.data_received(b"a\nlast words");
    assert_eq!(protocol.handler().frames, strings(&["a"]));
    assert_eq!(protocol.read_connection_lost(), HalfClose::Close);
    assert_eq!(protocol.handler().frames, strings(&["a", "last words"]));
}

#[test]
fn frames_arriving_while_paused_are_delivered_on_resume() {
    let (_, mut protocol) = lines_protocol(Record::new());
    protocol.pause_producing();
    protocol.data_received(b"a\nb\n");
    assert!(protocol.handler().frames.is_empty());
    protocol.resume_producing();
    assert_eq!(protocol.handler().frames, strings(&["a", "b"]));
}

#[test]
fn line_frames_share_the_buffer_instead_of_copying() {
    struct Pointers(Vec<usize>);
    impl FrameHandler<LineCodec> for Pointers {
        fn frame_received(&mut self, _: &mut FrameContext<'_, LineCodec>, frame: LineFrame) {
            if let LineFrame::Line(line) = frame {
                self.0.push(line.as_ptr() as usize);
            }
        }
    }
    let fake = StringTransport::new();
    let mut protocol = FramedProtocol::new(LineCodec::new(), Pointers(Vec::new()));
    fake.make_connection(&mut protocol);
    protocol.data_received(b"ab\r\ncd\r\n");
    // The second line starts four bytes after the first, in the same
    // allocation: both were split from the receive buffer.
    let pointers = &protocol.handler().0;
    assert_eq!(pointers.len(), 2);
    assert_eq!(pointers[1] - pointers[0], 4);
}

/// Lines seen by the server side of a real connection, and what its handler
/// saw when it paused the transport.
#[derive(Default)]
struct SocketLog {
    frames: Vec<String>,
    buffered_at_pause: Option<usize>,
    transport: Option<Transport>,
}

/// Pauses its transport directly on the line `pause`.
struct PauseOnSocket(Rc<RefCell<SocketLog>>);

impl FrameHandler<LinesCodec> for PauseOnSocket {
    fn connection_made(&mut self, ctx: &mut FrameContext<'_, LinesCodec>) {
        self.0.borrow_mut().transport = ctx.transport().cloned();
    }

    fn frame_received(&mut self, ctx: &mut FrameContext<'_, LinesCodec>, line: String) {
        let mut log = self.0.borrow_mut();
        if line == "pause" {
            ctx.transport().unwrap().pause_reading();
            log.buffered_at_pause = Some(ctx.buffered());
        }
        log.frames.push(line);
    }
}

#[test]
fn frames_held_back_by_a_paused_socket_go_on_when_reading_resumes() {
    use crate::Reactor;
    use crate::net::factory_fn;
    use crate::testing::net_support::turn_until;
    use std::io::Write;
    use std::time::Duration;

    let reactor = Reactor::new().unwrap();
    let log = Rc::new(RefCell::new(SocketLog::default()));
    let port = {
        let log = log.clone();
        reactor
            .listen_tcp(
                "127.0.0.1:0".parse().unwrap(),
                factory_fn(move |_| {
                    Some(FramedProtocol::new(
                        LinesCodec::new(),
                        PauseOnSocket(log.clone()),
                    ))
                }),
            )
            .unwrap()
    };
    let mut client = std::net::TcpStream::connect(port.tcp_address().unwrap()).unwrap();
    client.write_all(b"a\npause\nb\nc\n").unwrap();
    let limit = Duration::from_secs(10);
    turn_until(&reactor, limit, || log.borrow().frames.len() >= 2);
    // A few more turns: nothing more may come while reading is paused.
    for _ in 0..5 {
        reactor.run_once(Some(Duration::from_millis(5))).unwrap();
    }
    assert_eq!(log.borrow().frames, strings(&["a", "pause"]));
    assert_eq!(
        log.borrow().buffered_at_pause,
        Some(4),
        "b and c came in the same read as pause"
    );
    let transport = log.borrow().transport.clone().unwrap();
    assert!(transport.is_reading_paused());
    // No byte arrives after this: the held-back frames go on by themselves.
    transport.resume_reading();
    turn_until(&reactor, limit, || log.borrow().frames.len() >= 4);
    assert_eq!(log.borrow().frames, strings(&["a", "pause", "b", "c"]));
    assert!(!transport.is_reading_paused());
    drop(client);
}
