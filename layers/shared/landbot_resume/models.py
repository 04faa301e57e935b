"""The data that crosses the service's edges: webhook requests, stored processes, outcomes."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

# Landbot field names (landbot-api.md); block ids are short strings such as "Nkqgn6xkf".
FIELD_NAME_PATTERN = r"^[a-z0-9_]{1,64}$"
NODE_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
# Fits Stripe's client_reference_id (letters, digits, - and _, at most 200 characters).
PROCESS_ID_PATTERN = r"^pr_[0-9a-f]{32}$"
OUTCOME_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
MAX_CONTEXT_BYTES = 2048
MAX_DATA_BYTES = 4096

_DIGITS = re.compile(r"^[0-9]{1,19}$")


def _landbot_id(value: Any) -> Any:
    """Accept 123 or "123" (a Landbot variable may arrive as either), nothing else.

    Only plain digits get through, so an id can never add a path segment or query to a
    Landbot URL.
    """
    if isinstance(value, bool):
        raise ValueError("must be a positive integer")
    if isinstance(value, str):
        if not _DIGITS.match(value):
            raise ValueError("must be a positive integer")
        return int(value)
    if not isinstance(value, int):
        raise ValueError("must be a positive integer")
    return value


LandbotId = Annotated[int, BeforeValidator(_landbot_id), Field(gt=0, lt=2**63)]
NodeId = Annotated[str, Field(pattern=NODE_ID_PATTERN)]
FieldName = Annotated[str, Field(pattern=FIELD_NAME_PATTERN)]
ProcessId = Annotated[str, Field(pattern=PROCESS_ID_PATTERN)]
Outcome = Annotated[str, Field(pattern=OUTCOME_PATTERN)]


def iso(epoch: int) -> str:
    """Epoch seconds as an ISO 8601 UTC timestamp."""
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def _json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


class Status(StrEnum):
    PENDING = "PENDING"
    RESUMING = "RESUMING"
    RESUMED = "RESUMED"
    FAILED = "FAILED"


class ProcessRequest(BaseModel):
    """What a Landbot Webhook block sends to start waiting."""

    model_config = ConfigDict(extra="forbid")

    bot_id: LandbotId
    node_id: NodeId
    customer_id: LandbotId
    field: FieldName = "data"
    reference: Annotated[str, Field(max_length=200)] | None = None
    context: dict[str, Any] = Field(default_factory=dict)

    @field_validator("context")
    @classmethod
    def _small_context(cls, value: dict[str, Any]) -> dict[str, Any]:
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
    context: dict[str, Any] = Field(default_factory=dict)
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

    process_id: str
    status: Status
    reference: str | None = None
    outcome: str | None = None
    failure_reason: str | None = None
    created_at: str
    updated_at: str
    expires_at: int

    @classmethod
    def of(cls, process: Process) -> ProcessView:
        return cls.model_validate(process.model_dump(include=set(cls.model_fields)))


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
