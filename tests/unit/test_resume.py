from __future__ import annotations

import pytest

from landbot_resume.models import Completion, ProcessRequest, Source, Status
from landbot_resume.ports import LandbotError, LandbotRefusedToken, ProcessStore, UnknownProcess
from landbot_resume.processes import create_process
from landbot_resume.resume import (
    MAX_HELD_SECONDS,
    ProcessBusy,
    ResumeResult,
    held_seconds,
    resume_process,
)
from tests.fakes import FakeLandbot, InMemoryProcessStore

NOW = 1_795_000_000
REQUEST = ProcessRequest(
    bot_id=1010178, node_id="Nkqgn6xkf", customer_id=42, field="payment", reference="order-7"
)


@pytest.fixture
def store() -> ProcessStore:
    """The domain alone: the store is the in-memory fake (test_store.py keeps it honest)."""
    return InMemoryProcessStore()


@pytest.fixture
def process_id(store: ProcessStore) -> str:
    process, _ = create_process(REQUEST, store, now=NOW, ttl_seconds=3600, retry_window=120)
    return process.process_id


def paid(process_id: str, event_id: str = "evt_1") -> Completion:
    return Completion(
        process_id=process_id,
        outcome="paid",
        event_id=event_id,
        data={"amount_total": 4900, "currency": "eur"},
    )


def claimed_by_another_delivery(store: ProcessStore, process_id: str, claim_id: str) -> None:
    store.claim(
        process_id,
        outcome="paid",
        result={},
        event_id="evt_1",
        source=Source.STRIPE,
        claim_id=claim_id,
        now=NOW,
        lease_seconds=60,
    )


def test_set_then_go_with_the_outcome(
    store: ProcessStore, landbot: FakeLandbot, process_id: str
) -> None:
    assert resume_process(paid(process_id), store, landbot, now=NOW) == ResumeResult.RESUMED
    assert landbot.calls == [
        (
            "set_field",
            (
                42,
                "payment",
                {
                    "amount_total": 4900,
                    "currency": "eur",
                    "status": "paid",
                    "process_id": process_id,
                    "reference": "order-7",
                },
            ),
        ),
        ("assign_bot", (42, 1010178, "Nkqgn6xkf")),
    ]
    stored = store.get(process_id)
    assert stored is not None
    assert (stored.status, stored.outcome, stored.field_set) == (Status.RESUMED, "paid", True)


def test_a_duplicate_or_late_event_resumes_nothing(
    store: ProcessStore, landbot: FakeLandbot, process_id: str
) -> None:
    resume_process(paid(process_id), store, landbot, now=NOW)
    late = Completion(process_id=process_id, outcome="expired", event_id="evt_2")
    assert resume_process(paid(process_id), store, landbot, now=NOW + 1) == ResumeResult.DUPLICATE
    assert resume_process(late, store, landbot, now=NOW + 2) == ResumeResult.DUPLICATE
    assert [name for name, _ in landbot.calls] == ["set_field", "assign_bot"]


def test_a_permanent_landbot_error_fails_the_process_with_its_reason(
    store: ProcessStore, landbot: FakeLandbot, process_id: str
) -> None:
    landbot.fail_next(
        "assign_bot",
        LandbotError("assign_bot", "answered 412: customer blocked", status=412, retryable=False),
    )
    assert resume_process(paid(process_id), store, landbot, now=NOW) == ResumeResult.FAILED
    stored = store.get(process_id)
    assert stored is not None
    assert stored.status == Status.FAILED
    assert stored.failure_reason == "assign_bot answered 412: customer blocked"
    assert resume_process(paid(process_id), store, landbot, now=NOW + 1) == ResumeResult.DUPLICATE


def test_a_retry_after_a_transient_error_does_not_set_the_field_twice(
    store: ProcessStore, landbot: FakeLandbot, process_id: str
) -> None:
    landbot.fail_next(
        "assign_bot", LandbotError("assign_bot", "answered 503", status=503, retryable=True)
    )
    with pytest.raises(LandbotError):
        resume_process(paid(process_id), store, landbot, now=NOW)
    stored = store.get(process_id)
    assert stored is not None and stored.status == Status.RESUMING and stored.field_set
    assert resume_process(paid(process_id), store, landbot, now=NOW + 1) == ResumeResult.RESUMED
    assert [name for name, _ in landbot.calls] == ["set_field", "assign_bot"]


def test_a_live_claim_makes_other_deliveries_wait_until_its_lease_ends(
    store: ProcessStore, landbot: FakeLandbot, process_id: str
) -> None:
    claimed_by_another_delivery(store, process_id, "other")
    with pytest.raises(ProcessBusy) as busy:
        resume_process(paid(process_id), store, landbot, now=NOW + 1)
    assert (busy.value.process_id, busy.value.lease_until) == (process_id, NOW + 60)
    assert landbot.calls == []


def test_an_outcome_for_an_unknown_process_is_not_swallowed(
    store: ProcessStore, landbot: FakeLandbot
) -> None:
    with pytest.raises(UnknownProcess):
        resume_process(paid("pr_" + "f" * 32), store, landbot, now=NOW)
    assert landbot.calls == []


def test_an_unconfirmed_jump_is_never_sent_twice(
    store: ProcessStore, landbot: FakeLandbot, process_id: str
) -> None:
    landbot.fail_next(
        "assign_bot", LandbotError("assign_bot", "timed out", retryable=True, ambiguous=True)
    )
    assert resume_process(paid(process_id), store, landbot, now=NOW) == ResumeResult.FAILED
    stored = store.get(process_id)
    assert stored is not None
    assert stored.failure_reason == "assign_bot unconfirmed: assign_bot timed out"
    assert resume_process(paid(process_id), store, landbot, now=NOW + 99) == ResumeResult.DUPLICATE
    assert [name for name, _ in landbot.calls] == ["set_field"]


def test_a_retry_after_a_crash_mid_jump_does_not_jump_again(
    store: ProcessStore, landbot: FakeLandbot, process_id: str
) -> None:
    # A first delivery claimed the process, set the field, was about to jump, then died.
    claimed_by_another_delivery(store, process_id, "dead")
    store.mark_jumping(process_id, "dead", NOW)
    with pytest.raises(ProcessBusy):
        resume_process(paid(process_id), store, landbot, now=NOW + 30)
    assert resume_process(paid(process_id), store, landbot, now=NOW + 61) == ResumeResult.FAILED
    stored = store.get(process_id)
    assert stored is not None and stored.failure_reason is not None
    assert stored.failure_reason.startswith("assign_bot unconfirmed")
    assert landbot.calls == []


def test_an_unanswered_field_write_is_simply_written_again(
    store: ProcessStore, landbot: FakeLandbot, process_id: str
) -> None:
    landbot.fail_next(
        "set_field", LandbotError("set field", "timed out", retryable=True, ambiguous=True)
    )
    with pytest.raises(LandbotError):
        resume_process(paid(process_id), store, landbot, now=NOW)
    assert resume_process(paid(process_id), store, landbot, now=NOW + 1) == ResumeResult.RESUMED
    assert [name for name, _ in landbot.calls] == ["set_field", "assign_bot"]


def refused(operation: str, status: int = 401) -> LandbotRefusedToken:
    return LandbotRefusedToken(operation, f"answered {status}: Invalid token.", status=status)


def test_a_refused_token_holds_the_process_instead_of_failing_it(
    store: ProcessStore, landbot: FakeLandbot, process_id: str
) -> None:
    landbot.fail_next("set_field", refused("set field"))
    assert resume_process(paid(process_id), store, landbot, now=NOW) == ResumeResult.HELD
    held = store.get(process_id)
    assert held is not None
    assert (held.status, held.failure_reason, held.lease_until) == (Status.RESUMING, None, NOW)
    # Once the token is right, the next delivery resumes it like any other.
    assert resume_process(paid(process_id), store, landbot, now=NOW + 1) == ResumeResult.RESUMED
    assert [name for name, _ in landbot.calls] == ["set_field", "assign_bot"]


def test_a_refused_jump_is_sent_once_the_token_is_right(
    store: ProcessStore, landbot: FakeLandbot, process_id: str
) -> None:
    """A 401 or 403 surely moved nobody: the jump is no unconfirmed one."""
    landbot.fail_next("assign_bot", refused("assign_bot", 403))
    assert resume_process(paid(process_id), store, landbot, now=NOW) == ResumeResult.HELD
    held = store.get(process_id)
    assert held is not None and held.field_set and not held.jump_pending
    assert resume_process(paid(process_id), store, landbot, now=NOW + 1) == ResumeResult.RESUMED
    assert [name for name, _ in landbot.calls] == ["set_field", "assign_bot"]


def test_a_process_stays_held_for_as_long_as_the_token_is_refused(
    store: ProcessStore, landbot: FakeLandbot, process_id: str
) -> None:
    for delivery in range(5):
        landbot.fail_next("set_field", refused("set field"))
        result = resume_process(paid(process_id), store, landbot, now=NOW + delivery)
        assert result == ResumeResult.HELD
    held = store.get(process_id)
    assert held is not None and held.status == Status.RESUMING and held.failure_reason is None


@pytest.mark.parametrize(
    ("operation", "status", "reason"),
    [
        ("set_field", 404, "Not found."),
        ("assign_bot", 412, "customer blocked"),
        ("assign_bot", 422, "node: Must be a block id"),
    ],
)
def test_a_customer_fault_still_fails_the_process_with_landbots_reason(
    store: ProcessStore,
    landbot: FakeLandbot,
    process_id: str,
    operation: str,
    status: int,
    reason: str,
) -> None:
    name = "set field" if operation == "set_field" else operation
    landbot.fail_next(
        operation,
        LandbotError(name, f"answered {status}: {reason}", status=status, retryable=False),
    )
    assert resume_process(paid(process_id), store, landbot, now=NOW) == ResumeResult.FAILED
    failed = store.get(process_id)
    assert failed is not None
    assert (failed.status, failed.failure_reason) == (
        Status.FAILED,
        f"{name} answered {status}: {reason}",
    )


def test_a_held_completion_waits_longer_with_each_delivery_up_to_a_bound() -> None:
    assert [held_seconds(n, 30) for n in range(1, 8)] == [30, 60, 120, 240, 300, 300, 300]
    assert [held_seconds(n, 1) for n in range(1, 6)] == [1, 2, 4, 8, 16]
    assert held_seconds(0, 30) == 30  # no receive count: as a first delivery
    assert held_seconds(10_000, 1) == MAX_HELD_SECONDS


def test_resend_sends_an_unconfirmed_jump_again_on_the_next_delivery(
    store: ProcessStore, landbot: FakeLandbot, process_id: str
) -> None:
    landbot.fail_next(
        "assign_bot", LandbotError("assign_bot", "timed out", retryable=True, ambiguous=True)
    )
    with pytest.raises(LandbotError):
        resume_process(paid(process_id), store, landbot, now=NOW, resend_unconfirmed=True)
    waiting = store.get(process_id)
    assert waiting is not None
    assert (waiting.status, waiting.failure_reason, waiting.lease_until) == (
        Status.RESUMING,
        None,
        NOW,
    )
    again = resume_process(paid(process_id), store, landbot, now=NOW + 1, resend_unconfirmed=True)
    assert again == ResumeResult.RESUMED
    # The field once; the jump that failed (not recorded by the fake), then once more.
    assert [name for name, _ in landbot.calls] == ["set_field", "assign_bot"]


def test_resend_sends_the_jump_of_an_attempt_that_died_mid_jump(
    store: ProcessStore, landbot: FakeLandbot, process_id: str
) -> None:
    claimed_by_another_delivery(store, process_id, "dead")
    store.mark_jumping(process_id, "dead", NOW)
    result = resume_process(paid(process_id), store, landbot, now=NOW + 61, resend_unconfirmed=True)
    assert result == ResumeResult.RESUMED
    assert landbot.calls == [("assign_bot", (42, 1010178, "Nkqgn6xkf"))]  # the field was set


# ------------------------------------------------------------------ timeouts, late outcomes


def timed_process(store: ProcessStore, seconds: int = 60, timeout_node: str | None = None) -> str:
    request = REQUEST.model_copy(
        update={"timeout_seconds": seconds, "timeout_node_id": timeout_node}
    )
    process, _ = create_process(request, store, now=NOW, ttl_seconds=3600, retry_window=120)
    return process.process_id


def timeout(process_id: str) -> Completion:
    return Completion(process_id=process_id, outcome="timeout", source=Source.TIMEOUT)


def test_a_timeout_resumes_at_the_timeout_block_with_status_timeout(
    store: ProcessStore, landbot: FakeLandbot
) -> None:
    process_id = timed_process(store, timeout_node="Ntimeout")
    assert resume_process(timeout(process_id), store, landbot, now=NOW + 60) == (
        ResumeResult.RESUMED
    )
    (set_field, jump) = landbot.calls
    assert set_field[1][2]["status"] == "timeout"
    assert jump == ("assign_bot", (42, 1010178, "Ntimeout"))
    stored = store.get(process_id)
    assert stored is not None
    assert (stored.status, stored.outcome, stored.outcome_source) == (
        Status.RESUMED,
        "timeout",
        Source.TIMEOUT,
    )


def test_a_timeout_without_a_block_of_its_own_resumes_at_node_id(
    store: ProcessStore, landbot: FakeLandbot
) -> None:
    process_id = timed_process(store)
    resume_process(timeout(process_id), store, landbot, now=NOW + 60)
    assert landbot.calls[-1] == ("assign_bot", (42, 1010178, "Nkqgn6xkf"))


def test_the_first_outcome_wins_over_a_timeout(store: ProcessStore, landbot: FakeLandbot) -> None:
    process_id = timed_process(store, timeout_node="Ntimeout")
    assert resume_process(paid(process_id), store, landbot, now=NOW + 59) == ResumeResult.RESUMED
    assert resume_process(timeout(process_id), store, landbot, now=NOW + 60) == (
        ResumeResult.DUPLICATE
    )
    assert [args[2] for name, args in landbot.calls if name == "assign_bot"] == ["Nkqgn6xkf"]


def test_a_payment_after_the_timeout_is_recorded_never_replayed(
    store: ProcessStore, landbot: FakeLandbot
) -> None:
    process_id = timed_process(store, timeout_node="Ntimeout")
    resume_process(timeout(process_id), store, landbot, now=NOW + 60)
    calls = list(landbot.calls)
    payment = paid(process_id).model_copy(update={"source": Source.STRIPE})
    assert resume_process(payment, store, landbot, now=NOW + 90) == ResumeResult.LATE
    # Stripe delivers it again: counted once.
    assert resume_process(payment, store, landbot, now=NOW + 91) == ResumeResult.DUPLICATE
    assert landbot.calls == calls
    stored = store.get(process_id)
    assert stored is not None and stored.late_outcome is not None
    assert (stored.status, stored.outcome) == (Status.RESUMED, "timeout")
    late = stored.late_outcome
    assert (late.outcome, late.event_id, late.source) == ("paid", "evt_1", Source.STRIPE)


def test_an_outcome_after_a_cancel_is_late_and_a_repeated_timeout_is_not(
    store: ProcessStore, landbot: FakeLandbot
) -> None:
    process_id = timed_process(store)
    store.cancel(process_id, now=NOW + 10, source=Source.BOT)
    assert resume_process(timeout(process_id), store, landbot, now=NOW + 60) == (
        ResumeResult.DUPLICATE
    )
    message = Completion(process_id=process_id, outcome="approved", event_id="kyc-1")
    assert resume_process(message, store, landbot, now=NOW + 70) == ResumeResult.LATE
    assert landbot.calls == []
    stored = store.get(process_id)
    assert stored is not None and stored.status is Status.CANCELLED
    assert stored.late_outcome is not None and stored.late_outcome.source is Source.MESSAGE


def test_a_second_event_after_a_real_outcome_is_only_a_duplicate(
    store: ProcessStore, landbot: FakeLandbot, process_id: str
) -> None:
    resume_process(paid(process_id), store, landbot, now=NOW)
    other = Completion(process_id=process_id, outcome="expired", source=Source.STRIPE)
    assert resume_process(other, store, landbot, now=NOW + 5) == ResumeResult.DUPLICATE
    stored = store.get(process_id)
    assert stored is not None and stored.late_outcome is None
