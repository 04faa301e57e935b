from __future__ import annotations

import pytest

from landbot_resume.models import ProcessRequest, Status
from landbot_resume.processes import create_process
from landbot_resume.store import ProcessStore, UnknownProcess

NOW = 1_795_000_000
REQUEST = ProcessRequest(bot_id=1, node_id="Nkqgn6xkf", customer_id=2, reference="order-1")


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
) -> tuple[bool, Status]:
    result = store.claim(
        process_id,
        outcome=outcome,
        result={"k": 1},
        event_id="evt_1",
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


def test_unknown_ids_and_fingerprint_items_are_not_processes(store: ProcessStore) -> None:
    assert store.get("pr_" + "0" * 32) is None
    with pytest.raises(UnknownProcess):
        claim(store, "pr_" + "0" * 32)


def test_only_one_claim_wins(store: ProcessStore) -> None:
    process_id = start(store)
    assert claim(store, process_id, claim_id="c1") == (True, Status.RESUMING)
    assert claim(store, process_id, claim_id="c2", now=NOW + 59) == (False, Status.RESUMING)


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


def test_a_finished_process_is_never_claimed_again(store: ProcessStore) -> None:
    process_id = start(store)
    claim(store, process_id)
    store.mark_resumed(process_id, "c1", NOW)
    assert claim(store, process_id, claim_id="c2", now=NOW + 3600) == (False, Status.RESUMED)


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


def test_a_released_claim_is_free_on_the_next_second(store: ProcessStore) -> None:
    process_id = start(store)
    claim(store, process_id, claim_id="c1")
    store.release(process_id, "c1", NOW)
    assert claim(store, process_id, claim_id="c2", now=NOW) == (False, Status.RESUMING)
    assert claim(store, process_id, claim_id="c2", now=NOW + 1) == (True, Status.RESUMING)


def test_a_zero_retry_window_never_merges_requests(store: ProcessStore) -> None:
    first, _ = create_process(REQUEST, store, now=NOW, ttl_seconds=3600, retry_window=0)
    again, created = create_process(REQUEST, store, now=NOW, ttl_seconds=3600, retry_window=0)
    assert created and again.process_id != first.process_id
