"""Calling a wait off, and what an operator does with a process (the landbot-resume CLI).

Each is one move of the store; where the customer is to be resumed, the outcome then goes
the way of every outcome, a message on the completion queue, and the resume function claims
the process as usual (so the first outcome still wins). If that message is lost, the
timeout sweeper delivers the process when its due time comes (timeouts.REFIRE_SECONDS).
"""

from __future__ import annotations

from landbot_resume.models import CompletionMessage, Process, Source, Status
from landbot_resume.ports import CompletionQueue, Move, ProcessStore, UnknownProcess
from landbot_resume.resume import UNCONFIRMED
from landbot_resume.timeouts import REFIRE_SECONDS


class NotAllowed(Exception):
    """The process's state does not allow the move; the message says why, and what to do."""

    def __init__(self, process: Process, reason: str) -> None:
        super().__init__(reason)
        self.process = process


class NotDelivered(Exception):
    """The process was moved, but its delivery did not reach the queue."""

    def __init__(self, process: Process) -> None:
        super().__init__(
            f"{process.process_id} waits to be delivered, but the completion queue did not take"
            " its message: run the command again, or the timeout sweeper sends it"
            f" {REFIRE_SECONDS // 60} minutes after the move"
        )
        self.process = process


def cancel(
    store: ProcessStore,
    process_id: str,
    *,
    now: int,
    source: Source,
    reason: str | None = None,
) -> Move:
    """End a waiting process as CANCELLED without calling Landbot (the bot moves on by
    itself). Cancelling a CANCELLED process again answers it as it is (not moved), so that
    a retried call gets the same answer. Raises UnknownProcess, or NotAllowed once it is
    resuming or finished otherwise."""
    move = store.cancel(process_id, now=now, source=source, reason=reason)
    if move.moved or move.process.status is Status.CANCELLED:
        return move
    status = move.process.status
    doing = "is being resumed" if status is Status.RESUMING else f"already ended {status}"
    raise NotAllowed(move.process, f"the process {doing}")


def resume_at(
    store: ProcessStore,
    queue: CompletionQueue,
    process_id: str,
    *,
    node_id: str,
    outcome: str,
    now: int,
) -> Process:
    """Call a wait off and resume the customer at `node_id` with `outcome` in the field (an
    operator's choice): the process ends RESUMED with that outcome, and an outcome of the
    world arriving later is recorded as late. Raises UnknownProcess or NotAllowed (it must
    be PENDING with no outcome of its own yet), or NotDelivered."""
    move = store.set_outcome(
        process_id,
        outcome=outcome,
        node_id=node_id,
        now=now,
        due_at=now + REFIRE_SECONDS,
        source=Source.OPERATOR,
        reason=f"called off: resume at {node_id} with status {outcome}",
    )
    process = move.process
    if not move.moved:
        if process.status is Status.PENDING:
            raise NotAllowed(
                process,
                f"it is being delivered its outcome {process.outcome} already: cancel it"
                " without --resume-at, or let it resume",
            )
        raise NotAllowed(
            process, f"only a PENDING process can be called off; it is {process.status}"
        )
    _deliver(queue, process)
    return process


def retry(
    store: ProcessStore, queue: CompletionQueue, process_id: str, *, now: int, force: bool
) -> Process:
    """Deliver the recorded outcome of a FAILED process again: it moves back to PENDING,
    keeping its outcome, and goes through the queue. A process that a retry (or resume_at)
    moved already and that still waits gets its message again.

    Refuses (NotAllowed) a process whose jump went unconfirmed unless `force`: Landbot may
    have acted on that jump, and cannot be asked (landbot-api.md); only someone who checked
    the conversation knows that sending it again will not repeat the block. Raises
    UnknownProcess, NotAllowed or NotDelivered.
    """
    process = store.get(process_id)
    if process is None:
        raise UnknownProcess(process_id)
    if process.status is Status.FAILED:
        reason = process.failure_reason or ""
        if reason.startswith(UNCONFIRMED) and not force:
            raise NotAllowed(
                process,
                f"{reason}. The customer may have reached the block already; check the"
                " conversation in Landbot, then retry with --force to send the jump again",
            )
        move = store.retry(
            process_id,
            now=now,
            due_at=now + REFIRE_SECONDS,
            source=Source.OPERATOR,
            reason=f"retry after: {reason}",
        )
        if not move.moved:
            raise NotAllowed(move.process, f"it is {move.process.status} now")
        process = move.process
    elif process.status is not Status.PENDING or process.outcome is None:
        raise NotAllowed(process, f"only a FAILED process can be retried; it is {process.status}")
    _deliver(queue, process)
    return process


def delivery(process: Process) -> CompletionMessage:
    """The message that delivers a process's recorded outcome."""
    assert process.outcome is not None, "only a recorded outcome is delivered"
    return CompletionMessage(
        process_id=process.process_id,
        status=process.outcome,
        event_id=process.event_id,
        sent_by="operator",
    )


def _deliver(queue: CompletionQueue, process: Process) -> None:
    if queue.send([delivery(process)]):
        raise NotDelivered(process)
