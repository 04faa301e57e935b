"""The process store's contract: every case runs against the DynamoDB adapter (moto, the
table as template.yaml declares it) and against the in-memory fake the domain's tests use,
so that the fake behaves as the real store does."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from botocore.exceptions import ClientError

from landbot_resume.models import ProcessRequest, Status, iso
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
