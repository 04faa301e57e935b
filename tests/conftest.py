"""Shared fixtures. No test may reach anything but this machine's loopback interface."""

from __future__ import annotations

import ipaddress
import itertools
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from devstack.stack import LocalStack, Ports

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


@pytest.fixture
def aws_in_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """AWS as moto in this process (mock_aws), whatever endpoint or credentials are set."""
    # A local stack started earlier in the session points boto3 at its server; not here.
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    """The local stack on free ports: moto, the Landbot simulator (with Landbot's 10
    requests/s limit: the service must never hit it), the API and the poller."""
    with LocalStack(Ports.ephemeral()) as running:
        yield running


@pytest.fixture
def customer_id() -> int:
    """A customer id no other test uses, so tests can share one simulator."""
    return next(_customer_ids)
