"""Resuming a parked bot: claim the process, Set the field, Go to the block, record it.

A process moves PENDING -> RESUMING -> RESUMED, or -> FAILED with a reason, and every move
is a conditional write. The field is written at least once (writing it again is harmless).
The jump is sent at most once by default: when Landbot may have acted on a jump without
confirming it, the process fails with that reason instead of replaying the block to the
customer; with `resend_unconfirmed` (the owner's choice, for bots whose resume block can be
replayed) such a jump is sent again by the next delivery instead.

A Landbot that refuses the agent token (the deployment's fault) never ends a process: its
claim is released and the completion is held, to be delivered again later.

A timeout is an outcome like any other (it jumps to the process's timeout block). An
outcome of the world (a payment, a plain message) that arrives after the wait ended without
one (a timeout, a cancel, an operator's choice) is late: it is recorded on the process,
never replayed to the bot.
"""

from __future__ import annotations

import uuid
from enum import StrEnum

from landbot_resume.models import (
    FINISHED,
    WORLD_SOURCES,
    Completion,
    LateOutcome,
    Process,
    iso,
)
from landbot_resume.ports import LandbotApi, LandbotError, LandbotRefusedToken, ProcessStore

# How long a claim keeps other deliveries away at most: longer than one invocation (so two
# never work on one process), shorter than the queue's visibility timeout (so the retry of a
# crashed invocation finds the claim expired). The resume function claims only until its
# invocation ends, which no work on the claim can outlive.
DEFAULT_LEASE_SECONDS = 60
UNCONFIRMED = "assign_bot unconfirmed"
# A held completion's wait for its next delivery doubles with each delivery, up to this.
MAX_HELD_SECONDS = 300


class ResumeResult(StrEnum):
    RESUMED = "resumed"
    FAILED = "failed"  # for good; the reason is on the process
    DUPLICATE = "duplicate"  # the process was already finished: acknowledged, not replayed
    HELD = "held"  # Landbot refused the token: the process still waits; deliver again later
    LATE = "late"  # it came after a timeout or a cancel: recorded, not replayed


class ProcessBusy(Exception):
    """Another delivery holds a live claim on the process; try again after its lease
    (`lease_until`, epoch seconds)."""

    def __init__(self, process_id: str, lease_until: int | None = None) -> None:
        super().__init__(process_id)
        self.process_id = process_id
        self.lease_until = lease_until


def held_seconds(deliveries: int, first: int) -> int:
    """How long a held completion waits before its next delivery: `first` seconds after its
    first delivery, doubling with each one after, at most MAX_HELD_SECONDS."""
    return min(first << (max(deliveries, 1) - 1), MAX_HELD_SECONDS)


def resume_process(
    completion: Completion,
    store: ProcessStore,
    landbot: LandbotApi,
    *,
    now: int,
    lease_seconds: int = DEFAULT_LEASE_SECONDS,
    resend_unconfirmed: bool = False,
) -> ResumeResult:
    """Deliver one outcome to the bot waiting for it.

    Raises UnknownProcess for an id nobody created, ProcessBusy while another delivery
    works on it, and a retryable LandbotError when Landbot could not be reached: in each
    case the message must be retried or kept, never dropped (and so must a HELD one).
    """
    claim_id = uuid.uuid4().hex
    claim = store.claim(
        completion.process_id,
        outcome=completion.outcome,
        result=completion.data,
        event_id=completion.event_id,
        source=completion.source,
        claim_id=claim_id,
        now=now,
        lease_seconds=lease_seconds,
    )
    process = claim.process
    if not claim.claimed:
        if process.status not in FINISHED:
            raise ProcessBusy(completion.process_id, process.lease_until)
        if _arrives_late(process, completion) and store.record_late_outcome(
            process.process_id,
            LateOutcome(
                outcome=completion.outcome,
                event_id=completion.event_id,
                source=completion.source,
                at=iso(now),
            ),
            status=process.status,
            now=now,
        ):
            return ResumeResult.LATE
        return ResumeResult.DUPLICATE
    if process.jump_pending and not resend_unconfirmed:
        # An earlier attempt stopped after it may have sent the jump (resent below if so chosen).
        reason = f"{UNCONFIRMED}: an earlier attempt stopped after sending it"
        store.mark_failed(process.process_id, claim_id, now, reason)
        return ResumeResult.FAILED
    value = {
        **(process.result or {}),
        "status": process.outcome,
        "process_id": process.process_id,
        "reference": process.reference,
    }
    try:
        if not process.field_set:
            landbot.set_field(process.customer_id, process.field, value)
        store.mark_jumping(process.process_id, claim_id, now)
        landbot.assign_bot(process.customer_id, process.bot_id, process.jump_node())
    except LandbotRefusedToken:
        # Says nothing about the customer: the process waits for a token Landbot accepts.
        store.release(process.process_id, claim_id, now)
        return ResumeResult.HELD
    except LandbotError as error:
        if error.ambiguous and error.operation == "assign_bot" and not resend_unconfirmed:
            store.mark_failed(process.process_id, claim_id, now, f"{UNCONFIRMED}: {error}")
            return ResumeResult.FAILED
        if error.retryable:
            store.release(process.process_id, claim_id, now)
            raise
        store.mark_failed(process.process_id, claim_id, now, str(error))
        return ResumeResult.FAILED
    store.mark_resumed(process.process_id, claim_id, now)
    return ResumeResult.RESUMED


def _arrives_late(process: Process, completion: Completion) -> bool:
    """An outcome of the world for a wait that ended without one."""
    return completion.source in WORLD_SOURCES and process.ended_without_outcome()
