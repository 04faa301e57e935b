"""The sample events in events/, filled in for a given process."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

from devstack.template import ROOT

EVENTS = ROOT / "events"
SAMPLE_PROCESS_ID = "pr_0123456789abcdef0123456789abcdef"
STRIPE_SAMPLES = {
    "checkout.session.completed": "checkout-session-completed.json",
    "checkout.session.async_payment_failed": "checkout-session-async-payment-failed.json",
    "checkout.session.expired": "checkout-session-expired.json",
}


def load_sample(relative: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / relative).read_text())
    return loaded


def stripe_event(
    event_type: str, process_id: str, *, event_id: str | None = None
) -> dict[str, Any]:
    """A Stripe partner event of `event_type` whose Checkout Session points at `process_id`.

    Each call is a new Stripe event (new evt_ id) unless `event_id` repeats one.
    """
    event = copy.deepcopy(load_sample(f"stripe/{STRIPE_SAMPLES[event_type]}"))
    session = event["detail"]["data"]["object"]
    session["client_reference_id"] = process_id
    session["metadata"]["process_id"] = process_id
    event["id"] = str(uuid.uuid4())
    event["detail"]["id"] = event_id or f"evt_{uuid.uuid4().hex[:24]}"
    return event


def sqs_event(*bodies: Any) -> dict[str, Any]:
    """An SQS batch as the event source mapping hands it over: one record per body (JSON
    unless already a string), with message ids m0, m1, ..."""
    record = load_sample("sqs/stripe-checkout-session-completed.json")["Records"][0]
    return {
        "Records": [
            {
                **record,
                "messageId": f"m{index}",
                "body": body if isinstance(body, str) else json.dumps(body),
            }
            for index, body in enumerate(bodies)
        ]
    }
