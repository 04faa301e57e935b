"""Feeds the completion queue to the resume function, as Lambda's SQS event source mapping does.

Batches of up to BatchSize records, at most MaximumConcurrency invocations at a time; records
the function reports as failed stay on the queue and come back after the visibility timeout
(and go to the DLQ after maxReceiveCount).
"""

from __future__ import annotations

import multiprocessing
import traceback
from typing import Any, Protocol

from tests.cfn import load_template
from tests.stack.aws import REGION, Resources
from tests.stack.lambdas import LocalFunction, silence_if


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

    def run_until(self, stop: Any) -> None:
        while not stop.is_set():
            try:
                self.poll_once(wait_seconds=1)
            except Exception:  # a poller that dies would look like a stuck queue
                traceback.print_exc()
                if stop.wait(0.5):
                    return

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
    """MaximumConcurrency execution environments, each a process that polls the queue and
    invokes its own copy of the function, one batch at a time: Lambda's SQS scaling in small.

    The polling happens in those processes too, so this process (which hosts the Landbot
    simulator and its clock) stays idle while the queue drains.
    """

    def __init__(self, logical_id: str, resources: Resources, size: int, *, quiet: bool) -> None:
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._processes = [
            context.Process(
                target=_poll_in_container,
                args=(logical_id, resources, self._stop, quiet),
                daemon=True,
                name=f"{logical_id}-{i}",
            )
            for i in range(size)
        ]

    def start(self) -> PollingContainers:
        for process in self._processes:
            process.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for process in self._processes:
            process.join(timeout=35)
            if process.is_alive():
                process.terminate()


def _poll_in_container(logical_id: str, resources: Resources, stop: Any, quiet: bool) -> None:
    silence_if(quiet)
    QueuePoller(LocalFunction(logical_id), resources, logical_id).run_until(stop)
