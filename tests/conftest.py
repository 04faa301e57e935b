"""Shared fixtures. No test may reach anything but this machine's loopback interface."""

from __future__ import annotations

import ipaddress
import itertools
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from tests.stack.stack import LocalStack, Ports

_connect = socket.socket.connect
_customer_ids = itertools.count(700_000_001)


def _loopback_only(self: socket.socket, address: Any) -> Any:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            allowed = ipaddress.ip_address(host).is_loopback
        except ValueError:
            allowed = host == "localhost"
        if not allowed:
            raise ConnectionRefusedError(f"tests may only connect to loopback, not {host}")
    return _connect(self, address)


@pytest.fixture(autouse=True, scope="session")
def _no_network() -> Iterator[None]:
    socket.socket.connect = _loopback_only  # type: ignore[method-assign]
    yield
    socket.socket.connect = _connect  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    """The local stack on free ports: moto, the Landbot simulator, the API and the poller.

    Tests share it back to back, faster than any one bot would go: Landbot's rate limit is
    lifted here (the simulator's own tests cover it).
    """
    with LocalStack(Ports.ephemeral(), landbot_rate_limit=1000) as running:
        yield running


@pytest.fixture
def customer_id() -> int:
    """A customer id no other test uses, so tests can share one simulator."""
    return next(_customer_ids)
