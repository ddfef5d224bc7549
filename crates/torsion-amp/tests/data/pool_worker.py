"""A process-pool worker in Python: Twisted's AMP on stdin and stdout
(StandardIO), answering the same commands as the Rust demonstration
worker (src/bin/torsion-amp-worker/commands.rs), with the same slow hash,
so one pool can run both side by side."""

import os
import sys
import time

from twisted.internet import reactor, stdio
from twisted.protocols import amp


class Pid(amp.Command):
    arguments = []
    response = [(b"pid", amp.Integer())]


class Sleep(amp.Command):
    arguments = [(b"seconds", amp.Float())]
    response = [(b"pid", amp.Integer())]


class Exit(amp.Command):
    arguments = [(b"code", amp.Integer())]
    response = []


class SlowHash(amp.Command):
    arguments = [(b"data", amp.Unicode()), (b"rounds", amp.Integer())]
    response = [(b"digest", amp.Unicode())]


PRIME = 0x100000001B3
MASK = (1 << 64) - 1


def slow_hash(data, rounds):
    value = 0xCBF29CE484222325
    for byte in data:
        value = ((value ^ byte) * PRIME) & MASK
    for _ in range(rounds):
        for byte in value.to_bytes(8, "little"):
            value = ((value ^ byte) * PRIME) & MASK
    return value


class Worker(amp.AMP):
    @Pid.responder
    def pid(self):
        return {"pid": os.getpid()}

    @Sleep.responder
    def sleep(self, seconds):
        # Blocking on purpose: the worker is stuck meanwhile.
        time.sleep(max(seconds, 0))
        return {"pid": os.getpid()}

    @Exit.responder
    def exit(self, code):
        os._exit(code)

    @SlowHash.responder
    def slow_hash(self, data, rounds):
        return {"digest": "%016x" % slow_hash(data.encode("utf-8"), max(rounds, 0))}

    def connectionLost(self, reason):
        # The pool closed stdin: this worker is done.
        amp.AMP.connectionLost(self, reason)
        if reactor.running:
            reactor.stop()


if __name__ == "__main__":
    stdio.StandardIO(Worker())
    print("python pool worker %d ready" % os.getpid(), file=sys.stderr)
    reactor.run()
