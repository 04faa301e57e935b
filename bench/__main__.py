"""`python -m bench`: every benchmark, one table each; exit 1 when a target is missed.

`--quick` runs them with small sizes (a smoke run: the tables, not the verdict, matter).
Names pick benchmarks: `python -m bench resume_overhead webhook_intake`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable

from bench import (
    batch_concurrency,
    burst_drain,
    cold_start,
    resume_overhead,
    webhook_intake,
)
from bench.report import Table

# name -> (full run, quick run)
BENCHMARKS: dict[str, tuple[Callable[[], Table], Callable[[], Table]]] = {
    "cold_start": (lambda: cold_start.measure(15, 8), lambda: cold_start.measure(2, 5)),
    "resume_overhead": (
        lambda: resume_overhead.measure(40, 0.05),
        lambda: resume_overhead.measure(3, 0.05),
    ),
    "batch_concurrency": (
        lambda: batch_concurrency.measure(5, 0.05),
        lambda: batch_concurrency.measure(1, 0.05),
    ),
    "burst_drain": (lambda: burst_drain.measure(1000, 900), lambda: burst_drain.measure(20, 120)),
    "webhook_intake": (
        lambda: webhook_intake.measure(5, 200),
        lambda: webhook_intake.measure(1, 20),
    ),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"of: {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    args = parser.parse_args(argv)
    if unknown := set(args.names) - set(BENCHMARKS):
        parser.error(f"no benchmark named {', '.join(sorted(unknown))}")
    missed = []
    for name in args.names or BENCHMARKS:
        started = time.monotonic()
        full, quick = BENCHMARKS[name]
        table = (quick if args.quick else full)()
        print(table.render(), flush=True)
        print(f"({name}: {time.monotonic() - started:.0f} s)\n", flush=True)
        if not table.ok:
            missed.append(name)
    if missed:
        print(f"Targets missed: {', '.join(missed)}")
        return 1
    print("All targets met.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
