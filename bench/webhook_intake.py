"""5. Webhook intake: processes created per second through the webhook handler, in-process
against moto, against the same number of bare PutItem calls of a process item (the floor).

The handler checks the token, validates the request, and stores the process and the
request's fingerprint in one TransactWriteItems (so a retried request gets the same process:
README, Decisions). Each round runs every side in turn.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from dataclasses import dataclass, field

from bench import functions
from bench.functions import (
    MOTO,
    create_events,
    time_bare_puts,
    time_creates,
    time_intake,
)
from bench.report import Table, median

MAX_RATIO = 1.3
_customers = itertools.count(900_000_001)
SIDES = {
    "floor": "floor: bare PutItem of a process",
    "create": "create_process directly (one TransactWriteItems)",
    "handler": "POST /processes through the handler",
}


@dataclass
class Side:
    seconds: list[float] = field(default_factory=list)  # per request
    store_cpu: list[float] = field(default_factory=list)  # moto's, per request

    @property
    def median(self) -> float:
        return median(self.seconds)

    @property
    def median_store_cpu(self) -> float:
        return median(self.store_cpu)


def measure(rounds: int, requests: int) -> Table:
    sides = {name: Side() for name in SIDES}
    with functions.environment("WebhookFunction") as environment:
        for i in range(rounds + 1):  # the first round warms up
            customers = [next(_customers) for _ in range(2 * requests)]
            events = environment.run(create_events, customers[:requests])
            measured = {
                "handler": environment.run(time_intake, events),
                "create": environment.run(time_creates, customers[requests:]),
                "floor": environment.run(time_bare_puts, requests),
            }
            if i:
                for name, (seconds, store_cpu) in measured.items():
                    sides[name].seconds.append(seconds / requests)
                    sides[name].store_cpu.append(store_cpu / requests)
    table = Table(
        f"5. Webhook intake: {requests} requests a round, one at a time (median of {rounds})",
        ["", "per second", "ms each", "of which moto's CPU", "ratio"],
    )
    floor = sides["floor"].median
    for name, label in SIDES.items():
        side = sides[name]
        table.add(
            label,
            f"{1 / side.median:.0f}",
            f"{side.median * 1000:.2f}",
            f"{side.median_store_cpu * 1000:.2f}",
            f"{side.median / floor:.2f}x",
        )
    table.check("time per request against the floor", sides["handler"].median / floor, MAX_RATIO)
    table.notes.append(
        f"Store: {MOTO}; all in one execution environment. The domain code alone (second"
        " row) shows how much is the one-transaction create, how much the handler."
    )
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.webhook_intake", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200, help="requests per round")
    args = parser.parse_args(argv)
    table = measure(args.rounds, args.requests)
    print(table.render(), flush=True)
    return 0 if table.ok else 1


if __name__ == "__main__":
    sys.exit(main())
