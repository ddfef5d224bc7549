"""A Twisted AMP peer with the command set of torsion-amp's tests.

    amp_peer.py server           listen on 127.0.0.1, print the port, serve
    amp_peer.py client PORT      connect, run the checks against the peer
    amp_peer.py stdio            speak AMP over stdin/stdout (a child process)
    amp_peer.py encode           print the Echo arguments box in hex
    amp_peer.py bench-server     serve Sum only, print the port
    amp_peer.py bench-client PORT CALLS IN_FLIGHT
                                 call Sum CALLS times, print calls/s and CPU s

Every role answers the same commands, so a Rust peer can call it and be
called by it. The client prints one line per check and "all checks
passed" at the end; any failure exits non-zero.
"""

import datetime
import decimal
import math
import os
import resource
import sys
import time

from twisted.internet import defer, reactor, stdio, task
from twisted.internet.endpoints import TCP4ClientEndpoint, TCP4ServerEndpoint
from twisted.internet.protocol import Factory
from twisted.protocols import amp


class Sum(amp.Command):
    arguments = [(b"a", amp.Integer()), (b"b", amp.Integer())]
    response = [(b"total", amp.Integer())]


class Divide(amp.Command):
    arguments = [(b"numerator", amp.Integer()), (b"denominator", amp.Integer())]
    response = [(b"quotient", amp.Float())]
    errors = {ZeroDivisionError: b"ZERO_DIVISION"}


POINT = [(b"x", amp.Integer()), (b"label", amp.Unicode(optional=True))]
EVERYTHING = [
    (b"integer", amp.Integer()),
    (b"text", amp.Unicode()),
    (b"raw", amp.String()),
    (b"float", amp.Float()),
    (b"specials", amp.ListOf(amp.Float())),
    (b"flag", amp.Boolean()),
    (b"when", amp.DateTime()),
    (b"amount", amp.Decimal()),
    (b"numbers", amp.ListOf(amp.Integer())),
    (b"words", amp.ListOf(amp.Unicode())),
    (b"points", amp.AmpList(POINT)),
    (b"maybe", amp.Integer(optional=True)),
]


class Echo(amp.Command):
    """Answers with its arguments: every argument type, both ways."""

    arguments = EVERYTHING
    response = EVERYTHING


class Fail(amp.Command):
    """Its responder raises an error it does not declare."""

    arguments = []
    response = []


class Slow(amp.Command):
    arguments = [(b"delay", amp.Float()), (b"value", amp.Integer())]
    response = [(b"value", amp.Integer())]


class Notify(amp.Command):
    arguments = [(b"text", amp.Unicode())]
    requiresAnswer = False


class Notifications(amp.Command):
    arguments = []
    response = [(b"texts", amp.ListOf(amp.Unicode()))]


class Relay(amp.Command):
    """Its responder calls Sum on the peer that called it."""

    arguments = [(b"a", amp.Integer()), (b"b", amp.Integer())]
    response = [(b"total", amp.Integer())]


class Missing(amp.Command):
    """No peer answers this one."""

    arguments = []
    response = []


def everything():
    """The values every Echo carries, the same as the Rust tests'."""
    return dict(
        integer=-42,
        text="naïve ☃",
        raw=b"\x00\xff raw",
        float=0.1,
        specials=[math.inf, -math.inf, 1e-05, 1e16, -0.0],
        flag=True,
        when=datetime.datetime(
            2012, 1, 23, 12, 34, 56, 54321,
            tzinfo=datetime.timezone(datetime.timedelta(hours=-5, minutes=-30)),
        ),
        amount=decimal.Decimal("-1.50E+3"),
        numbers=[1, -2, 300],
        words=["a", "", "ccc"],
        points=[dict(x=1, label="one"), dict(x=2, label=None)],
        maybe=None,
    )


class Peer(amp.AMP):
    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.notifications = []

    @Sum.responder
    def sum(self, a, b):
        return {"total": a + b}

    @Divide.responder
    def divide(self, numerator, denominator):
        if denominator == 0:
            raise ZeroDivisionError("divided by zero")
        return {"quotient": numerator / denominator}

    @Echo.responder
    def echo(self, **arguments):
        return arguments

    @Fail.responder
    def fail(self):
        raise RuntimeError("an error Fail does not declare")

    @Slow.responder
    def slow(self, delay, value):
        return task.deferLater(reactor, delay, lambda: {"value": value})

    @Notify.responder
    def notify(self, text):
        self.notifications.append(text)
        return {}

    @Notifications.responder
    def notifications_(self):
        return {"texts": self.notifications}

    @Relay.responder
    def relay(self, a, b):
        return self.callRemote(Sum, a=a, b=b)


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    print("ok:", what, flush=True)


def same_everything(answer):
    sent = everything()
    for key in ("integer", "text", "raw", "float", "flag", "amount", "numbers", "words"):
        if answer[key] != sent[key]:
            return False
    specials = answer["specials"]
    if [repr(f) for f in specials] != [repr(f) for f in sent["specials"]]:
        return False
    if answer["when"] != sent["when"] or answer["when"].utcoffset() != sent["when"].utcoffset():
        return False
    return answer["points"] == sent["points"] and answer["maybe"] is None


@defer.inlineCallbacks
def run_checks(peer):
    """Calls the torsion peer with every command."""
    answer = yield peer.callRemote(Sum, a=13, b=81)
    check(answer == {"total": 94}, "Sum answered")

    answer = yield peer.callRemote(Echo, **everything())
    check(same_everything(answer), "Echo returned every argument type unchanged")

    answer = yield peer.callRemote(Divide, numerator=1, denominator=4)
    check(answer == {"quotient": 0.25}, "Divide answered")
    try:
        yield peer.callRemote(Divide, numerator=1, denominator=0)
        check(False, "Divide by zero failed")
    except ZeroDivisionError as error:
        check(str(error) == "divided by zero", "a declared error arrived as ZeroDivisionError")

    try:
        yield peer.callRemote(Missing)
        check(False, "Missing failed")
    except amp.UnhandledCommand as error:
        check("Missing" in str(error), "an unknown command was UNHANDLED")

    peer.callRemote(Notify, text="first")
    peer.callRemote(Notify, text="second")
    answer = yield peer.callRemote(Notifications)
    check(answer == {"texts": ["first", "second"]}, "commands without answers arrived in order")

    answer = yield peer.callRemote(Relay, a=2, b=3)
    check(answer == {"total": 5}, "Relay called this side's Sum back")

    calls = [peer.callRemote(Slow, delay=(i % 7) / 100.0, value=i) for i in range(200)]
    answers = yield defer.gatherResults(calls)
    check([a["value"] for a in answers] == list(range(200)), "200 calls in flight, answered out of order")

    try:
        yield peer.callRemote(Fail)
        check(False, "Fail failed")
    except amp.UnknownRemoteError as error:
        check("Unknown Error" in str(error), "an undeclared error was UNKNOWN")
    yield task.deferLater(reactor, 0.2, lambda: None)
    check(peer.transport is None or peer.transport.disconnected or peer.transport.disconnecting,
          "the connection closed after the undeclared error")
    print("all checks passed", flush=True)


class QuietPeer(Peer):
    """Logs unhandled errors as Twisted does, without a traceback per line."""


def server():
    factory = Factory.forProtocol(Peer)
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    print(port.getHost().port, flush=True)
    reactor.run()


def client(port):
    outcome = {}

    @defer.inlineCallbacks
    def main():
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", int(port))
        peer = yield endpoint.connect(Factory.forProtocol(Peer))
        yield run_checks(peer)

    def done(result):
        outcome["failure"] = result if isinstance(result, Exception) else None
        reactor.stop()

    def failed(failure):
        print("FAILED:", failure.getTraceback(), file=sys.stderr, flush=True)
        outcome["failed"] = True
        reactor.stop()

    reactor.callWhenRunning(lambda: main().addCallbacks(lambda _: reactor.stop(), failed))
    reactor.run()
    sys.exit(1 if outcome.get("failed") else 0)


def stdio_peer():
    class StdioPeer(Peer):
        def connectionLost(self, reason):
            super().connectionLost(reason)
            if reactor.running:
                reactor.stop()

    stdio.StandardIO(StdioPeer())
    reactor.run()


def encode():
    box = Echo.makeArguments(everything(), None)
    print(box.serialize().hex())


class BenchPeer(amp.AMP):
    @Sum.responder
    def sum(self, a, b):
        return {"total": a + b}


def bench_server():
    port = reactor.listenTCP(0, Factory.forProtocol(BenchPeer), interface="127.0.0.1")
    print(port.getHost().port, flush=True)
    reactor.run()


def bench_client(port, calls, in_flight):
    calls, in_flight = int(calls), int(in_flight)

    @defer.inlineCallbacks
    def main():
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", int(port))
        peer = yield endpoint.connect(Factory.forProtocol(amp.AMP))
        remaining = [calls]

        def worker():
            while remaining[0] > 0:
                remaining[0] -= 1
                a = remaining[0]
                answer = yield peer.callRemote(Sum, a=a, b=1)
                assert answer["total"] == a + 1

        cpu = time.process_time()
        wall = time.perf_counter()
        yield defer.gatherResults([defer.inlineCallbacks(worker)() for _ in range(in_flight)])
        wall = time.perf_counter() - wall
        cpu = time.process_time() - cpu
        print(f"{calls} {wall} {cpu}", flush=True)
        peer.transport.loseConnection()

    def failed(failure):
        print("FAILED:", failure.getTraceback(), file=sys.stderr, flush=True)

    reactor.callWhenRunning(lambda: main().addErrback(failed).addBoth(lambda _: reactor.stop()))
    reactor.run()


if __name__ == "__main__":
    role, arguments = sys.argv[1], sys.argv[2:]
    {
        "server": server,
        "client": client,
        "stdio": stdio_peer,
        "encode": encode,
        "bench-server": bench_server,
        "bench-client": bench_client,
    }[role](*arguments)
