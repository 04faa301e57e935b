"""Starting a wait: what the webhook does with a Landbot request."""

from __future__ import annotations

import hashlib
import json
import uuid

from landbot_resume.models import Process, ProcessRequest, Status, iso
from landbot_resume.ports import ProcessStore


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
) -> tuple[Process, bool]:
    """Store a PENDING process for the request; a retry gets the first one back.

    Returns the process and whether it was created by this call.
    """
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
    )
    return store.create(
        process, fingerprint=request_fingerprint(request), retry_window=retry_window, now=now
    )
