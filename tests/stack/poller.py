"""Feeds the completion queue to the resume function, as Lambda's SQS event source mapping does.

Batches of up to BatchSize records, at most MaximumConcurrency invocations at a time; records
the function reports as failed stay on the queue and come back after the visibility timeout
(and go to the DLQ after maxReceiveCount).
"""

from __future__ import annotations

import threading
from typing import Any

from tests.cfn import load_template
from tests.stack.aws import REGION, Resources
from tests.stack.lambdas import ContainerPool


def sqs_event_source(logical_id: str) -> dict[str, Any]:
    events = load_template()["Resources"][logical_id]["Properties"]["Events"]
    return next(spec["Properties"] for spec in events.values() if spec["Type"] == "SQS")


def maximum_concurrency(logical_id: str, parameters: dict[str, str]) -> int:
    scaling = sqs_event_source(logical_id).get("ScalingConfig", {})
    value = scaling.get("MaximumConcurrency", 1)
    return int(parameters[value["Ref"]] if isinstance(value, dict) else value)


class QueuePoller:
    def __init__(
        self, function: ContainerPool, resources: Resources, logical_id: str, concurrency: int = 1
    ) -> None:
        self.function = function
        source = sqs_event_source(logical_id)
        self.batch_size = int(source.get("BatchSize", 10))
        self.queue_url = resources.queue_url
        self.queue_arn = resources.arns["CompletionQueue"]
        self._sqs = resources.client("sqs")
        self._stop = threading.Event()
        # One poller thread per concurrent invocation: each waits for its own batch.
        self._threads = [
            threading.Thread(target=self._run, daemon=True, name=f"queue-poller-{i}")
            for i in range(concurrency)
        ]
        self.batches = 0

    def start(self) -> QueuePoller:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=35)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once(wait_seconds=1)
            except Exception:  # a poller that dies would look like a stuck queue
                if self._stop.wait(0.5):
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
        self.batches += 1
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
