"""The process store's contract: every case runs against the DynamoDB adapter (moto, the
table as template.yaml declares it) and against the in-memory fake the domain's tests use,
so that the fake behaves as the real store does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from landbot_resume.models import (
    APPENDS_BETWEEN_CLAIMS,
    MAX_HISTORY,
    HistoryEntry,
    LateOutcome,
    ProcessRequest,
    Source,
    Status,
    iso,
)
from landbot_resume.ports import ProcessStore, UnknownProcess
from landbot_resume.processes import create_process, request_fingerprint
from landbot_resume.store import DynamoDBProcessStore
from tests.fakes import InMemoryProcessStore

NOW = 1_795_000_000
REQUEST = ProcessRequest(bot_id=1, node_id="Nkqgn6xkf", customer_id=2, reference="order-1")


@pytest.fixture(params=["dynamodb", "in_memory"])
def store(request: pytest.FixtureRequest, store: DynamoDBProcessStore) -> ProcessStore:
    """Each implementation in turn (the argument is conftest's store: the DynamoDB one)."""
    return store if request.param == "dynamodb" else InMemoryProcessStore()


def start(store: ProcessStore, request: ProcessRequest = REQUEST, now: int = NOW) -> str:
    process, _ = create_process(request, store, now=now, ttl_seconds=3600, retry_window=120)
    return process.process_id


def claim(
    store: ProcessStore,
    process_id: str,
    *,
    now: int = NOW,
    outcome: str = "paid",
    claim_id: str = "c1",
    event_id: str | None = "evt_1",
) -> tuple[bool, Status]:
    result = store.claim(
        process_id,
        outcome=outcome,
        result={"k": 1},
        event_id=event_id,
        source=Source.STRIPE,
        claim_id=claim_id,
        now=now,
        lease_seconds=60,
    )
    return result.claimed, result.process.status


def test_a_new_process_is_stored_pending_with_its_expiry(store: ProcessStore) -> None:
    process, created = create_process(REQUEST, store, now=NOW, ttl_seconds=3600, retry_window=120)
    assert created
    stored = store.get(process.process_id)
    assert stored is not None
    assert stored.status == Status.PENDING
    assert (stored.bot_id, stored.node_id, stored.customer_id) == (1, "Nkqgn6xkf", 2)
    assert stored.expires_at == NOW + 3600
    assert stored.created_at == "2026-11-18T11:06:40Z"


def test_a_retried_request_gets_the_same_process(store: ProcessStore) -> None:
    first = start(store)
    again, created = create_process(REQUEST, store, now=NOW + 5, ttl_seconds=3600, retry_window=120)
    assert (again.process_id, created) == (first, False)


def test_a_different_request_gets_its_own_process(store: ProcessStore) -> None:
    other = REQUEST.model_copy(update={"reference": "order-2"})
    assert start(store) != start(store, other)


def test_after_the_retry_window_the_same_request_starts_anew(store: ProcessStore) -> None:
    first = start(store)
    assert start(store, now=NOW + 121) != first
    assert store.get(first) is not None


def test_the_retry_window_ends_after_exactly_its_seconds(store: ProcessStore) -> None:
    first = start(store)
    assert start(store, now=NOW + 119) == first
    assert start(store, now=NOW + 120) != first


def test_a_zero_retry_window_never_merges_requests(store: ProcessStore) -> None:
    first, _ = create_process(REQUEST, store, now=NOW, ttl_seconds=3600, retry_window=0)
    again, created = create_process(REQUEST, store, now=NOW, ttl_seconds=3600, retry_window=0)
    assert created and again.process_id != first.process_id


def test_unknown_ids_and_fingerprint_items_are_not_processes(store: ProcessStore) -> None:
    assert store.get("pr_" + "0" * 32) is None
    with pytest.raises(UnknownProcess):
        claim(store, "pr_" + "0" * 32)
    start(store)
    fingerprint_item = f"request#{request_fingerprint(REQUEST)}"
    assert store.get(fingerprint_item) is None
    with pytest.raises(UnknownProcess):
        claim(store, fingerprint_item)


def test_what_get_returns_is_a_copy(store: ProcessStore) -> None:
    process_id = start(store)
    read = store.get(process_id)
    assert read is not None
    read.status = Status.FAILED
    read.context["changed"] = True
    again = store.get(process_id)
    assert again is not None
    assert (again.status, again.context) == (Status.PENDING, {})


def test_only_one_claim_wins(store: ProcessStore) -> None:
    process_id = start(store)
    assert claim(store, process_id, claim_id="c1") == (True, Status.RESUMING)
    assert claim(store, process_id, claim_id="c2", now=NOW + 59) == (False, Status.RESUMING)


def test_a_lease_runs_out_after_its_last_second(store: ProcessStore) -> None:
    process_id = start(store)
    claim(store, process_id, claim_id="c1")
    assert claim(store, process_id, claim_id="c2", now=NOW + 60) == (False, Status.RESUMING)
    assert claim(store, process_id, claim_id="c2", now=NOW + 61) == (True, Status.RESUMING)


def test_a_claim_records_who_holds_it_until_when(store: ProcessStore) -> None:
    process_id = start(store)
    taken = store.claim(
        process_id,
        outcome="paid",
        result={"k": 1},
        event_id="evt_1",
        source=Source.STRIPE,
        claim_id="c1",
        now=NOW + 5,
        lease_seconds=60,
    )
    assert taken.claimed
    process = taken.process
    assert (process.claim_id, process.lease_until, process.attempts) == ("c1", NOW + 65, 1)
    assert (process.outcome, process.result, process.event_id) == ("paid", {"k": 1}, "evt_1")
    assert process.updated_at == iso(NOW + 5)
    assert store.get(process_id) == process


def test_an_expired_lease_can_be_taken_over_and_keeps_the_first_outcome(
    store: ProcessStore,
) -> None:
    process_id = start(store)
    claim(store, process_id, claim_id="c1", outcome="paid")
    taken = store.claim(
        process_id,
        outcome="expired",
        result={"other": 1},
        event_id="evt_2",
        source=Source.STRIPE,
        claim_id="c2",
        now=NOW + 61,
        lease_seconds=60,
    )
    assert taken.claimed
    assert (taken.process.outcome, taken.process.result) == ("paid", {"k": 1})
    assert (taken.process.event_id, taken.process.attempts) == ("evt_1", 2)


def test_a_first_claim_without_an_event_id_keeps_none(store: ProcessStore) -> None:
    process_id = start(store)
    claim(store, process_id, claim_id="c1", event_id=None)
    taken = store.claim(
        process_id,
        outcome="paid",
        result={},
        event_id="evt_2",
        source=Source.STRIPE,
        claim_id="c2",
        now=NOW + 61,
        lease_seconds=60,
    )
    assert taken.claimed and taken.process.event_id is None


def test_a_finished_process_is_never_claimed_again(store: ProcessStore) -> None:
    process_id = start(store)
    claim(store, process_id)
    store.mark_resumed(process_id, "c1", NOW)
    assert claim(store, process_id, claim_id="c2", now=NOW + 3600) == (False, Status.RESUMED)
    failed_id = start(store, REQUEST.model_copy(update={"reference": "order-2"}))
    claim(store, failed_id)
    store.mark_failed(failed_id, "c1", NOW, "assign_bot answered 404: Not found.")
    assert claim(store, failed_id, claim_id="c2", now=NOW + 3600) == (False, Status.FAILED)


def test_only_the_claim_holder_moves_the_process_on(store: ProcessStore) -> None:
    process_id = start(store)
    claim(store, process_id, claim_id="c1")
    claim(store, process_id, claim_id="c2", now=NOW + 61)
    with pytest.raises(Exception, match="ConditionalCheckFailed"):
        store.mark_resumed(process_id, "c1", NOW + 62)
    store.mark_failed(process_id, "c2", NOW + 62, "assign_bot answered 404: Not found.")
    stored = store.get(process_id)
    assert stored is not None
    assert (stored.status, stored.failure_reason) == (
        Status.FAILED,
        "assign_bot answered 404: Not found.",
    )
    assert stored.lease_until is None


MOVES: dict[str, Callable[[ProcessStore, str, str], None]] = {
    "mark_jumping": lambda store, pid, claim_id: store.mark_jumping(pid, claim_id, NOW + 1),
    "mark_resumed": lambda store, pid, claim_id: store.mark_resumed(pid, claim_id, NOW + 1),
    "release": lambda store, pid, claim_id: store.release(pid, claim_id, NOW + 1),
    "mark_failed": lambda store, pid, claim_id: store.mark_failed(pid, claim_id, NOW + 1, "x"),
}


@pytest.mark.parametrize("move", MOVES)
def test_a_move_without_the_claim_fails_like_a_failed_condition(
    store: ProcessStore, move: str
) -> None:
    pending = start(store)
    claimed = start(store, REQUEST.model_copy(update={"reference": "order-2"}))
    claim(store, claimed, claim_id="c1")
    for process_id, claim_id in ((pending, "c1"), (claimed, "c2"), ("pr_" + "0" * 32, "c1")):
        before = store.get(process_id)
        with pytest.raises(ClientError) as failed:
            MOVES[move](store, process_id, claim_id)
        assert failed.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
        assert store.get(process_id) == before


def test_the_field_and_the_jump_are_recorded_for_the_next_claim(store: ProcessStore) -> None:
    process_id = start(store)
    claim(store, process_id, claim_id="c1")
    store.mark_jumping(process_id, "c1", NOW)
    stored = store.get(process_id)
    assert stored is not None and (stored.field_set, stored.jump_pending) == (True, True)
    store.release(process_id, "c1", NOW)
    taken = store.claim(
        process_id,
        outcome="paid",
        result={},
        event_id=None,
        source=Source.STRIPE,
        claim_id="c2",
        now=NOW + 1,
        lease_seconds=60,
    )
    assert taken.claimed
    assert (taken.process.field_set, taken.process.jump_pending) == (True, False)


def test_a_released_claim_is_free_on_the_next_second(store: ProcessStore) -> None:
    process_id = start(store)
    claim(store, process_id, claim_id="c1")
    store.release(process_id, "c1", NOW)
    assert claim(store, process_id, claim_id="c2", now=NOW) == (False, Status.RESUMING)
    assert claim(store, process_id, claim_id="c2", now=NOW + 1) == (True, Status.RESUMING)


def test_a_failure_reason_is_kept_to_500_characters(store: ProcessStore) -> None:
    process_id = start(store)
    claim(store, process_id)
    store.mark_failed(process_id, "c1", NOW, "x" * 600)
    stored = store.get(process_id)
    assert stored is not None and stored.failure_reason == "x" * 500


# ----------------------------------------------------------------------------- history


def history(store: ProcessStore, process_id: str) -> list[tuple[Status, str, str | None]]:
    stored = store.get(process_id)
    assert stored is not None
    return [(entry.status, entry.cause, entry.reason) for entry in stored.history]


def test_every_move_is_in_the_history_with_its_cause_and_reason(store: ProcessStore) -> None:
    resumed = start(store)
    claim(store, resumed, event_id="evt_1")
    store.mark_jumping(resumed, "c1", NOW + 1)
    store.mark_resumed(resumed, "c1", NOW + 2)
    assert history(store, resumed) == [
        (Status.PENDING, "bot", None),
        (Status.RESUMING, "stripe evt_1", None),
        (Status.RESUMED, "resume", None),
    ]
    failed = start(store, REQUEST.model_copy(update={"reference": "order-2"}))
    claim(store, failed, event_id=None)
    claim(store, failed, claim_id="c2", now=NOW + 61, event_id="evt_2")
    store.mark_failed(failed, "c2", NOW + 62, "assign_bot answered 404: Not found.")
    assert history(store, failed) == [
        (Status.PENDING, "bot", None),
        (Status.RESUMING, "stripe", None),
        (Status.RESUMING, "stripe evt_2", "attempt 2: the last claim's lease ran out"),
        (Status.FAILED, "resume", "assign_bot answered 404: Not found."),
    ]
    stored = store.get(failed)
    assert stored is not None and stored.history[-1].at == iso(NOW + 62)


def test_the_history_keeps_its_first_entry_and_the_newest_up_to_its_bound(
    store: ProcessStore,
) -> None:
    """A process that fails and is retried over and over (an operator's loop), with lease
    takeovers in between, never holds more than MAX_HISTORY entries."""
    process_id = start(store)
    now = NOW
    for round_ in range(12):
        claim(store, process_id, claim_id=f"a{round_}", now=now)
        claim(store, process_id, claim_id=f"b{round_}", now=now + 61)
        store.mark_failed(process_id, f"b{round_}", now + 62, f"failure {round_}")
        store.retry(process_id, now=now + 63, due_at=now + 400, source=Source.OPERATOR, reason="r")
        stored = store.get(process_id)
        assert stored is not None and len(stored.history) <= MAX_HISTORY
        now += 100
    stored = store.get(process_id)
    assert stored is not None
    assert stored.history[0].cause == "bot"
    assert stored.history[-2].reason == "failure 11"
    assert len(stored.history) >= MAX_HISTORY - APPENDS_BETWEEN_CLAIMS


# ----------------------------------------------------------------------------- cancel


def test_cancel_ends_a_waiting_process_and_only_a_waiting_one(store: ProcessStore) -> None:
    process_id = start(store, timed(60))
    move = store.cancel(process_id, now=NOW + 5, source=Source.BOT)
    assert move.moved
    assert (move.process.status, move.process.due_at) == (Status.CANCELLED, None)
    assert move.process.history[-1] == HistoryEntry.of(NOW + 5, Status.CANCELLED, Source.BOT)
    assert store.get(process_id) == move.process
    again = store.cancel(process_id, now=NOW + 6, source=Source.OPERATOR)
    assert (again.moved, again.process) == (False, move.process)
    assert claim(store, process_id, now=NOW + 7) == (False, Status.CANCELLED)
    assert store.due(NOW + 3600, 10) == []

    resumed = start(store, REQUEST.model_copy(update={"reference": "order-2"}))
    claim(store, resumed)
    assert not store.cancel(resumed, now=NOW + 5, source=Source.BOT).moved
    store.mark_resumed(resumed, "c1", NOW + 6)
    refused = store.cancel(resumed, now=NOW + 7, source=Source.BOT)
    assert (refused.moved, refused.process.status) == (False, Status.RESUMED)
    with pytest.raises(UnknownProcess):
        store.cancel("pr_" + "0" * 32, now=NOW, source=Source.BOT)


# ----------------------------------------------------------------------------- operators


def test_an_outcome_set_by_an_operator_is_what_any_claim_resumes_with(
    store: ProcessStore,
) -> None:
    process_id = start(store)
    move = store.set_outcome(
        process_id,
        outcome="cancelled",
        node_id="Napology",
        now=NOW + 5,
        due_at=NOW + 305,
        source=Source.OPERATOR,
        reason="called off",
    )
    assert move.moved and move.process.status is Status.PENDING
    assert (move.process.outcome, move.process.resume_node_id) == ("cancelled", "Napology")
    assert (move.process.outcome_source, move.process.due_at) == (Source.OPERATOR, NOW + 305)
    assert move.process.history[-1].reason == "called off"
    again = store.set_outcome(
        process_id,
        outcome="other",
        node_id="Nother",
        now=NOW + 6,
        due_at=NOW + 306,
        source=Source.OPERATOR,
        reason="again",
    )
    assert not again.moved and again.process.outcome == "cancelled"
    taken = store.claim(
        process_id,
        outcome="timeout",
        result={"x": 1},
        event_id=None,
        source=Source.TIMEOUT,
        claim_id="c1",
        now=NOW + 305,
        lease_seconds=60,
    )
    assert taken.claimed
    assert (taken.process.outcome, taken.process.result) == ("cancelled", {})
    assert (taken.process.outcome_source, taken.process.due_at) == (Source.OPERATOR, None)
    assert taken.process.jump_node() == "Napology"


def test_a_retry_moves_a_failed_process_back_with_its_outcome(store: ProcessStore) -> None:
    process_id = start(store)
    claim(store, process_id, event_id="evt_1")
    store.mark_jumping(process_id, "c1", NOW + 1)
    store.mark_failed(process_id, "c1", NOW + 2, "assign_bot unconfirmed: timed out")
    assert not store.retry(
        start(store, REQUEST.model_copy(update={"reference": "order-2"})),
        now=NOW,
        due_at=NOW,
        source=Source.OPERATOR,
        reason="r",
    ).moved
    move = store.retry(
        process_id, now=NOW + 10, due_at=NOW + 310, source=Source.OPERATOR, reason="retry"
    )
    assert move.moved
    process = move.process
    assert (process.status, process.failure_reason, process.claim_id) == (
        Status.PENDING,
        None,
        None,
    )
    assert (process.jump_pending, process.field_set, process.due_at) == (False, True, NOW + 310)
    assert (process.outcome, process.event_id, process.result) == ("paid", "evt_1", {"k": 1})
    assert process.history[-1] == HistoryEntry.of(
        NOW + 10, Status.PENDING, Source.OPERATOR, reason="retry"
    )
    assert not store.retry(
        process_id, now=NOW + 11, due_at=NOW, source=Source.OPERATOR, reason="r"
    ).moved
    assert claim(store, process_id, outcome="expired", claim_id="c2", now=NOW + 12) == (
        True,
        Status.RESUMING,
    )
    stored = store.get(process_id)
    assert stored is not None and stored.outcome == "paid"


def test_a_late_outcome_is_kept_once_on_a_process_in_the_status_seen(
    store: ProcessStore,
) -> None:
    process_id = start(store)
    store.cancel(process_id, now=NOW + 1, source=Source.BOT)
    late = LateOutcome(outcome="paid", event_id="evt_9", source=Source.STRIPE, at=iso(NOW + 2))
    assert not store.record_late_outcome(process_id, late, status=Status.RESUMED, now=NOW + 2)
    assert store.record_late_outcome(process_id, late, status=Status.CANCELLED, now=NOW + 2)
    other = late.model_copy(update={"event_id": "evt_10"})
    assert not store.record_late_outcome(process_id, other, status=Status.CANCELLED, now=NOW + 3)
    stored = store.get(process_id)
    assert stored is not None and stored.late_outcome == late
    assert stored.status is Status.CANCELLED
    assert history(store, process_id)[-1] == (
        Status.CANCELLED,
        "stripe evt_9",
        "late outcome paid: recorded, not replayed",
    )


# ----------------------------------------------------------------------------- deadlines


def timed(seconds: int, reference: str = "timed") -> ProcessRequest:
    return REQUEST.model_copy(update={"timeout_seconds": seconds, "reference": reference})


def test_waits_with_a_deadline_are_due_from_it_the_most_overdue_first(
    store: ProcessStore,
) -> None:
    later = start(store, timed(120, "later"))
    sooner = start(store, timed(60, "sooner"))
    start(store, REQUEST.model_copy(update={"reference": "never"}))
    assert store.due(NOW + 59, 10) == []
    assert store.due(NOW + 60, 10) == [(sooner, NOW + 60)]
    assert store.due(NOW + 500, 10) == [(sooner, NOW + 60), (later, NOW + 120)]
    assert store.due(NOW + 500, 1) == [(sooner, NOW + 60)]
    stored = store.get(sooner)
    assert stored is not None
    assert (stored.timeout_at, stored.timeout_node_id) == (iso(NOW + 60), REQUEST.node_id)


def test_a_postponed_deadline_is_due_again_later(store: ProcessStore) -> None:
    process_id = start(store, timed(60))
    assert not store.postpone(process_id, NOW + 59, until=NOW + 360)
    assert store.postpone(process_id, NOW + 60, until=NOW + 360)
    assert not store.postpone(process_id, NOW + 60, until=NOW + 660)  # another sweep did
    assert store.due(NOW + 359, 10) == []
    assert store.due(NOW + 360, 10) == [(process_id, NOW + 360)]
    assert not store.postpone("pr_" + "0" * 32, NOW + 60, until=NOW + 360)


def test_a_claimed_wait_is_no_longer_due(store: ProcessStore) -> None:
    process_id = start(store, timed(60))
    claim(store, process_id, now=NOW + 30)
    assert store.due(NOW + 3600, 10) == []
    assert not store.postpone(process_id, NOW + 60, until=NOW + 360)
    stored = store.get(process_id)
    assert stored is not None and stored.due_at is None and stored.timeout_at == iso(NOW + 60)


def test_a_claim_that_loses_a_race_judges_what_won(
    store: ProcessStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the claim's read and its write, the bot cancels the process: the write's
    condition fails, and the claim answers the cancelled process, unclaimed."""
    process_id = start(store)
    if isinstance(store, DynamoDBProcessStore):
        client: Any = store._client
        real = client.update_item
        raced = []

        def racing(**kwargs: Any) -> Any:
            if not raced:
                raced.append(True)
                store.cancel(process_id, now=NOW + 1, source=Source.BOT)
            return real(**kwargs)

        monkeypatch.setattr(client, "update_item", racing)
    else:
        store.cancel(process_id, now=NOW + 1, source=Source.BOT)
    assert claim(store, process_id, now=NOW + 2) == (False, Status.CANCELLED)
    assert [status for status, _, _ in history(store, process_id)] == [
        Status.PENDING,
        Status.CANCELLED,
    ]
