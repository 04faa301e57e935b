"""Calling a wait off, and an operator's retry and resume-at: the moves they make and the
messages they send, on the in-memory store (test_store.py keeps it honest)."""

from __future__ import annotations

import pytest

from landbot_resume import operations
from landbot_resume.events import completion_from_message
from landbot_resume.models import ProcessRequest, Source, Status
from landbot_resume.ports import ProcessStore, UnknownProcess
from landbot_resume.processes import create_process
from landbot_resume.resume import ResumeResult, resume_process
from landbot_resume.timeouts import REFIRE_SECONDS
from tests.fakes import FakeCompletionQueue, FakeLandbot, InMemoryProcessStore

NOW = 1_795_000_000
UNKNOWN = "pr_" + "0" * 32


@pytest.fixture
def store() -> ProcessStore:
    return InMemoryProcessStore()


@pytest.fixture
def queue() -> FakeCompletionQueue:
    return FakeCompletionQueue()


def start(store: ProcessStore) -> str:
    request = ProcessRequest(bot_id=1, node_id="Nwait", customer_id=2)
    process, _ = create_process(request, store, now=NOW, ttl_seconds=3600, retry_window=0)
    return process.process_id


def failed(store: ProcessStore, reason: str) -> str:
    process_id = start(store)
    store.claim(
        process_id,
        outcome="paid",
        result={"amount": 100},
        event_id="evt_1",
        source=Source.STRIPE,
        claim_id="c1",
        now=NOW,
        lease_seconds=60,
    )
    store.mark_jumping(process_id, "c1", NOW)
    store.mark_failed(process_id, "c1", NOW, reason)
    return process_id


def deliver(store: ProcessStore, queue: FakeCompletionQueue, landbot: FakeLandbot) -> ResumeResult:
    """What the resume function does with the last message sent."""
    completion = completion_from_message(queue.sent[-1].model_dump_json(exclude_none=True))
    assert completion is not None
    return resume_process(completion, store, landbot, now=NOW + 20)


def test_cancel_is_idempotent_and_refuses_what_moved_on(store: ProcessStore) -> None:
    process_id = start(store)
    move = operations.cancel(store, process_id, now=NOW + 1, source=Source.BOT)
    assert move.moved and move.process.status is Status.CANCELLED
    again = operations.cancel(store, process_id, now=NOW + 2, source=Source.BOT)
    assert (again.moved, again.process.status) == (False, Status.CANCELLED)
    with pytest.raises(operations.NotAllowed, match="already ended FAILED"):
        operations.cancel(store, failed(store, "x"), now=NOW + 3, source=Source.BOT)
    with pytest.raises(UnknownProcess):
        operations.cancel(store, UNKNOWN, now=NOW, source=Source.BOT)


def test_a_retry_delivers_the_recorded_outcome_through_the_queue(
    store: ProcessStore, queue: FakeCompletionQueue, landbot: FakeLandbot
) -> None:
    process_id = failed(store, "assign_bot answered 412: customer blocked")
    process = operations.retry(store, queue, process_id, now=NOW + 10, force=False)
    assert (process.status, process.due_at) == (Status.PENDING, NOW + 10 + REFIRE_SECONDS)
    (message,) = queue.sent
    assert (message.status, message.event_id, message.sent_by) == ("paid", "evt_1", "operator")
    assert deliver(store, queue, landbot) == ResumeResult.RESUMED
    # The field was set before the failure: only the jump is sent again.
    assert [name for name, _ in landbot.calls] == ["assign_bot"]
    stored = store.get(process_id)
    assert stored is not None
    assert [(entry.status, entry.cause) for entry in stored.history[-3:]] == [
        (Status.PENDING, "operator"),
        (Status.RESUMING, "operator evt_1"),
        (Status.RESUMED, "resume"),
    ]


def test_an_unconfirmed_jump_is_retried_only_when_forced(
    store: ProcessStore, queue: FakeCompletionQueue, landbot: FakeLandbot
) -> None:
    process_id = failed(store, "assign_bot unconfirmed: assign_bot timed out")
    with pytest.raises(operations.NotAllowed, match="--force"):
        operations.retry(store, queue, process_id, now=NOW + 10, force=False)
    assert queue.sent == []
    stored = store.get(process_id)
    assert stored is not None and stored.status is Status.FAILED
    operations.retry(store, queue, process_id, now=NOW + 10, force=True)
    assert deliver(store, queue, landbot) == ResumeResult.RESUMED
    assert [name for name, _ in landbot.calls] == ["assign_bot"]


def test_a_retry_whose_message_was_lost_is_sent_again(
    store: ProcessStore, queue: FakeCompletionQueue
) -> None:
    process_id = failed(store, "set field answered 422: bad value")
    queue.refuse = True
    with pytest.raises(operations.NotDelivered):
        operations.retry(store, queue, process_id, now=NOW + 10, force=False)
    queue.refuse = False
    process = operations.retry(store, queue, process_id, now=NOW + 11, force=False)
    assert process.status is Status.PENDING and len(queue.sent) == 1


def test_only_a_failed_process_is_retried(store: ProcessStore, queue: FakeCompletionQueue) -> None:
    with pytest.raises(operations.NotAllowed, match="it is PENDING"):
        operations.retry(store, queue, start(store), now=NOW, force=False)
    with pytest.raises(UnknownProcess):
        operations.retry(store, queue, UNKNOWN, now=NOW, force=False)
    assert queue.sent == []


def test_resume_at_calls_the_wait_off_at_the_operators_block(
    store: ProcessStore, queue: FakeCompletionQueue, landbot: FakeLandbot
) -> None:
    process_id = start(store)
    operations.resume_at(
        store, queue, process_id, node_id="Napology", outcome="cancelled", now=NOW + 5
    )
    assert deliver(store, queue, landbot) == ResumeResult.RESUMED
    (set_field, jump) = landbot.calls
    assert set_field[1][2]["status"] == "cancelled"
    assert jump[1][2] == "Napology"
    stored = store.get(process_id)
    assert stored is not None
    assert (stored.status, stored.outcome_source) == (Status.RESUMED, Source.OPERATOR)
    with pytest.raises(operations.NotAllowed, match="it is RESUMED"):
        operations.resume_at(store, queue, process_id, node_id="N", outcome="x", now=NOW + 30)


def test_resume_at_refuses_a_wait_being_delivered_its_own_outcome(
    store: ProcessStore, queue: FakeCompletionQueue
) -> None:
    process_id = failed(store, "assign_bot answered 412: customer blocked")
    queue.refuse = True
    with pytest.raises(operations.NotDelivered):
        operations.retry(store, queue, process_id, now=NOW + 10, force=False)
    with pytest.raises(operations.NotAllowed, match="outcome paid already"):
        operations.resume_at(store, queue, process_id, node_id="N", outcome="x", now=NOW + 11)
