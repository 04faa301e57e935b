"""Feeds the completion queue to the resume function, as Lambda's SQS event source mapping does.

Batches of up to BatchSize records, at most MaximumConcurrency invocations at a time; records
the function reports as failed stay on the queue and come back after the visibility timeout
(and go to the DLQ after maxReceiveCount).
"""

from __future__ import annotations

import threading
import traceback
from typing import Any, Protocol

from devstack.aws import REGION, Resources
from devstack.lambdas import ContainerPool, ExecutionEnvironment, local_function
from devstack.template import load_template


class Invocable(Protocol):
    def invoke(self, event: dict[str, Any]) -> Any: ...


def sqs_event_source(logical_id: str) -> dict[str, Any]:
    events = load_template()["Resources"][logical_id]["Properties"]["Events"]
    return next(spec["Properties"] for spec in events.values() if spec["Type"] == "SQS")


def maximum_concurrency(logical_id: str, parameters: dict[str, str]) -> int:
    scaling = sqs_event_source(logical_id).get("ScalingConfig", {})
    value = scaling.get("MaximumConcurrency", 1)
    return int(parameters[value["Ref"]] if isinstance(value, dict) else value)


class QueuePoller:
    """One poller of the event source mapping, handing batches to one execution environment."""

    def __init__(self, function: Invocable, resources: Resources, logical_id: str) -> None:
        self.function = function
        source = sqs_event_source(logical_id)
        self.batch_size = int(source.get("BatchSize", 10))
        self.queue_url = resources.queue_url
        self.queue_arn = resources.arns["CompletionQueue"]
        self._sqs = resources.client("sqs")

    def poll_once(self, wait_seconds: int = 0) -> int:
        """One receive, one invocation; returns how many records were handed over."""
        messages = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        event = {"Records": [self._record(message) for message in messages]}
        try:
            response = self.function.invoke(event) or {}
            failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        except Exception:  # an invocation error: Lambda leaves the whole batch on the queue
            failed = {message["MessageId"] for message in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                    for i, m in enumerate(done[start : start + 10])
                ],
            )
        return len(messages)

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": REGION,
        }


class PollingContainers:
    """MaximumConcurrency execution environments, each polling the queue and invoking its own
    copy of the function, one batch at a time: Lambda's SQS scaling in small.

    The receives happen inside those environments too: this process (which hosts the Landbot
    simulator and its clock) only hands each one its next turn.
    """

    def __init__(
        self,
        logical_id: str,
        resources: Resources,
        size: int,
        *,
        environment: dict[str, str] | None = None,
        quiet: bool = False,
    ) -> None:
        self.logical_id = logical_id
        self._resources = resources
        self._stopping = threading.Event()
        # Each environment gets its turns from a thread of its own, not from the pool.
        self._pool = ContainerPool(logical_id, size, environment=environment, quiet=quiet)
        self._threads = [
            threading.Thread(target=self._poll, args=(each,), daemon=True, name=f"poll-{i}")
            for i, each in enumerate(self._pool.environments)
        ]

    def start(self) -> PollingContainers:
        for thread in self._threads:
            thread.start()
        return self

    def request_stop(self) -> None:
        self._stopping.set()
        self._pool.request_stop()

    def stop(self) -> None:
        self.request_stop()
        self._pool.stop()

    def wait_stopped(self, deadline: float) -> None:
        self._pool.wait_stopped(deadline)

    def _poll(self, environment: ExecutionEnvironment) -> None:
        while not self._stopping.is_set():
            try:
                environment.run(poll_batch, self._resources, self.logical_id, 1)
            except Exception:  # a poller that dies would look like a stuck queue
                if self._stopping.is_set():
                    return
                traceback.print_exc()
                self._stopping.wait(0.5)


_poller: QueuePoller | None = None


def poll_batch(resources: Resources, logical_id: str, wait_seconds: int) -> int:
    """Inside an execution environment: one receive, one invocation of its function."""
    global _poller
    if _poller is None:
        _poller = QueuePoller(local_function(), resources, logical_id)
    return _poller.poll_once(wait_seconds)
