"""SqsCompletionQueue: the completion queue port on SQS, for the service's own senders (the
timeout sweeper and the operator's CLI); everything else reaches the queue by itself."""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3

from landbot_resume.models import CompletionMessage

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

BATCH = 10  # the most messages one SendMessageBatch takes


class SqsCompletionQueue:
    def __init__(self, queue_url: str, client: SQSClient | None = None) -> None:
        self.queue_url = queue_url
        self._client = client or boto3.client("sqs")

    def send(self, messages: list[CompletionMessage]) -> list[CompletionMessage]:
        """Send the messages, ten per call; returns those SQS did not take."""
        unsent: list[CompletionMessage] = []
        for start in range(0, len(messages), BATCH):
            batch = messages[start : start + BATCH]
            response = self._client.send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(index), "MessageBody": message.model_dump_json(exclude_none=True)}
                    for index, message in enumerate(batch)
                ],
            )
            unsent += [batch[int(failure["Id"])] for failure in response.get("Failed", [])]
        return unsent
