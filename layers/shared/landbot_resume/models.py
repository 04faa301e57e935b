"""The data that crosses the service's edges: webhook requests, stored processes, outcomes."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
)

# Landbot field names (landbot-api.md); block ids are short strings such as "Nkqgn6xkf".
FIELD_NAME_PATTERN = r"^[a-z0-9_]{1,64}$"
NODE_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
# Fits Stripe's client_reference_id (letters, digits, - and _, at most 200 characters).
PROCESS_ID_PATTERN = r"^pr_[0-9a-f]{32}$"
OUTCOME_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
MAX_CONTEXT_BYTES = 2048
MAX_CONTEXT_DEPTH = 5
MAX_DATA_BYTES = 4096
# A year: far beyond any process lifetime (ProcessTtlSeconds) a stack would keep.
MAX_TIMEOUT_SECONDS = 366 * 24 * 3600
# Landbot ids are far shorter. Up to 15 digits, as a number or a string, an id stays exact
# in any JSON client (below 2**53) and the same bound can be stated for both.
MAX_LANDBOT_ID = 10**15 - 1
LANDBOT_ID_STRING_PATTERN = r"^[1-9][0-9]{0,14}$"

# ASCII digits only: str.isdigit() and int() also take Arabic-Indic or full-width ones.
_ID_STRING = re.compile(LANDBOT_ID_STRING_PATTERN)


def _landbot_id(value: Any) -> Any:
    """Accept 123 or "123" (a Landbot variable may arrive as either), nothing else.

    Only plain digits get through, so an id can never add a path segment or query to a
    Landbot URL.
    """
    if isinstance(value, bool):
        raise ValueError("must be a positive integer")
    if isinstance(value, str):
        # fullmatch: match() would let a trailing newline through "$".
        if not _ID_STRING.fullmatch(value):
            raise ValueError("must be a positive integer")
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)  # JSON does not tell 137.0 from 137
    if not isinstance(value, int):
        raise ValueError("must be a positive integer")
    return value


def _check_unicode(text: str) -> None:
    """Refuse lone surrogates (JSON's "\\ud800"): no store or client can encode them."""
    try:
        text.encode()
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None


LandbotId = Annotated[
    int,
    BeforeValidator(_landbot_id),
    Field(ge=1, le=MAX_LANDBOT_ID),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 1, "maximum": MAX_LANDBOT_ID},
                {"type": "string", "pattern": LANDBOT_ID_STRING_PATTERN},
            ],
            "description": "A Landbot id: a positive integer, as a number or a string of digits.",
        }
    ),
]
NodeId = Annotated[str, Field(pattern=NODE_ID_PATTERN)]


def _seconds(value: Any) -> Any:
    """A whole number of seconds as a JSON number: never a boolean (which Python counts as
    an int) nor a string."""
    if isinstance(value, bool | str):
        raise ValueError("must be a whole number of seconds")
    return value


Seconds = Annotated[int, Field(ge=0, le=MAX_TIMEOUT_SECONDS), BeforeValidator(_seconds)]
FieldName = Annotated[str, Field(pattern=FIELD_NAME_PATTERN)]
ProcessId = Annotated[str, Field(pattern=PROCESS_ID_PATTERN)]
Outcome = Annotated[str, Field(pattern=OUTCOME_PATTERN)]


def iso(epoch: int) -> str:
    """Epoch seconds as an ISO 8601 UTC timestamp."""
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def _json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def _json_depth(value: Any) -> int:
    """How deeply objects and arrays nest in a parsed JSON value ({} is 1, a scalar 0).

    Iterative, so a hostile nest cannot exhaust the stack. Refuses what parsed but is no JSON
    one can store and read back: lone surrogates, NaN and infinities.
    """
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            deepest = max(deepest, depth + 1)
            for key, child in item.items():
                _check_unicode(key)
                pending.append((child, depth + 1))
        elif isinstance(item, list):
            deepest = max(deepest, depth + 1)
            pending.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            _check_unicode(item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValueError("must hold only finite numbers")
    return deepest


class Status(StrEnum):
    PENDING = "PENDING"  # waiting for an outcome (or being retried with the one recorded)
    RESUMING = "RESUMING"  # claimed: the customer is being resumed
    RESUMED = "RESUMED"  # the field is set and the bot jumped (an outcome, a timeout, ...)
    FAILED = "FAILED"  # Landbot refused, or a jump went unconfirmed: failure_reason says
    CANCELLED = "CANCELLED"  # called off (the bot or an operator) without calling Landbot


# The statuses no outcome moves on any more (an operator's retry moves FAILED back).
FINISHED = frozenset({Status.RESUMED, Status.FAILED, Status.CANCELLED})
# The outcome a wait gets when nothing came in time; its jump goes to timeout_node_id.
TIMEOUT_OUTCOME = "timeout"


class Source(StrEnum):
    """Who moved a process, or delivered its outcome (a history entry's cause)."""

    BOT = "bot"  # the Landbot bot, through the webhook API
    STRIPE = "stripe"  # a Stripe event on EventBridge
    MESSAGE = "message"  # a plain message on the completion queue
    TIMEOUT = "timeout"  # the timeout sweeper: no outcome came in time
    OPERATOR = "operator"  # a person, with the landbot-resume CLI
    RESUME = "resume"  # the resume function, acting on the outcome it claimed


# Outcomes of the world, as opposed to the ones the service makes up when a wait ends
# without one: an outcome of the world arriving after such an end is a late outcome.
WORLD_SOURCES = frozenset({Source.STRIPE, Source.MESSAGE})
# The history a process keeps is bounded: a claim, the one move that reads the process
# before writing it, keeps the first entry and the newest ones, leaving room for its own
# entry and for the moves that may follow before the next claim, which append without
# reading (at most 4: failed, retried, cancelled, late outcome; one spare).
MAX_HISTORY = 20
APPENDS_BETWEEN_CLAIMS = 5
MAX_REASON_CHARS = 500


class HistoryEntry(BaseModel):
    """One move of a process: when, to which status, what caused it and why."""

    at: str = Field(description="ISO 8601, UTC.")
    status: Status = Field(description="The status after the move.")
    cause: str = Field(description='e.g. "bot", "stripe evt_...", "timeout", "operator".')
    reason: str | None = None

    @classmethod
    def of(
        cls,
        now: int,
        status: Status,
        source: Source,
        *,
        event_id: str | None = None,
        reason: str | None = None,
    ) -> HistoryEntry:
        cause = f"{source} {event_id}" if event_id else str(source)
        return cls(
            at=iso(now),
            status=status,
            cause=cause[:MAX_REASON_CHARS],
            reason=reason[:MAX_REASON_CHARS] if reason else None,
        )


def history_with_claim(history: list[HistoryEntry], entry: HistoryEntry) -> list[HistoryEntry]:
    """The history a claim writes: the first entry, the newest others, and `entry`."""
    room = MAX_HISTORY - APPENDS_BETWEEN_CLAIMS - 1
    if len(history) > room:
        history = [history[0], *history[len(history) - room + 1 :]]
    return [*history, entry]


class LateOutcome(BaseModel):
    """An outcome that arrived after the wait had ended without one (a timeout, a cancel):
    recorded, never replayed to the bot."""

    outcome: str
    event_id: str | None = None
    source: Source
    at: str = Field(description="When it arrived, ISO 8601, UTC.")


class ProcessRequest(BaseModel):
    """What a Landbot Webhook block sends to start waiting."""

    model_config = ConfigDict(extra="forbid")

    bot_id: LandbotId
    node_id: NodeId = Field(description="The block the bot continues at (Landbot's node id).")
    customer_id: LandbotId
    field: FieldName = Field(
        default="data", description="The customer field that receives the outcome."
    )
    # pydantic refuses lone surrogates in a constrained str itself.
    reference: Annotated[str, Field(max_length=200)] | None = Field(
        default=None, description="Your own reference (e.g. an order), returned as is."
    )
    # repr=False: personal data stays out of anything that prints the model (Powertools'
    # debug output prints the validated request).
    context: dict[str, Any] = Field(
        default_factory=dict,
        repr=False,
        description=(
            f"Any JSON object up to {MAX_CONTEXT_BYTES} bytes and {MAX_CONTEXT_DEPTH} levels"
            " deep; stored with the process, never returned nor sent to Landbot."
        ),
    )
    timeout_seconds: Seconds | None = Field(
        default=None,
        description=(
            "When no outcome came this many seconds after the start, the customer is resumed"
            ' with status "timeout" at timeout_node_id (within about 90 s of the deadline).'
            " 0: never (also when the stack has a default); absent: the stack's default."
            " Must be less than the stack's process lifetime."
        ),
    )
    timeout_node_id: NodeId | None = Field(
        default=None, description="The block a timeout continues at (default: node_id)."
    )

    @field_validator("context")
    @classmethod
    def _small_context(cls, value: dict[str, Any]) -> dict[str, Any]:
        # Depth first: it is checked without recursion, and json.dumps below recurses.
        if _json_depth(value) > MAX_CONTEXT_DEPTH:
            raise ValueError(f"must be at most {MAX_CONTEXT_DEPTH} levels deep")
        if _json_size(value) > MAX_CONTEXT_BYTES:
            raise ValueError(f"must be at most {MAX_CONTEXT_BYTES} bytes as JSON")
        return value


class Process(BaseModel):
    """A bot waiting for an outcome, as stored."""

    process_id: ProcessId
    status: Status
    bot_id: int
    node_id: str
    customer_id: int
    field: str
    reference: str | None = None
    context: dict[str, Any] = Field(default_factory=dict, repr=False)
    created_at: str
    updated_at: str
    expires_at: int
    outcome: str | None = None
    result: dict[str, Any] | None = None
    event_id: str | None = None
    failure_reason: str | None = None
    claim_id: str | None = None
    lease_until: int | None = None
    field_set: bool = False
    jump_pending: bool = False  # a jump may have been sent and not confirmed
    attempts: int = 0
    # The deadline of the wait, and the block it continues at then.
    timeout_at: str | None = None
    timeout_node_id: str | None = None
    # When the timeout sweeper next sends this process a timeout (epoch seconds): the key of
    # the table's deadline index, present only while the process waits (see timeouts.py).
    due_at: int | None = None
    # Who delivered the recorded outcome, and an operator's choice of block to resume at.
    outcome_source: Source | None = None
    resume_node_id: str | None = None
    late_outcome: LateOutcome | None = None
    history: list[HistoryEntry] = Field(default_factory=list)

    def claimable(self, now: int) -> bool:
        """PENDING, or RESUMING with a lease that ran out (its holder crashed or gave up)."""
        if self.status is Status.PENDING:
            return True
        lease = self.lease_until
        return self.status is Status.RESUMING and lease is not None and lease < now

    def jump_node(self) -> str:
        """The block the recorded outcome resumes the customer at."""
        if self.resume_node_id:
            return self.resume_node_id
        if self.outcome == TIMEOUT_OUTCOME and self.timeout_node_id:
            return self.timeout_node_id
        return self.node_id

    def ended_without_outcome(self) -> bool:
        """The wait ended with no outcome of the world: cancelled, timed out or settled by an
        operator. An outcome arriving now is late."""
        if self.status is Status.CANCELLED:
            return True
        return self.status in FINISHED and self.outcome_source not in (None, *WORLD_SOURCES)


class ProcessView(BaseModel):
    """The public state of a process: no customer id, no context, nothing secret."""

    process_id: ProcessId = Field(description="Give it to the payment as its reference.")
    status: Status
    reference: str | None = None
    outcome: str | None = Field(default=None, description="e.g. paid, failed or expired.")
    failure_reason: str | None = None
    created_at: str = Field(description="ISO 8601, UTC.")
    updated_at: str = Field(description="ISO 8601, UTC.")
    expires_at: int = Field(description="When the record is deleted, in epoch seconds.")
    timeout_at: str | None = Field(
        default=None, description="When the wait times out (ISO 8601, UTC), if it does."
    )
    late_outcome: LateOutcome | None = Field(
        default=None,
        description="An outcome that arrived after a timeout or a cancel: never replayed.",
    )

    @classmethod
    def of(cls, process: Process) -> ProcessView:
        return cls.model_validate(process.model_dump(include=set(cls.model_fields)))


class FieldError(BaseModel):
    field: str = Field(description='The field at fault (dotted when nested), or "body".')
    message: str = Field(description="What is wrong with it; the value is never repeated.")


class ErrorBody(BaseModel):
    """Every answer other than a process: what went wrong, and where for a refused request."""

    message: str
    errors: list[FieldError] = Field(default_factory=list)


class Completion(BaseModel):
    """An outcome for one process, whatever delivered it."""

    process_id: ProcessId
    outcome: Outcome
    event_id: str | None = None
    event_type: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    source: Source = Source.MESSAGE


class CompletionMessage(BaseModel):
    """The plain message any system may put on the completion queue."""

    model_config = ConfigDict(extra="forbid")

    process_id: ProcessId
    status: Outcome
    event_id: Annotated[str, Field(max_length=200)] | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    # Set by landbot-resume's own senders (the timeout sweeper, the operator's CLI); other
    # systems leave it out.
    sent_by: Literal["timeout", "operator"] | None = None

    @field_validator("data")
    @classmethod
    def _small_data(cls, value: dict[str, Any]) -> dict[str, Any]:
        if _json_size(value) > MAX_DATA_BYTES:
            raise ValueError(f"must be at most {MAX_DATA_BYTES} bytes as JSON")
        return value
