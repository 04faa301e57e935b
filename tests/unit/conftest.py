"""Unit tests: AWS is moto in-process (mock_aws); Landbot, and the store in the domain's
tests, are in-memory fakes (tests/fakes.py)."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from devstack.template import load_template
from landbot_resume.store import DynamoDBProcessStore
from tests.fakes import FakeLandbot


@pytest.fixture
def dynamodb(aws_in_process: None) -> Any:
    return boto3.client("dynamodb")


@pytest.fixture
def store(dynamodb: Any) -> DynamoDBProcessStore:
    """The processes table exactly as template.yaml declares it."""
    spec = load_template()["Resources"]["ProcessesTable"]["Properties"]
    dynamodb.create_table(
        TableName="processes",
        AttributeDefinitions=spec["AttributeDefinitions"],
        KeySchema=spec["KeySchema"],
        BillingMode=spec["BillingMode"],
        GlobalSecondaryIndexes=spec["GlobalSecondaryIndexes"],
    )
    return DynamoDBProcessStore("processes", client=dynamodb)


@pytest.fixture
def landbot() -> FakeLandbot:
    return FakeLandbot()
