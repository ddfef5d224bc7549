"""Round trips from blocking code into a Twisted reactor that crochet runs
on a background thread: `@wait_for` of a Deferred that has already fired,
the same work as torsion's `run_in_reactor(ready value)` + `wait`.

Usage: crochet_round_trips.py COUNT. Prints the p50 and p99 of one round
trip in microseconds, and round trips per second, on one line.
"""

import sys
import time

from crochet import setup, wait_for

setup()

from twisted.internet import defer  # noqa: E402  (after setup, as crochet asks)


@wait_for(timeout=30.0)
def ready(value):
    return defer.succeed(value)


def main():
    count = int(sys.argv[1])
    for i in range(min(count, 1000)):
        ready(i)
    latencies = []
    start = time.perf_counter()
    for i in range(count):
        began = time.perf_counter()
        if ready(i) != i:
            raise SystemExit("a round trip returned the wrong value")
        latencies.append(time.perf_counter() - began)
    wall = time.perf_counter() - start
    latencies.sort()

    def percentile(p):
        return latencies[round((len(latencies) - 1) * p)] * 1e6

    print(percentile(0.50), percentile(0.99), count / wall)


main()
