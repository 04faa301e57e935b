"""The local event source mapping: what it hands the function, and what it leaves on the queue.

Each test polls a queue of its own on the session's moto server, so the stack's own
resume containers never take its messages."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest

from devstack.poller import QueuePoller
from devstack.stack import LocalStack

_names = itertools.count(1)


@dataclass
class RecordingFunction:
    """Reports the records whose body is in `fail` as failed, or raises when `crash`."""

    fail: set[str] = field(default_factory=set)
    crash: bool = False
    events: list[dict[str, Any]] = field(default_factory=list)

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append(event)
        if self.crash:
            raise RuntimeError("function error")
        return {
            "batchItemFailures": [
                {"itemIdentifier": record["messageId"]}
                for record in event["Records"]
                if record["body"] in self.fail
            ]
        }


def _poller(stack: LocalStack, function: RecordingFunction) -> tuple[QueuePoller, Any, str]:
    sqs = stack.resources.client("sqs")
    url = sqs.create_queue(QueueName=f"poller-test-{next(_names)}")["QueueUrl"]
    poller = QueuePoller(function, stack.resources, "ResumeFunction")
    poller.queue_url = url
    return poller, sqs, url


def _depths(sqs: Any, url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


@pytest.mark.parametrize(
    ("fail", "crash", "left"), [(set(), False, 0), ({"b"}, False, 1), (set(), True, 3)]
)
def test_handled_records_are_deleted_and_failed_ones_stay(
    stack: LocalStack, fail: set[str], crash: bool, left: int
) -> None:
    function = RecordingFunction(fail=fail, crash=crash)
    poller, sqs, url = _poller(stack, function)
    for body in "abc":
        sqs.send_message(QueueUrl=url, MessageBody=body)

    assert poller.poll_once() == 3

    (event,) = function.events
    assert sorted(record["body"] for record in event["Records"]) == ["a", "b", "c"]
    assert {record["eventSource"] for record in event["Records"]} == {"aws:sqs"}
    # Failed records are in flight until their visibility timeout ends, then come back.
    assert _depths(sqs, url) == (0, left)


def test_an_empty_queue_invokes_nothing(stack: LocalStack) -> None:
    function = RecordingFunction()
    poller, _, _ = _poller(stack, function)

    assert poller.poll_once() == 0
    assert function.events == []
