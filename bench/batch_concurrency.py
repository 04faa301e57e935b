"""3. Batch concurrency: the resume handler on a batch of 10 records against one record.

(a) With the rate limit high enough not to bind (100 requests/s, as for a Landbot plan with a
    higher limit, and the simulator allowing as much): sequential processing would cost 10x.
(b) With the default 10 requests/s (and the simulator enforcing Landbot's 10 in any second):
    the batch against the time the limit itself imposes on its 20 calls, and the peak rate
    Landbot saw.

Landbot answers after a fixed delay; the store is moto in-process, so DynamoDB's own work
runs on this machine's CPU, in the function's process: the table shows how much of each
invocation it took.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass

from bench import functions, local
from bench.functions import MOTO, create_pending, invoke_counting_store, payment_batch
from bench.report import Table, median
from devstack import ExecutionEnvironment

BATCH = 10  # the event source's BatchSize
CALLS_PER_RECORD = 2
HIGH_LIMIT = 100
DEFAULT_LIMIT = 10
MAX_BATCH_RATIO = 2.5
MAX_LIMIT_RATIO = 1.1
# Between invocations, so each starts with every permit free.
PAUSE_SECONDS = 1.2


@dataclass
class Invocations:
    seconds: list[float]
    store_cpu: list[float]  # moto's CPU seconds within each

    @property
    def median(self) -> float:
        return median(self.seconds)

    @property
    def median_store_cpu(self) -> float:
        return median(self.store_cpu)


def _invoke(environment: ExecutionEnvironment, process_ids: list[str]) -> tuple[float, float]:
    seconds, store_cpu, result = invoke_counting_store(environment, payment_batch(process_ids))
    if result["batchItemFailures"]:
        raise RuntimeError(f"{len(result['batchItemFailures'])} records failed: {result}")
    return seconds, store_cpu


def unbound(rounds: int, delay: float) -> tuple[Invocations, Invocations]:
    """One record and a batch, alternately, with a limit that never binds."""
    single, batch = Invocations([], []), Invocations([], [])
    with (
        local.simulator(rate_limit=HIGH_LIMIT, delay=delay) as simulator,
        functions.environment(
            "ResumeFunction",
            landbot_url=simulator.url,
            landbot_token=local.TOKEN,
            variables={"LANDBOT_RATE_LIMIT": str(HIGH_LIMIT)},
        ) as environment,
    ):
        customers = local.customers(simulator, (rounds + 1) * (BATCH + 1))
        processes = environment.run(create_pending, customers)
        for i in range(rounds + 1):  # the first round warms up
            chunk, processes = processes[: BATCH + 1], processes[BATCH + 1 :]
            one = _invoke(environment, chunk[:1])
            time.sleep(PAUSE_SECONDS)
            many = _invoke(environment, chunk[1:])
            time.sleep(PAUSE_SECONDS)
            if i:
                for invocations, (seconds, store_cpu) in ((single, one), (batch, many)):
                    invocations.seconds.append(seconds)
                    invocations.store_cpu.append(store_cpu)
    return single, batch


def limited(rounds: int, delay: float) -> tuple[list[float], int, int]:
    """Seconds for a batch under the default limit; the peak requests in any second and the
    429s Landbot's own limit gave."""
    batch: list[float] = []
    with (
        local.simulator(rate_limit=DEFAULT_LIMIT, delay=delay) as simulator,
        functions.environment(
            "ResumeFunction", landbot_url=simulator.url, landbot_token=local.TOKEN
        ) as environment,
    ):
        customers = local.customers(simulator, (rounds + 1) * BATCH)
        processes = environment.run(create_pending, customers)
        for i in range(rounds + 1):
            if i == 1:
                simulator.reset_calls()  # the warm-up's calls are not judged
            chunk, processes = processes[:BATCH], processes[BATCH:]
            seconds, _ = _invoke(environment, chunk)
            if i:
                batch.append(seconds)
            time.sleep(PAUSE_SECONDS)
        rate_limited = sum(1 for call in simulator.calls() if call.status == 429)
        return batch, simulator.peak_rate(), rate_limited


def measure(rounds: int, delay: float) -> Table:
    single, batch = unbound(rounds, delay)
    under_limit, peak, rate_limited = limited(rounds, delay)
    calls = BATCH * CALLS_PER_RECORD
    limit_seconds = calls / DEFAULT_LIMIT
    # Landbot's window slides: 10 calls at once, the next 10 a second later, then their answers.
    window_minimum = math.ceil(calls / DEFAULT_LIMIT) - 1 + delay
    table = Table(
        f"3. Batch concurrency: {BATCH} records against 1, Landbot answering after"
        f" {delay * 1000:.0f} ms (median of {rounds})",
        ["", "baseline", "batch of 10", "ratio"],
    )
    table.add(
        f"limit {HIGH_LIMIT}/s (never binds): against 1 record",
        _ms(single.median),
        _ms(batch.median),
        f"{batch.median / single.median:.2f}x",
    )
    table.add(
        "  of which moto's own CPU (DynamoDB's work)",
        _ms(single.median_store_cpu),
        _ms(batch.median_store_cpu),
        "",
    )
    without_single = single.median - single.median_store_cpu
    without_batch = batch.median - batch.median_store_cpu
    table.add(
        "  the same without moto's CPU (estimate)",
        _ms(without_single),
        _ms(without_batch),
        f"{without_batch / without_single:.2f}x",
    )
    table.add("  sequential: 10 x 1 record", "", _ms(10 * single.median), "10.00x")
    table.add(
        f"limit {DEFAULT_LIMIT}/s: against {calls} calls at {DEFAULT_LIMIT}/s",
        _ms(limit_seconds),
        f"{_ms(median(under_limit))} (max {_ms(max(under_limit))})",
        f"{median(under_limit) / limit_seconds:.2f}x",
    )
    table.add(
        f"limit {DEFAULT_LIMIT}/s: against the sliding window's minimum",
        _ms(window_minimum),
        _ms(median(under_limit)),
        f"{median(under_limit) / window_minimum:.2f}x",
    )
    table.check(
        "batch against 1 record (limit never binds)",
        batch.median / single.median,
        MAX_BATCH_RATIO,
    )
    table.check(
        f"slowest batch against {calls} calls at {DEFAULT_LIMIT}/s",
        max(under_limit) / limit_seconds,
        MAX_LIMIT_RATIO,
    )
    table.check(f"peak Landbot requests in any second (limit {DEFAULT_LIMIT})", peak, DEFAULT_LIMIT)
    table.check("429s from Landbot's limit", rate_limited, 0)
    table.notes.append(f"Store: {MOTO}; the handler in a fresh execution environment.")
    return table


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.batch_concurrency", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--delay", type=float, default=0.05, help="Landbot's answer, seconds")
    args = parser.parse_args(argv)
    table = measure(args.rounds, args.delay)
    print(table.render(), flush=True)
    return 0 if table.ok else 1


if __name__ == "__main__":
    sys.exit(main())
