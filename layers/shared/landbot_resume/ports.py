"""The ports the domain depends on, with the errors they raise and the data they return.

The adapters behind them: store.DynamoDBProcessStore, landbot.LandbotClient,
ratelimit.SharedRateLimiter and queue.SqsCompletionQueue. Tests put fakes in their place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from landbot_resume.models import CompletionMessage, LateOutcome, Process, Source, Status


class UnknownProcess(LookupError):
    """No process has this id (never created, or deleted after its expiry)."""


@dataclass(frozen=True)
class Claim:
    """The result of trying to claim a process for resuming."""

    process: Process
    claimed: bool


@dataclass(frozen=True)
class Move:
    """The result of a conditional move of a process: the process as it now is, and whether
    this call moved it (False: its status did not allow the move)."""

    process: Process
    moved: bool


class LandbotError(Exception):
    """A Landbot call that did not succeed.

    `retryable`: trying again may succeed (429, 5xx, timeouts, connection errors).
    `ambiguous`: the request may have reached Landbot and been applied although no answer
    came back (a read timeout, a connection dropped after sending).
    """

    def __init__(
        self,
        operation: str,
        problem: str,
        *,
        status: int | None = None,
        retryable: bool,
        ambiguous: bool = False,
    ) -> None:
        super().__init__(f"{operation} {problem}")
        self.operation = operation
        self.status = status
        self.retryable = retryable
        self.ambiguous = ambiguous


class LandbotRefusedToken(LandbotError):
    """Landbot refused the agent token (401 or 403), or the call was not sent because it
    refused it moments ago: a fault of the deployment's configuration (a wrong, missing or
    revoked token), which says nothing about the customer. Never retryable at once: only
    once the token is right."""

    def __init__(self, operation: str, problem: str, *, status: int | None = None) -> None:
        super().__init__(operation, problem, status=status, retryable=False)


class RateLimitTimeout(Exception):
    """No permit frees up before the caller's deadline."""


class ProcessStore(Protocol):
    """Where processes live. Every move is one conditional write, so that two deliveries of
    one event, or two events for one process, can never both resume it; each move adds an
    entry to the process's history (bounded: models.MAX_HISTORY).

    The moves after a claim (mark_jumping, mark_resumed, release, mark_failed) succeed only
    for the holder of the current claim of a RESUMING process; for anyone else they raise
    the store's failed-condition error, which the domain lets through (the message is
    retried, and finds the process as its claim holder left it). The other moves answer a
    Move, and raise UnknownProcess for an id no process has.
    """

    def create(
        self, process: Process, *, fingerprint: str, retry_window: int, now: int
    ) -> tuple[Process, bool]:
        """Store a new PENDING process unless the same request (`fingerprint`) made one less
        than `retry_window` seconds ago. Returns (the process, whether this call created it)."""
        ...

    def get(self, process_id: str) -> Process | None:
        """The process, or None when no process has this id."""
        ...

    def claim(
        self,
        process_id: str,
        *,
        outcome: str,
        result: dict[str, Any],
        event_id: str | None,
        source: Source,
        claim_id: str,
        now: int,
        lease_seconds: int,
    ) -> Claim:
        """Take a PENDING process, or a RESUMING one whose lease ran out, for resuming; it
        leaves the deadline index.

        The first claim fixes the outcome, result, event id and source (an operator's
        set_outcome or a retry fixed them already): a later claim after an expired lease
        finishes the same resume. Raises UnknownProcess for an unknown id.
        """
        ...

    def mark_jumping(self, process_id: str, claim_id: str, now: int) -> None:
        """Record that the field is set and a jump is about to be sent."""
        ...

    def mark_resumed(self, process_id: str, claim_id: str, now: int) -> None: ...

    def release(self, process_id: str, claim_id: str, now: int) -> None:
        """Give a claim up after a failure Landbot surely did not act on (or, when the owner
        chose to resend unconfirmed jumps, one it may have), so the next delivery may retry
        at once."""
        ...

    def mark_failed(self, process_id: str, claim_id: str, now: int, reason: str) -> None: ...

    def cancel(
        self, process_id: str, *, now: int, source: Source, reason: str | None = None
    ) -> Move:
        """PENDING -> CANCELLED: the wait is called off, Landbot is not called."""
        ...

    def set_outcome(
        self,
        process_id: str,
        *,
        outcome: str,
        node_id: str,
        now: int,
        due_at: int,
        source: Source,
        reason: str,
    ) -> Move:
        """Fix the outcome of a PENDING process that has none yet, and the block it resumes
        at (an operator's choice); it stays PENDING until a delivery claims it, and the
        timeout sweeper delivers it at `due_at` if none did."""
        ...

    def retry(self, process_id: str, *, now: int, due_at: int, source: Source, reason: str) -> Move:
        """FAILED -> PENDING, keeping the recorded outcome, so that a delivery may claim it
        again (the timeout sweeper delivers it at `due_at` if none did)."""
        ...

    def record_late_outcome(
        self, process_id: str, late: LateOutcome, *, status: Status, now: int
    ) -> bool:
        """Keep the first outcome that arrived after the wait ended without one, on a
        process still in `status` (finished); False when one is kept already."""
        ...

    def due(self, now: int, limit: int) -> list[tuple[str, int]]:
        """(process id, due_at) of up to `limit` waiting processes due at `now` or before,
        the most overdue first (the deadline index: eventually consistent)."""
        ...

    def postpone(self, process_id: str, due_at: int, *, until: int) -> bool:
        """Move a waiting process's due time from `due_at` on to `until`; False when it no
        longer waits with that due time (claimed, cancelled, or postponed by another)."""
        ...


class CompletionQueue(Protocol):
    """The completion queue, for the service's own senders (the timeout sweeper, the CLI)."""

    def send(self, messages: list[CompletionMessage]) -> list[CompletionMessage]:
        """Send the messages; returns those SQS did not take."""
        ...


class LandbotApi(Protocol):
    """The two Landbot calls that resume a parked bot; they raise LandbotError
    (LandbotRefusedToken when Landbot refuses the agent token)."""

    def set_field(self, customer_id: int, field: str, value: dict[str, Any]) -> None: ...

    def assign_bot(self, customer_id: int, bot_id: int, node_id: str) -> None: ...


class RateLimiter(Protocol):
    """Paces calls to Landbot: acquire() a permit before each call (or raise
    RateLimitTimeout), hand it back with done() once the call is over."""

    def acquire(self, deadline: float) -> Any: ...

    def done(self, permit: Any) -> None: ...
