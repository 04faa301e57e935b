"""The resume handler's records that must come back later: when, and how they are counted.

On moto (a real queue, so every visibility change is one SQS accepts) with the fake Landbot:
a completion held while Landbot refuses the token, one kept out by another delivery's claim,
and the owner's choice for unconfirmed jumps.
"""

from __future__ import annotations

import importlib
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import boto3
import pytest

from devstack.lambdas import LambdaContext
from landbot_resume.models import ProcessRequest, Source, Status
from landbot_resume.ports import LandbotError, LandbotRefusedToken
from landbot_resume.processes import create_process
from landbot_resume.settings import ResumeSettings
from landbot_resume.store import DynamoDBProcessStore
from landbot_resume.token_gate import TokenGate
from tests.fakes import FakeLandbot

RETRY_SECONDS = 30


@dataclass
class Handler:
    module: ModuleType
    sqs: Any
    queue_url: str
    rescheduled: list[int]  # every VisibilityTimeout the handler set

    def deliver(self, *bodies: dict[str, Any], receives: int = 1) -> list[dict[str, Any]]:
        """The records of messages on their `receives`-th receive, as Lambda hands them over."""
        for body in bodies:
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(body))
        for receive in range(1, receives + 1):
            messages = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                AttributeNames=["All"],
                MaxNumberOfMessages=10,
                VisibilityTimeout=0 if receive < receives else 180,
            )["Messages"]
        assert len(messages) == len(bodies)
        assert {m["Attributes"]["ApproximateReceiveCount"] for m in messages} == {str(receives)}
        return [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message["Attributes"],
                "messageAttributes": {},
                "eventSource": "aws:sqs",
            }
            for message in messages
        ]

    def invoke(self, *records: dict[str, Any], timeout: float = 30.0) -> set[str]:
        context = LambdaContext(function_name="ResumeFunction", timeout=timeout)
        context._deadline = time.monotonic() + timeout
        response = self.module.handler({"Records": list(records)}, context)
        return {failure["itemIdentifier"] for failure in response["batchItemFailures"]}

    def visible(self) -> int:
        """Messages a receive would get now."""
        return len(self.sqs.receive_message(QueueUrl=self.queue_url).get("Messages", []))


@pytest.fixture
def handler(
    monkeypatch: pytest.MonkeyPatch, store: DynamoDBProcessStore, landbot: FakeLandbot
) -> Iterator[Handler]:
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="completions")["QueueUrl"]
    environment = {
        "PROCESSES_TABLE": store.table_name,
        "LANDBOT_TOKEN_SECRET": "unused",
        "LANDBOT_RATE_LIMIT": "0",
        "COMPLETION_QUEUE_URL": queue_url,
        "LANDBOT_AUTH_RETRY_SECONDS": str(RETRY_SECONDS),
        "POWERTOOLS_SERVICE_NAME": "landbot-resume",
        "POWERTOOLS_METRICS_NAMESPACE": "LandbotResume",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    module = importlib.import_module("resume_app")
    monkeypatch.setattr(module, "settings", ResumeSettings.from_environ(environment))
    monkeypatch.setattr(module, "store", store)
    monkeypatch.setattr(module, "landbot", landbot)
    monkeypatch.setattr(module, "gate", TokenGate(RETRY_SECONDS))
    monkeypatch.setattr(module, "_sqs", sqs)
    rescheduled: list[int] = []
    sqs.meta.events.register(
        "provide-client-params.sqs.ChangeMessageVisibility",
        lambda params, **_: rescheduled.append(params["VisibilityTimeout"]),
    )
    yield Handler(module, sqs, queue_url, rescheduled)


def waiting_process(store: DynamoDBProcessStore, customer_id: int = 42) -> str:
    request = ProcessRequest(bot_id=7, node_id="Nresume", customer_id=customer_id)
    process, _ = create_process(
        request, store, now=int(time.time()), ttl_seconds=3600, retry_window=0
    )
    return process.process_id


def paid(process_id: str) -> dict[str, Any]:
    return {"process_id": process_id, "status": "paid", "event_id": "evt_1"}


def emitted(output: str) -> set[str]:
    """The names of the metrics flushed to stdout (Embedded Metric Format)."""
    metrics: set[str] = set()
    for line in output.splitlines():
        data = json.loads(line) if line.startswith("{") else {}
        for directive in data.get("_aws", {}).get("CloudWatchMetrics", []):
            metrics |= {metric["Name"] for metric in directive["Metrics"]}
    return metrics


@pytest.mark.parametrize(("receives", "seconds"), [(1, 30), (3, 120), (5, 300)])
def test_a_refused_token_holds_the_record_with_a_backoff(
    handler: Handler,
    store: DynamoDBProcessStore,
    landbot: FakeLandbot,
    capsys: pytest.CaptureFixture[str],
    receives: int,
    seconds: int,
) -> None:
    process_id = waiting_process(store)
    landbot.fail_next("set_field", LandbotRefusedToken("set field", "answered 401: Invalid token."))
    (record,) = handler.deliver(paid(process_id), receives=receives)
    assert handler.invoke(record) == {record["messageId"]}
    assert handler.rescheduled == [seconds]
    assert handler.visible() == 0
    process = store.get(process_id)
    assert process is not None and process.status == Status.RESUMING
    assert process.failure_reason is None
    metrics = emitted(capsys.readouterr().out)
    assert "LandbotAuthFailures" in metrics and "CompletionErrors" not in metrics


def test_while_the_token_is_refused_records_are_held_without_a_claim_or_a_call(
    handler: Handler,
    store: DynamoDBProcessStore,
    landbot: FakeLandbot,
    capsys: pytest.CaptureFixture[str],
) -> None:
    handler.module.gate.refused()  # another record of this container was just refused
    process_ids = [waiting_process(store, customer) for customer in (1, 2)]
    records = handler.deliver(*(paid(process_id) for process_id in process_ids))
    assert handler.invoke(*records) == {record["messageId"] for record in records}
    assert handler.rescheduled == [RETRY_SECONDS, RETRY_SECONDS]
    assert landbot.calls == []
    for process_id in process_ids:
        process = store.get(process_id)
        assert process is not None and (process.status, process.attempts) == (Status.PENDING, 0)
    metrics = emitted(capsys.readouterr().out)
    assert "LandbotAuthFailures" in metrics


def test_a_record_another_delivery_is_working_on_comes_back_after_its_lease(
    handler: Handler,
    store: DynamoDBProcessStore,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    process_id = waiting_process(store)
    now = int(time.time())
    store.claim(
        process_id,
        outcome="paid",
        result={},
        event_id="evt_1",
        source=Source.STRIPE,
        claim_id="the other delivery",
        now=now,
        lease_seconds=60,
    )
    (record,) = handler.deliver(paid(process_id))
    assert handler.invoke(record) == {record["messageId"]}
    (seconds,) = handler.rescheduled
    assert 60 <= seconds <= 62 + 1  # the lease's end and a little, not the 180 s timeout
    metrics = emitted(capsys.readouterr().out)
    assert "ConcurrentDeliveries" in metrics and "CompletionErrors" not in metrics
    # Routine with an at-least-once queue: nothing for anyone to look at.
    assert [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno > logging.INFO] == []
    assert any("another delivery" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("timeout", [10.0, 30.0])
def test_a_claim_lasts_until_the_invocation_ends_not_longer(
    handler: Handler,
    store: DynamoDBProcessStore,
    landbot: FakeLandbot,
    monkeypatch: pytest.MonkeyPatch,
    timeout: float,
) -> None:
    # A concurrent duplicate waits for the lease: no longer than the claim's holder can live.
    process_id = waiting_process(store)
    leases: list[int] = []
    set_field = landbot.set_field

    def seen_while_claimed(customer_id: int, field: str, value: dict[str, Any]) -> None:
        process = store.get(process_id)
        assert process is not None and process.lease_until is not None
        leases.append(process.lease_until - int(time.time()))
        set_field(customer_id, field, value)

    monkeypatch.setattr(landbot, "set_field", seen_while_claimed)
    assert handler.invoke(*handler.deliver(paid(process_id)), timeout=timeout) == set()
    (lease,) = leases
    assert timeout - 3 <= lease <= timeout + 2  # a loaded machine may take a second or two


@pytest.mark.parametrize(("policy", "status"), [("fail", Status.FAILED), ("resend", None)])
def test_an_unconfirmed_jump_follows_the_owners_choice(
    handler: Handler,
    store: DynamoDBProcessStore,
    landbot: FakeLandbot,
    monkeypatch: pytest.MonkeyPatch,
    policy: str,
    status: Status | None,
) -> None:
    chosen = handler.module.settings.model_copy(update={"unconfirmed_jumps": policy})
    monkeypatch.setattr(handler.module, "settings", chosen)
    process_id = waiting_process(store)
    landbot.fail_next(
        "assign_bot", LandbotError("assign_bot", "timed out", retryable=True, ambiguous=True)
    )
    (record,) = handler.deliver(paid(process_id))
    handed_back = handler.invoke(record)
    process = store.get(process_id)
    assert process is not None
    if policy == "fail":
        assert handed_back == set() and process.status == Status.FAILED
        return
    # Handed back with its claim released: the next delivery sends the jump again.
    assert handed_back == {record["messageId"]} and process.status == Status.RESUMING
    time.sleep(1.1)  # a released claim is free from the next second on
    assert handler.invoke(*handler.deliver(paid(process_id))) == set()
    resumed = store.get(process_id)
    assert resumed is not None and resumed.status == Status.RESUMED
    assert [name for name, _ in landbot.calls] == ["set_field", "assign_bot"]
