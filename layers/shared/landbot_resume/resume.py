"""Resuming a parked bot: claim the process, Set the field, Go to the block, record it."""

from __future__ import annotations

import uuid
from enum import StrEnum

from landbot_resume.landbot import LandbotApi, LandbotError
from landbot_resume.models import Completion, Status
from landbot_resume.store import ProcessStore

# How long a claim keeps other deliveries away; must exceed the worst-case time of the two
# Landbot calls and stay below the queue's visibility timeout, so a retry can take over.
DEFAULT_LEASE_SECONDS = 60


class ResumeResult(StrEnum):
    RESUMED = "resumed"
    FAILED = "failed"  # Landbot refused for good; the reason is on the process
    DUPLICATE = "duplicate"  # the process was already finished: acknowledged, not replayed


class ProcessBusy(Exception):
    """Another delivery holds a live claim on the process; try again after its lease."""


def resume_process(
    completion: Completion,
    store: ProcessStore,
    landbot: LandbotApi,
    *,
    now: int,
    lease_seconds: int = DEFAULT_LEASE_SECONDS,
) -> ResumeResult:
    """Deliver one outcome to the bot waiting for it, at most once.

    Raises UnknownProcess for an id nobody created, ProcessBusy while another delivery
    works on it, and a retryable LandbotError when Landbot could not be reached: in each
    case the message must be retried or kept, never dropped.
    """
    claim_id = uuid.uuid4().hex
    claim = store.claim(
        completion.process_id,
        outcome=completion.outcome,
        result=completion.data,
        event_id=completion.event_id,
        claim_id=claim_id,
        now=now,
        lease_seconds=lease_seconds,
    )
    process = claim.process
    if not claim.claimed:
        if process.status in (Status.RESUMED, Status.FAILED):
            return ResumeResult.DUPLICATE
        raise ProcessBusy(completion.process_id)
    value = {
        **(process.result or {}),
        "status": process.outcome,
        "process_id": process.process_id,
        "reference": process.reference,
    }
    try:
        if not process.field_set:
            landbot.set_field(process.customer_id, process.field, value)
            store.mark_field_set(process.process_id, claim_id, now)
        landbot.assign_bot(process.customer_id, process.bot_id, process.node_id)
    except LandbotError as error:
        if error.retryable:
            store.release(process.process_id, claim_id, now)
            raise
        store.mark_failed(process.process_id, claim_id, now, str(error))
        return ResumeResult.FAILED
    store.mark_resumed(process.process_id, claim_id, now)
    return ResumeResult.RESUMED
