"""Standard IRC clients against the torsion IRC server.

alice and bob are Python's `irc` package (its Reactor answers PINGs by
itself); carol and dave are raw sockets, for what no polite client does:
an oversized line, vanishing without QUIT, ignoring PINGs.

Usage: irc_clients.py PORT PING_WAIT_SECONDS
Prints one line per check, then "all checks passed"; exits non-zero on
the first failure.
"""

import select
import socket
import sys
import time

import irc.client

PORT = int(sys.argv[1])
PING_WAIT = float(sys.argv[2])

reactor = irc.client.Reactor()
names = {}
events = []


def record(connection, event):
    source = getattr(event.source, "nick", event.source)
    events.append((names.get(id(connection)), event.type, source, event.target, list(event.arguments)))


reactor.add_global_handler("all_events", record)


class Raw:
    """A client on a plain socket; it answers PINGs only if told to."""

    def __init__(self, nick, answers_pings):
        self.nick = nick
        self.answers_pings = answers_pings
        self.sock = socket.create_connection(("127.0.0.1", PORT), timeout=5)
        self.sock.setblocking(False)
        self.buffer = b""
        self.lines = []
        self.closed = False
        self.send(f"NICK {nick}\r\nUSER {nick} 0 * :{nick} raw\r\n")

    def send(self, text):
        self.sock.sendall(text.encode() if isinstance(text, str) else text)

    def pump(self):
        if self.closed:
            return
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return
        except ConnectionError:
            data = b""
        if not data:
            self.closed = True
            return
        self.buffer += data
        while b"\r\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\r\n", 1)
            line = line.decode()
            self.lines.append(line)
            if self.answers_pings and line.startswith("PING "):
                self.send("PONG " + line[5:] + "\r\n")

    def heard(self, fragment):
        return any(fragment in line for line in self.lines)


raws = []


def pump(seconds):
    reactor.process_once(seconds)
    for raw in raws:
        raw.pump()


def wait_for(what, predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            print("ok:", what, flush=True)
            return
        pump(0.02)
    print("FAILED waiting for:", what, file=sys.stderr)
    for event in events[-30:]:
        print("  event", event, file=sys.stderr)
    for raw in raws:
        print("  ", raw.nick, raw.lines[-10:], file=sys.stderr)
    sys.exit(1)


def seen(who, kind, source=None, target=None, args=None):
    def check():
        return any(
            e[0] == who
            and e[1] == kind
            and (source is None or e[2] == source)
            and (target is None or e[3] == target)
            and (args is None or e[4] == args)
            for e in events
        )
    return check


def connect(nick):
    connection = reactor.server().connect("127.0.0.1", PORT, nick)
    names[id(connection)] = nick
    return connection


alice = connect("alice")
bob = connect("bob")
wait_for("alice and bob are welcomed", lambda: seen("alice", "welcome")() and seen("bob", "welcome")())

alice.join("#torsion")
wait_for("alice joined", seen("alice", "endofnames"))
bob.join("#torsion")
wait_for("alice saw bob join", seen("alice", "join", "bob", "#torsion"))
wait_for("bob's NAMES list holds both", seen("bob", "namreply", args=["=", "#torsion", "alice bob"]))

alice.privmsg("#torsion", "hello from alice")
wait_for("bob heard alice in the channel", seen("bob", "pubmsg", "alice", "#torsion", ["hello from alice"]))

bob.action("#torsion", "waves")
wait_for("alice saw bob's ACTION", seen("alice", "action", "bob", "#torsion", ["waves"]))

bob.topic("#torsion", "testing torsion")
wait_for("alice saw the new topic", seen("alice", "topic", "bob", "#torsion", ["testing torsion"]))

alice.nick("alicia")
wait_for("bob saw alice become alicia", seen("bob", "nick", "alice", "alicia"))

bob.privmsg("alicia", "just between us")
wait_for("alicia got bob's private message", seen("alice", "privmsg", "bob", "alicia", ["just between us"]))

bob.privmsg("nobody", "hello?")
wait_for("bob was told there is no such nick", seen("bob", "nosuchnick"))

carol = Raw("carol", answers_pings=True)
raws.append(carol)
wait_for("carol is welcomed", lambda: carol.heard(" 001 carol "))
carol.send("JOIN #torsion\r\n")
wait_for("carol joined", lambda: carol.heard(" 366 carol #torsion "))
carol.send("PRIVMSG #torsion :" + "x" * 600 + "\r\n")
wait_for("carol's oversized line got 417", lambda: carol.heard(" 417 carol :Input line was too long"))
carol.send("PRIVMSG #torsion :carol is still here\r\n")
wait_for("bob heard carol after her long line", seen("bob", "pubmsg", "carol", "#torsion", ["carol is still here"]))
bob.privmsg("#torsion", "and bob too")
wait_for("alicia still hears bob", seen("alice", "pubmsg", "bob", "#torsion", ["and bob too"]))

carol.sock.close()
raws.remove(carol)
wait_for("bob saw carol vanish as a QUIT", seen("bob", "quit", "carol", None, ["Connection closed"]))

dave = Raw("dave", answers_pings=False)
raws.append(dave)
wait_for("dave is welcomed", lambda: dave.heard(" 001 dave "))
dave.send("JOIN #torsion\r\n")
wait_for("bob saw dave join", seen("bob", "join", "dave", "#torsion"))
wait_for("dave, ignoring PINGs, was dropped", lambda: dave.closed, timeout=PING_WAIT + 10)
wait_for("dave was told why", lambda: dave.heard("ERROR :Closing Link: 127.0.0.1 (Ping timeout"))
wait_for("bob saw dave's ping timeout", lambda: any(
    e[0] == "bob" and e[1] == "quit" and e[2] == "dave" and e[4][0].startswith("Ping timeout") for e in events))
wait_for("alicia and bob, who answered PINGs, are still connected",
         lambda: alice.is_connected() and bob.is_connected() and seen("bob", "ping")())

bob.quit("bye now")
wait_for("alicia saw bob quit", seen("alice", "quit", "bob", None, ["Quit: bye now"]))
alice.quit()
print("all checks passed")
