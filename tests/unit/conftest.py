"""Unit tests: AWS is moto in-process (mock_aws), Landbot is an in-memory fake."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from landbot_resume.landbot import LandbotError
from landbot_resume.store import ProcessStore
from tests.cfn import load_template


@pytest.fixture
def dynamodb(aws_in_process: None) -> Any:
    return boto3.client("dynamodb")


@pytest.fixture
def store(dynamodb: Any) -> ProcessStore:
    """The processes table exactly as template.yaml declares it."""
    spec = load_template()["Resources"]["ProcessesTable"]["Properties"]
    dynamodb.create_table(
        TableName="processes",
        AttributeDefinitions=spec["AttributeDefinitions"],
        KeySchema=spec["KeySchema"],
        BillingMode=spec["BillingMode"],
        GlobalSecondaryIndexes=spec["GlobalSecondaryIndexes"],
    )
    return ProcessStore("processes", client=dynamodb)


class FakeLandbot:
    """Behaves like LandbotClient towards the domain: records calls, fails on request."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.failures: dict[str, list[LandbotError]] = {"set_field": [], "assign_bot": []}

    def fail_next(self, operation: str, error: LandbotError) -> None:
        self.failures[operation].append(error)

    def _maybe_fail(self, operation: str) -> None:
        if self.failures[operation]:
            raise self.failures[operation].pop(0)

    def set_field(self, customer_id: int, field: str, value: dict[str, Any]) -> None:
        self._maybe_fail("set_field")
        self.calls.append(("set_field", (customer_id, field, value)))

    def assign_bot(self, customer_id: int, bot_id: int, node_id: str) -> None:
        self._maybe_fail("assign_bot")
        self.calls.append(("assign_bot", (customer_id, bot_id, node_id)))


@pytest.fixture
def landbot() -> FakeLandbot:
    return FakeLandbot()
