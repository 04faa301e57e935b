"""2. Resume overhead: one resume end to end through the resume handler, against the same
resume done directly (two sequential Landbot calls and the three state writes).

The Landbot simulator answers every call after a fixed delay; the store is moto in-process.
Both sides run in one execution environment (a fresh process), alternately, and are paced so
that neither Landbot's 10 requests/s nor the rate limiter ever makes them wait.
"""

from __future__ import annotations

import argparse
import sys
import time

from bench import functions, local
from bench.functions import (
    MOTO,
    create_pending,
    invoke_counting_store,
    payment_batch,
    resume_floor,
)
from bench.report import Table, percentile
from devstack import ExecutionEnvironment

MAX_RATIO = 1.15
# Two resumes (four Landbot calls) per iteration: at most 8 calls in any second.
ITERATION_SECONDS = 0.5


def measure(iterations: int, delay: float) -> Table:
    handler: list[tuple[float, float]] = []  # (seconds, moto's CPU seconds)
    floor: list[tuple[float, float]] = []
    with (
        local.simulator(delay=delay) as simulator,
        functions.environment(
            "ResumeFunction", landbot_url=simulator.url, landbot_token=local.TOKEN
        ) as environment,
    ):
        customers = local.customers(simulator, 2 * (iterations + 1))
        processes = environment.run(create_pending, customers)
        for i in range(iterations + 1):  # the first round warms both up
            started = time.monotonic()
            by_handler, directly = processes[2 * i], processes[2 * i + 1]
            urls = local.customer_urls(simulator, customers[2 * i + 1])
            # Alternate which goes first, so neither always follows the other.
            if i % 2:
                through = _through_handler(environment, by_handler)
                direct = environment.run(resume_floor, directly, *urls, local.TOKEN)
            else:
                direct = environment.run(resume_floor, directly, *urls, local.TOKEN)
                through = _through_handler(environment, by_handler)
            if i:
                handler.append(through)
                floor.append(direct)
            time.sleep(max(0.0, started + ITERATION_SECONDS - time.monotonic()))
        rate_limited = sum(1 for call in simulator.calls() if call.status == 429)

    table = Table(
        f"2. Resume overhead: one resume, Landbot answering after {delay * 1000:.0f} ms"
        f" ({iterations} of each)",
        ["", "p50", "p95", "moto's CPU (p50)"],
    )
    p50 = [percentile([s for s, _ in side], 0.5) for side in (floor, handler)]
    p95 = [percentile([s for s, _ in side], 0.95) for side in (floor, handler)]
    cpu = [percentile([c for _, c in side], 0.5) for side in (floor, handler)]
    table.add(
        "floor: 2 Landbot calls + 3 store writes, directly", _ms(p50[0]), _ms(p95[0]), _ms(cpu[0])
    )
    table.add("one resume through the handler", _ms(p50[1]), _ms(p95[1]), _ms(cpu[1]))
    table.add("ratio", f"{p50[1] / p50[0]:.2f}x", f"{p95[1] / p95[0]:.2f}x", "")
    table.add(
        "ratio without moto's CPU (estimate)",
        f"{(p50[1] - cpu[1]) / (p50[0] - cpu[0]):.2f}x",
        "",
        "",
    )
    table.check("p50 ratio", p50[1] / p50[0], MAX_RATIO)
    table.check("429s from Landbot", rate_limited, 0)
    table.notes.append(
        f"Store: {MOTO}; both sides in one execution environment. The handler's extra"
        " store writes are the rate limiter's: a take before each call, and a stamp moved"
        " after each call slower than 50 ms (in the background)."
    )
    return table


def _through_handler(environment: ExecutionEnvironment, process_id: str) -> tuple[float, float]:
    seconds, store_cpu, result = invoke_counting_store(environment, payment_batch([process_id]))
    if result["batchItemFailures"]:
        raise RuntimeError(f"the resume failed: {result}")
    return seconds, store_cpu


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.resume_overhead", description=__doc__)
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--delay", type=float, default=0.05, help="Landbot's answer, seconds")
    args = parser.parse_args(argv)
    table = measure(args.iterations, args.delay)
    print(table.render(), flush=True)
    return 0 if table.ok else 1


if __name__ == "__main__":
    sys.exit(main())
