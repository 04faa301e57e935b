"""Starting a wait: what the webhook does with a Landbot request."""

from __future__ import annotations

import hashlib
import json
import uuid

from landbot_resume.models import HistoryEntry, Process, ProcessRequest, Source, Status, iso
from landbot_resume.ports import ProcessStore


class InvalidRequest(ValueError):
    """A request the models accept but this stack cannot: names the field, not its value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def new_process_id() -> str:
    return f"pr_{uuid.uuid4().hex}"


def request_fingerprint(request: ProcessRequest) -> str:
    """Identical requests (a Webhook block retrying) share a fingerprint."""
    canonical = json.dumps(request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def create_process(
    request: ProcessRequest,
    store: ProcessStore,
    *,
    now: int,
    ttl_seconds: int,
    retry_window: int,
    default_timeout_seconds: int = 0,
) -> tuple[Process, bool]:
    """Store a PENDING process for the request; a retry gets the first one back.

    Its timeout is the request's `timeout_seconds`, else `default_timeout_seconds` (0: none);
    it must end before the record does (`ttl_seconds`), or InvalidRequest names the field.
    Returns the process and whether it was created by this call.
    """
    timeout = request.timeout_seconds
    if timeout is None:
        timeout = default_timeout_seconds
    if timeout >= ttl_seconds:
        raise InvalidRequest(
            "timeout_seconds", f"must be less than the process lifetime ({ttl_seconds} s)"
        )
    process = Process(
        process_id=new_process_id(),
        status=Status.PENDING,
        bot_id=request.bot_id,
        node_id=request.node_id,
        customer_id=request.customer_id,
        field=request.field,
        reference=request.reference,
        context=request.context,
        created_at=iso(now),
        updated_at=iso(now),
        expires_at=now + ttl_seconds,
        history=[HistoryEntry.of(now, Status.PENDING, Source.BOT)],
    )
    if timeout:
        process.timeout_at = iso(now + timeout)
        process.due_at = now + timeout
        process.timeout_node_id = request.timeout_node_id or request.node_id
    return store.create(
        process, fingerprint=request_fingerprint(request), retry_window=retry_window, now=now
    )
