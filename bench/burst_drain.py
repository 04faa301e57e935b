"""4. Burst drain: completion events for many pending processes at once, on the local stack
with no faults, drained through the queue, the resume function's containers and the shared
rate limiter, against the floor Landbot's limit sets: 10 requests/s, two per resume, so
5 resumes/s.

The processes are created through the webhook API first (not timed); then one payment event
per process goes on the bus at once. The drain runs from the first event to the last call
Landbot answered, on the simulator's clock (as in the chaos run).
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from collections import Counter
from typing import Any

from bench import local
from bench.report import Table
from devstack import (
    CEILING_RESUMES_PER_SECOND,
    Call,
    LocalStack,
    Ports,
    Resources,
    create_processes,
    put_events,
    stripe_event,
)

MIN_FRACTION = 0.9
LANDBOT_LIMIT = 10


def emit(resources: Resources, process_ids: list[str], started: Any) -> None:
    """Put a paid Checkout event for each process on the bus, ten per PutEvents, and report
    when the first went out. Runs in a process of its own: the simulator's clock (in the
    parent) must not wait behind these calls."""
    client = resources.client("events")
    events = [stripe_event("checkout.session.completed", pid) for pid in process_ids]
    started.put(time.monotonic())
    failed = put_events(client, resources.bus, events)
    if failed:
        raise RuntimeError(f"{failed} events were not accepted")


def measure(processes: int, timeout: float) -> Table:
    with LocalStack(Ports.ephemeral(), quiet=True, webhook_containers=4) as stack:
        simulator = stack.simulator
        assert simulator is not None, "the drain is measured on the simulator"
        customers = local.customers(simulator, processes)
        created = create_processes(stack.webhook_url, stack.webhook_token, customers)
        simulator.reset_calls()
        context = multiprocessing.get_context("spawn")
        started = context.Queue()
        emitter = context.Process(target=emit, args=(stack.resources, list(created), started))
        emitter.start()
        first_event = started.get(timeout=60)
        emitter.join()
        if emitter.exitcode:
            raise RuntimeError("emitting the events failed")
        if not stack.wait_for_drain(timeout=timeout):
            raise RuntimeError(f"the queue did not drain within {timeout:.0f} s")
        calls = simulator.calls()
        drain = max(call.time for call in calls) - first_event
        statuses = stack.statuses()
        peak = simulator.peak_rate()
    return _table(processes, drain, calls, statuses, created, peak)


def _table(
    processes: int,
    drain: float,
    calls: list[Call],
    statuses: dict[str, dict[str, Any]],
    created: dict[str, int],
    peak: int,
) -> Table:
    floor = processes / CEILING_RESUMES_PER_SECOND
    fraction = floor / drain
    outcomes = Counter(statuses.get(pid, {}).get("status", "missing") for pid in created)
    rate_limited = sum(1 for call in calls if call.status == 429 and not call.fault)
    not_resumed = processes - outcomes["RESUMED"]
    table = Table(
        f"4. Burst drain: {processes} completion events for {processes} pending processes",
        ["", "seconds", "resumes/s"],
    )
    table.add(
        f"floor: {processes} resumes at {CEILING_RESUMES_PER_SECOND:g}/s (Landbot's limit)",
        f"{floor:.1f}",
        f"{CEILING_RESUMES_PER_SECOND:.2f}",
    )
    table.add(
        "drain: first event to Landbot's last call", f"{drain:.1f}", f"{processes / drain:.2f}"
    )
    table.add("fraction of the ceiling", f"{fraction:.2f}", "")
    table.add("processes RESUMED", str(outcomes["RESUMED"]), "")
    table.add("429s from Landbot's limit (retried)", str(rate_limited), "")
    table.add(f"peak Landbot requests in any second (limit {LANDBOT_LIMIT})", str(peak), "")
    table.check("fraction of the ceiling", fraction, MIN_FRACTION, at_least=True)
    table.check("processes not RESUMED (a 429 reaching the process state)", not_resumed, 0)
    table.check("peak Landbot requests in any second", peak, LANDBOT_LIMIT)
    table.notes.append(
        "Local stack: moto server (devstack/moto_server.py), ResumeMaxConcurrency resume"
        " containers polling the queue, Landbot simulator with its 10 requests/s, no faults."
    )
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.burst_drain", description=__doc__)
    parser.add_argument("--processes", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to drain")
    args = parser.parse_args(argv)
    table = measure(args.processes, args.timeout)
    print(table.render(), flush=True)
    return 0 if table.ok else 1


if __name__ == "__main__":
    sys.exit(main())
