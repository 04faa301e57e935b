"""The Landbot simulator as the benchmarks use it, and its customers."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from devstack import BOT_ID, Faults, LandbotSimulator

# The agent token the simulator accepts and the functions get from their secret.
TOKEN = secrets.token_hex(20)
_customers = itertools.count(800_000_001)
__all__ = ["TOKEN", "Faults", "customer_urls", "customers", "simulator"]


@contextmanager
def simulator(*, rate_limit: float = 10.0, delay: float = 0.0) -> Iterator[LandbotSimulator]:
    """The Landbot simulator on a free port, answering every call after `delay` seconds."""
    with LandbotSimulator(port=0, tokens=[TOKEN], rate_limit=rate_limit) as running:
        running.set_faults(Faults(delay=delay))
        yield running


def customers(running: LandbotSimulator, count: int) -> list[int]:
    """`count` new customers the simulator knows, each with the field set to {}."""
    created = [next(_customers) for _ in range(count)]
    for customer in created:
        running.add_customer(customer, {"data": {"type": "object", "value": {}, "extra": {}}})
    return created


def customer_urls(running: LandbotSimulator, customer: int) -> tuple[str, str]:
    """The Set and Go URLs of a customer on the simulator."""
    return (
        f"{running.url}customers/{customer}/fields/data/",
        f"{running.url}customers/{customer}/assign_bot/{BOT_ID}/",
    )
