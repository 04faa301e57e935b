"""`landbot-resume redrive`: replays the dead-letter queue into the completion queue.

The queues are the stack's DeadLetterQueueUrl and CompletionQueueUrl outputs.

Messages are copied, not moved by SQS itself: the DLQ also receives events EventBridge could
not deliver, which SQS's own redrive cannot send back to a queue they never came from.
"""

from __future__ import annotations

import argparse
import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from landbot_resume.cli.stack import DLQ_OUTPUT, QUEUE_OUTPUT, Stack

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import (
        MessageAttributeValueTypeDef,
        MessageTypeDef,
        SendMessageBatchRequestEntryTypeDef,
    )

BATCH = 10  # the most SQS receives, sends or deletes in one call
# Message attributes EventBridge adds to the events it dead-letters. They describe the failed
# delivery, not the event, and would be stale (or misleading) on the replayed message.
# SQS's own dead-lettering adds no message attributes, so everything else is kept.
DELIVERY_ERROR_ATTRIBUTES = frozenset(
    {
        "ERROR_CODE",
        "ERROR_MESSAGE",
        "EXHAUSTED_RETRY_CONDITION",
        "RETRY_ATTEMPTS",
        "RULE_ARN",
        "TARGET_ARN",
    }
)
# Received messages stay invisible this long: failed ones must not come back within the run
# (they are made visible again at its end), and a crash only delays them this much.
HOLD_SECONDS = 300


@dataclass(frozen=True)
class RedriveReport:
    moved: int = 0  # sent to the completion queue
    failed: int = 0  # not sent: still in the DLQ, visible again
    not_deleted: int = 0  # sent, but their DLQ copy could not be deleted

    def summary(self, dlq_url: str, queue_url: str) -> str:
        extra = f" ({self.not_deleted} sent but still in the DLQ)" if self.not_deleted else ""
        return f"moved {self.moved}, failed {self.failed}{extra}: {dlq_url} -> {queue_url}"


def redrive(
    sqs_client: SQSClient,
    dlq_url: str,
    queue_url: str,
    *,
    max_messages: int | None = None,
    wait_seconds: int = 0,
) -> RedriveReport:
    """Send the DLQ's messages to the completion queue, then delete them from the DLQ.

    Bodies are sent unchanged, with their message attributes except the delivery-error ones
    EventBridge adds (DELIVERY_ERROR_ATTRIBUTES). A message is deleted from the DLQ only after
    SQS accepted its copy, so no message is ever lost: one whose send fails stays in the DLQ
    (made visible again at the end of the run) and is counted as failed.

    Replaying is always safe: a moved message is just a completion the resume function takes
    again, and the service is idempotent (a completion for a process already resumed or
    already claimed is acknowledged and dropped), so even a message sent twice (e.g. when its
    delete failed) resumes a bot at most once.

    Stops when a receive returns nothing, after `max_messages` messages, or when a message
    handled earlier in this run comes back (every message is handled at most once per run).
    `wait_seconds` is the receive's long-poll wait: 0 may stop early on a real SQS queue,
    which answers short polls from a sample of its servers.
    """
    seen: set[str] = set()
    failed: set[str] = set()
    held: list[MessageTypeDef] = []  # made visible again when the run ends
    moved = not_deleted = 0
    try:
        while max_messages is None or len(seen) < max_messages:
            wanted = BATCH if max_messages is None else min(BATCH, max_messages - len(seen))
            messages = sqs_client.receive_message(
                QueueUrl=dlq_url,
                MaxNumberOfMessages=wanted,
                WaitTimeSeconds=wait_seconds,
                VisibilityTimeout=HOLD_SECONDS,
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not messages:
                break
            repeats = [m for m in messages if m["MessageId"] in seen]
            batch = [m for m in messages if m["MessageId"] not in seen]
            seen.update(m["MessageId"] for m in batch)
            sent, unsent = _send(sqs_client, queue_url, batch)
            not_deleted += _delete(sqs_client, dlq_url, sent)
            moved += len(sent)
            failed.update(m["MessageId"] for m in unsent)
            held += unsent + repeats
            if repeats:  # the queue has come round: what is left was handled already
                break
    finally:
        for message in held:
            _release(sqs_client, dlq_url, message)
    return RedriveReport(moved=moved, failed=len(failed), not_deleted=not_deleted)


def _send(
    sqs: SQSClient, queue_url: str, messages: list[MessageTypeDef]
) -> tuple[list[MessageTypeDef], list[MessageTypeDef]]:
    """Send a batch; returns (sent, not sent)."""
    if not messages:
        return [], []
    entries: list[SendMessageBatchRequestEntryTypeDef] = []
    for index, message in enumerate(messages):
        entry: SendMessageBatchRequestEntryTypeDef = {
            "Id": str(index),
            "MessageBody": message["Body"],
        }
        if attributes := _kept_attributes(message):
            entry["MessageAttributes"] = attributes
        entries.append(entry)
    try:
        response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
    except (BotoCoreError, ClientError):  # e.g. no such queue, access denied: none was sent
        return [], messages
    ok = {int(entry["Id"]) for entry in response.get("Successful", [])}
    return (
        [m for i, m in enumerate(messages) if i in ok],
        [m for i, m in enumerate(messages) if i not in ok],
    )


def _kept_attributes(message: MessageTypeDef) -> dict[str, MessageAttributeValueTypeDef]:
    kept: dict[str, MessageAttributeValueTypeDef] = {}
    for name, value in message.get("MessageAttributes", {}).items():
        if name in DELIVERY_ERROR_ATTRIBUTES:
            continue
        # Only the fields SQS implements: the received value also lists (empty) list fields.
        copy: MessageAttributeValueTypeDef = {"DataType": value["DataType"]}
        if "StringValue" in value:
            copy["StringValue"] = value["StringValue"]
        if "BinaryValue" in value:
            copy["BinaryValue"] = value["BinaryValue"]
        kept[name] = copy
    return kept


def _delete(sqs: SQSClient, dlq_url: str, messages: list[MessageTypeDef]) -> int:
    """Delete sent messages from the DLQ; returns how many could not be deleted."""
    if not messages:
        return 0
    try:
        response = sqs.delete_message_batch(
            QueueUrl=dlq_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
    except (BotoCoreError, ClientError):  # they come back after HOLD_SECONDS: a harmless resend
        return len(messages)
    return len(response.get("Failed", []))


def _release(sqs: SQSClient, dlq_url: str, message: MessageTypeDef) -> None:
    # If this fails, the message still becomes visible after HOLD_SECONDS.
    with contextlib.suppress(BotoCoreError, ClientError):
        sqs.change_message_visibility(
            QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )


def waiting(sqs_client: SQSClient, dlq_url: str) -> int:
    attributes = sqs_client.get_queue_attributes(
        QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes.get("ApproximateNumberOfMessages", 0))


# ---------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--dry-run", action="store_true", help="only print how many messages are waiting"
    )
    parser.add_argument(
        "--max-messages", type=_positive, help="move at most this many (default: all)"
    )
    # A short poll may answer "empty" from a sample of SQS's servers while messages wait.
    parser.add_argument(
        "--wait-seconds",
        type=int,
        choices=range(21),
        default=1,
        metavar="0-20",
        help="long-poll wait of each receive (default: 1)",
    )


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def command(args: argparse.Namespace, stack: Stack) -> int:
    """Exit 0 when everything was moved, 1 when a message stayed in the DLQ."""
    dlq_url, queue_url = stack.outputs(DLQ_OUTPUT, QUEUE_OUTPUT)
    sqs = stack.sqs()
    if args.dry_run:
        print(f"{waiting(sqs, dlq_url)} message(s) waiting in {dlq_url}")
        return 0
    report = redrive(
        sqs, dlq_url, queue_url, max_messages=args.max_messages, wait_seconds=args.wait_seconds
    )
    print(report.summary(dlq_url, queue_url))
    return 1 if report.failed or report.not_deleted else 0
