"""Where a stack's resources are: its CloudFormation outputs, read with boto3.

`--stack NAME [--region R]` reads a deployed stack with the default AWS credentials.
`--endpoint-url URL` alone reads the local stack (`make run`), which registers itself in its
moto server as LOCAL_STACK; moto takes any credentials, so dummy ones are used. Both
together read the named stack at that endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient

LOCAL_STACK = "landbot-resume-local"
LOCAL_REGION = "eu-west-1"
LOCAL_ACCESS_KEY = "testing"  # any will do
# The template's outputs the commands read.
TABLE_OUTPUT = "ProcessesTableName"
QUEUE_OUTPUT = "CompletionQueueUrl"
DLQ_OUTPUT = "DeadLetterQueueUrl"
# Standard mode: three attempts, so an endpoint that does not answer fails within seconds.
_CONFIG = Config(retries={"mode": "standard"})


class CliError(Exception):
    """What went wrong, in one line for the operator."""


@dataclass(frozen=True)
class Target:
    """The stack a command works on, as the options name it."""

    stack: str | None = None
    region: str | None = None
    endpoint_url: str | None = None

    @property
    def name(self) -> str:
        return self.stack or LOCAL_STACK

    @property
    def is_local(self) -> bool:
        return self.stack is None

    def where(self, region: str | None) -> str:
        at = f" at {self.endpoint_url}" if self.endpoint_url else ""
        return f"in {region}{at}"


class Stack:
    """A stack's outputs, and clients for its resources."""

    def __init__(self, target: Target, session: boto3.Session, outputs: dict[str, str]) -> None:
        self.target = target
        self._session = session
        self._outputs = outputs

    def outputs(self, *keys: str) -> list[str]:
        missing = [key for key in keys if key not in self._outputs]
        if missing:
            raise CliError(f"stack {self.target.name} has no output {', '.join(missing)}")
        return [self._outputs[key] for key in keys]

    def dynamodb(self) -> DynamoDBClient:
        return self._session.client(
            "dynamodb", endpoint_url=self.target.endpoint_url, config=_CONFIG
        )

    def sqs(self) -> SQSClient:
        return self._session.client("sqs", endpoint_url=self.target.endpoint_url, config=_CONFIG)


def open_stack(target: Target) -> Stack:
    """Read the target stack's outputs; CliError if it cannot be found."""
    if target.is_local and target.endpoint_url is None:
        raise CliError("give --stack NAME (a deployed stack) or --endpoint-url URL (local)")
    if target.is_local:
        session = boto3.Session(
            aws_access_key_id=LOCAL_ACCESS_KEY,
            aws_secret_access_key=LOCAL_ACCESS_KEY,
            region_name=target.region or LOCAL_REGION,
        )
    else:
        session = boto3.Session(region_name=target.region)
    region = session.region_name
    if region is None:
        raise CliError("no AWS region: give --region, or set AWS_REGION or a profile's region")
    # Any: the type stubs pyproject.toml installs cover only the services the functions call.
    cloudformation: Any = session.client(
        "cloudformation", endpoint_url=target.endpoint_url, config=_CONFIG
    )
    try:
        described = cloudformation.describe_stacks(StackName=target.name)["Stacks"][0]
    except ClientError as error:
        if "does not exist" not in error.response.get("Error", {}).get("Message", ""):
            raise
        raise CliError(f"no stack named {target.name} {target.where(region)}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    return Stack(target, session, outputs)


def explain(error: Exception, target: Target) -> str:
    """One line for an AWS error: what failed and what to do about it."""
    if isinstance(error, NoCredentialsError):
        return (
            "no AWS credentials: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and"
            " AWS_SECRET_ACCESS_KEY), or run `aws configure` or `aws sso login`"
        )
    if isinstance(error, EndpointConnectionError | ConnectTimeoutError):
        hint = " (is `make run` running?)" if target.is_local else ""
        return f"{error}{hint}"
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{error.operation_name}: {details.get('Code')}: {details.get('Message')}"
    return str(error)
