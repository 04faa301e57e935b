"""The data that crosses the service's edges: webhook requests, stored processes, outcomes."""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

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
    PENDING = "PENDING"
    RESUMING = "RESUMING"
    RESUMED = "RESUMED"
    FAILED = "FAILED"


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


class CompletionMessage(BaseModel):
    """The plain message any system may put on the completion queue."""

    model_config = ConfigDict(extra="forbid")

    process_id: ProcessId
    status: Outcome
    event_id: Annotated[str, Field(max_length=200)] | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    @field_validator("data")
    @classmethod
    def _small_data(cls, value: dict[str, Any]) -> dict[str, Any]:
        if _json_size(value) > MAX_DATA_BYTES:
            raise ValueError(f"must be at most {MAX_DATA_BYTES} bytes as JSON")
        return value
