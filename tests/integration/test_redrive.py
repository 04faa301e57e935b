"""The DLQ redrive against a moto server of its own: the function, and `landbot-resume
redrive` on the local stack (`--endpoint-url`) and on a deployed stack (`--stack`), both found
through their CloudFormation outputs."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from devstack.aws import ACCOUNT, REGION
from devstack.samples import stripe_event
from landbot_resume.cli import main
from landbot_resume.cli.redrive import RedriveReport, redrive
from landbot_resume.cli.stack import DLQ_OUTPUT, LOCAL_STACK
from tests.integration.cli_stacks import client, deployed, moto_server, stack_template

_names = itertools.count(1)

# EventBridge's view of a failed delivery: must not follow the event back to the queue.
ERROR_ATTRIBUTES = {
    "ERROR_CODE": {"DataType": "String", "StringValue": "SDK_CLIENT_ERROR"},
    "ERROR_MESSAGE": {"DataType": "String", "StringValue": "Access denied"},
    "RULE_ARN": {
        "DataType": "String",
        "StringValue": f"arn:aws:events:{REGION}:{ACCOUNT}:rule/PaymentEventsRule",
    },
    "TARGET_ARN": {
        "DataType": "String",
        "StringValue": f"arn:aws:sqs:{REGION}:{ACCOUNT}:CompletionQueue",
    },
}
# A producer's own attribute, which must survive the replay.
OWN_ATTRIBUTES = {"origin": {"DataType": "String", "StringValue": "billing"}}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def sqs(endpoint: str) -> Any:
    return client("sqs", endpoint)


def create_queues(sqs: Any, prefix: str) -> tuple[str, str]:
    """A DLQ and a completion queue redriving to it, as in the template; returns (dlq, queue)."""
    dlq = sqs.create_queue(
        QueueName=f"{prefix}-CompletionDeadLetterQueue",
        Attributes={"MessageRetentionPeriod": "1209600"},
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue = sqs.create_queue(
        QueueName=f"{prefix}-CompletionQueue",
        Attributes={
            "VisibilityTimeout": "180",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5}),
        },
    )["QueueUrl"]
    return dlq, queue


@pytest.fixture
def queues(sqs: Any) -> tuple[str, str]:
    return create_queues(sqs, f"redrive-{next(_names)}")


def dead_letters(count: int) -> list[tuple[str, dict[str, Any]]]:
    """(body, attributes) pairs as the DLQ holds them: EventBridge events it could not deliver
    (with its error attributes) and plain completion messages from other producers."""
    letters: list[tuple[str, dict[str, Any]]] = []
    for i in range(count):
        if i % 2:
            body = json.dumps({"process_id": f"proc-{i}", "status": "completed"})
            letters.append((body, OWN_ATTRIBUTES))
        else:
            event = stripe_event("checkout.session.completed", f"proc-{i}")
            letters.append((json.dumps(event), ERROR_ATTRIBUTES))
    return letters


def fill(sqs: Any, dlq: str, letters: list[tuple[str, dict[str, Any]]]) -> None:
    for start in range(0, len(letters), 10):
        response = sqs.send_message_batch(
            QueueUrl=dlq,
            Entries=[
                {"Id": str(i), "MessageBody": body, "MessageAttributes": attributes}
                for i, (body, attributes) in enumerate(letters[start : start + 10])
            ],
        )
        assert not response.get("Failed")


def drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message of a queue (received and deleted)."""
    messages: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", []):
        messages += batch
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
            ],
        )
    return messages


def depth(sqs: Any, url: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def test_every_message_moves_unchanged_and_the_dlq_empties(
    sqs: Any, queues: tuple[str, str]
) -> None:
    dlq, queue = queues
    letters = dead_letters(25)  # three receive batches, the last one partial
    fill(sqs, dlq, letters)

    report = redrive(sqs, dlq, queue)

    assert report == RedriveReport(moved=25, failed=0)
    assert depth(sqs, dlq) == (0, 0)
    moved = drain(sqs, queue)
    assert sorted(m["Body"] for m in moved) == sorted(body for body, _ in letters)
    for message in moved:
        attributes = message.get("MessageAttributes", {})
        if "detail-type" in json.loads(message["Body"]):  # the EventBridge event
            assert attributes == {}
        else:
            assert attributes == OWN_ATTRIBUTES


def test_max_messages_moves_only_that_many(sqs: Any, queues: tuple[str, str]) -> None:
    dlq, queue = queues
    fill(sqs, dlq, dead_letters(25))

    assert redrive(sqs, dlq, queue, max_messages=12) == RedriveReport(moved=12, failed=0)
    assert depth(sqs, dlq) == (13, 0)
    assert len(drain(sqs, queue)) == 12


def test_a_failing_send_keeps_every_message_in_the_dlq(
    sqs: Any, endpoint: str, queues: tuple[str, str]
) -> None:
    dlq, _ = queues
    letters = dead_letters(15)
    fill(sqs, dlq, letters)
    missing = f"{endpoint}/{ACCOUNT}/no-such-queue"

    report = redrive(sqs, dlq, missing)

    assert report == RedriveReport(moved=0, failed=15)
    assert depth(sqs, dlq) == (15, 0)  # visible again straight away, not after a timeout
    left = drain(sqs, dlq)
    assert sorted(m["Body"] for m in left) == sorted(body for body, _ in letters)


class _RejectsOne:
    """The real client, except that SQS refuses one entry of a batch (as it may, e.g. a
    throttled or oversized entry): the others of the batch are really sent."""

    def __init__(self, sqs: Any, rejected_body: str) -> None:
        self._sqs, self._rejected = sqs, rejected_body

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sqs, name)

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> Any:
        accepted = [e for e in Entries if e["MessageBody"] != self._rejected]
        response = self._sqs.send_message_batch(QueueUrl=QueueUrl, Entries=accepted)
        response["Failed"] = [
            {"Id": e["Id"], "SenderFault": False, "Code": "InternalError", "Message": "try again"}
            for e in Entries
            if e["MessageBody"] == self._rejected
        ]
        return response


def test_a_rejected_entry_stays_and_its_batch_moves(sqs: Any, queues: tuple[str, str]) -> None:
    dlq, queue = queues
    letters = dead_letters(7)
    fill(sqs, dlq, letters)
    rejected = letters[3][0]

    report = redrive(_RejectsOne(sqs, rejected), dlq, queue)

    assert report == RedriveReport(moved=6, failed=1)
    assert [m["Body"] for m in drain(sqs, dlq)] == [rejected]
    assert sorted(m["Body"] for m in drain(sqs, queue)) == sorted(
        body for body, _ in letters if body != rejected
    )


def test_cli_on_the_local_stack(
    sqs: Any, endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--endpoint-url` alone: the queues of the stack the local stack registers."""
    with deployed(endpoint, LOCAL_STACK, stack_template()) as outputs:
        dlq, queue = outputs["DeadLetterQueueUrl"], outputs["CompletionQueueUrl"]
        letters = dead_letters(3)
        fill(sqs, dlq, letters)

        assert main(["redrive", "--dry-run", "--endpoint-url", endpoint]) == 0
        assert capsys.readouterr().out == f"3 message(s) waiting in {dlq}\n"
        assert depth(sqs, dlq) == (3, 0)
        assert depth(sqs, queue) == (0, 0)

        assert main(["redrive", "--endpoint-url", endpoint]) == 0
        assert capsys.readouterr().out == f"moved 3, failed 0: {dlq} -> {queue}\n"
        assert depth(sqs, dlq) == (0, 0)
        assert sorted(m["Body"] for m in drain(sqs, queue)) == sorted(b for b, _ in letters)


@dataclass(frozen=True)
class Deployed:
    name: str
    dlq: str
    queue: str


@pytest.fixture
def deployed_stack(endpoint: str) -> Iterator[Deployed]:
    name = f"landbot-resume-{next(_names)}"
    with deployed(endpoint, name, stack_template()) as outputs:
        yield Deployed(name, outputs["DeadLetterQueueUrl"], outputs["CompletionQueueUrl"])


@pytest.mark.usefixtures("aws_env")
def test_cli_on_a_deployed_stack(
    sqs: Any, endpoint: str, deployed_stack: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    dlq, queue = deployed_stack.dlq, deployed_stack.queue
    letters = dead_letters(11)
    fill(sqs, dlq, letters)
    args = [
        "redrive",
        "--stack",
        deployed_stack.name,
        "--region",
        REGION,
        "--endpoint-url",
        endpoint,
    ]

    assert main([*args, "--dry-run"]) == 0
    assert capsys.readouterr().out == f"11 message(s) waiting in {dlq}\n"
    assert depth(sqs, queue) == (0, 0)

    assert main(args) == 0
    assert capsys.readouterr().out == f"moved 11, failed 0: {dlq} -> {queue}\n"
    assert depth(sqs, dlq) == (0, 0)
    assert sorted(m["Body"] for m in drain(sqs, queue)) == sorted(body for body, _ in letters)


@pytest.mark.usefixtures("aws_env")
def test_cli_exits_1_and_keeps_the_messages_when_sending_fails(
    sqs: Any, endpoint: str, deployed_stack: Deployed, capsys: pytest.CaptureFixture[str]
) -> None:
    dlq, queue = deployed_stack.dlq, deployed_stack.queue
    fill(sqs, dlq, dead_letters(4))
    sqs.delete_queue(QueueUrl=queue)  # the stack's completion queue is gone: every send fails

    code = main(
        ["redrive", "--stack", deployed_stack.name, "--region", REGION, "--endpoint-url", endpoint]
    )

    assert code == 1
    assert capsys.readouterr().out.startswith("moved 0, failed 4: ")
    assert depth(sqs, dlq) == (4, 0)


def test_cli_reports_a_stack_without_the_outputs(
    endpoint: str, aws_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"no-outputs-{next(_names)}"
    with deployed(endpoint, name, stack_template(outputs=())):
        code = main(["redrive", "--stack", name, "--region", REGION, "--endpoint-url", endpoint])

    assert code == 2
    assert capsys.readouterr().err == (
        f"landbot-resume: stack {name} has no output {DLQ_OUTPUT}, CompletionQueueUrl\n"
    )
