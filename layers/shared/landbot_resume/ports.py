"""The ports the domain depends on, with the errors they raise and the data they return.

The adapters behind them: store.DynamoDBProcessStore, landbot.LandbotClient and
ratelimit.SharedRateLimiter. Tests put fakes in their place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from landbot_resume.models import Process


class UnknownProcess(LookupError):
    """No process has this id (never created, or deleted after its expiry)."""


@dataclass(frozen=True)
class Claim:
    """The result of trying to claim a process for resuming."""

    process: Process
    claimed: bool


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
    """Where processes live. Every move is conditional, so that two deliveries of one event,
    or two events for one process, can never both resume it.

    The moves after a claim (mark_jumping, mark_resumed, release, mark_failed) succeed only
    for the holder of the current claim of a RESUMING process; for anyone else they raise
    the store's failed-condition error, which the domain lets through (the message is
    retried, and finds the process as its claim holder left it).
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
        claim_id: str,
        now: int,
        lease_seconds: int,
    ) -> Claim:
        """Take a PENDING process, or a RESUMING one whose lease ran out, for resuming.

        The first claim fixes the outcome, result and event id: a later claim after an
        expired lease finishes the same resume. Raises UnknownProcess for an unknown id.
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
