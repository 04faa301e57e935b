"""Integration tests: the handlers against the moto server and the Landbot simulator."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests

from devstack.aws import CREDENTIALS
from devstack.landbot_simulator import LandbotSimulator
from devstack.stack import LocalStack


def wait_until(condition: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


@pytest.fixture
def simulator(stack: LocalStack) -> LandbotSimulator:
    assert stack.simulator is not None
    return stack.simulator


@pytest.fixture
def api(stack: LocalStack) -> Callable[..., requests.Response]:
    """Call the webhook API over HTTP with the stack's token (unless headers say otherwise)."""

    def call(method: str, path: str = "", **kwargs: Any) -> requests.Response:
        headers = {"X-Webhook-Token": stack.webhook_token, **kwargs.pop("headers", {})}
        return requests.request(
            method, f"{stack.webhook_url}{path}", headers=headers, timeout=10, **kwargs
        )

    return call


def count_processes(stack: LocalStack) -> int:
    items = stack.resources.client("dynamodb").scan(TableName=stack.resources.table)["Items"]
    return sum(1 for item in items if "status" in item)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The `--stack` path uses boto3's default credentials: fake ones, not this machine's."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDENTIALS["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDENTIALS["aws_secret_access_key"])
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
