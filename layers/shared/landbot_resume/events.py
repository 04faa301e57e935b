"""Turn whatever arrives on the completion queue into a Completion, or into nothing."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from landbot_resume.models import PROCESS_ID_PATTERN, Completion, CompletionMessage

# Stripe event type -> the outcome the bot sees in @data.status.
STRIPE_OUTCOMES = {
    "checkout.session.completed": "paid",
    "checkout.session.async_payment_succeeded": "paid",
    "checkout.session.async_payment_failed": "failed",
    "checkout.session.expired": "expired",
    "payment_intent.succeeded": "paid",
    "payment_intent.payment_failed": "failed",
    "payment_intent.canceled": "canceled",
}
# A completed Checkout Session paid by a delayed method (SEPA, Boleto...) is still "unpaid":
# its real outcome comes later as async_payment_succeeded or async_payment_failed.
_SETTLED_PAYMENT_STATUSES = {"paid", "no_payment_required"}
# Stripe fields copied into the customer field: amounts and ids, never customer details.
_STRIPE_RESULT_FIELDS = ("amount_total", "amount", "currency", "payment_status")
_PROCESS_ID = re.compile(PROCESS_ID_PATTERN)


class InvalidMessage(ValueError):
    """A message that can never be processed; it must stay visible (DLQ), not vanish."""


class _StripeEvent(BaseModel):
    id: str
    type: str
    data: dict[str, Any]


class _EventBridgeEvent(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    id: str
    source: str
    detail_type: str = Field(alias="detail-type")
    detail: dict[str, Any]


def completion_from_message(body: str) -> Completion | None:
    """The completion a queue message carries; None when it is not for this service."""
    try:
        message = json.loads(body)
    except ValueError as error:
        raise InvalidMessage("body is not JSON") from error
    if not isinstance(message, dict):
        raise InvalidMessage("body is not a JSON object")
    if "detail-type" in message:
        return _from_eventbridge(message)
    try:
        plain = CompletionMessage.model_validate(message)
    except ValidationError as error:
        raise InvalidMessage(_describe(error)) from error
    return Completion(
        process_id=plain.process_id,
        outcome=plain.status,
        event_id=plain.event_id,
        data=plain.data,
    )


def _from_eventbridge(message: dict[str, Any]) -> Completion | None:
    try:
        envelope = _EventBridgeEvent.model_validate(message)
        event = _StripeEvent.model_validate(envelope.detail)
    except ValidationError as error:
        raise InvalidMessage(_describe(error)) from error
    outcome = STRIPE_OUTCOMES.get(event.type)
    obj = event.data.get("object")
    if outcome is None or not isinstance(obj, dict):
        return None
    process_id = _process_id_of(obj)
    if process_id is None:
        return None  # a payment some other flow started: not ours
    if event.type == "checkout.session.completed" and (
        obj.get("payment_status") not in _SETTLED_PAYMENT_STATUSES
    ):
        return None
    data: dict[str, Any] = {
        key: obj[key] for key in _STRIPE_RESULT_FIELDS if isinstance(obj.get(key), str | int)
    }
    data.update(event_type=event.type, event_id=event.id, payment_id=obj.get("id"))
    return Completion(
        process_id=process_id,
        outcome=outcome,
        event_id=event.id,
        event_type=event.type,
        data=data,
    )


def _process_id_of(obj: dict[str, Any]) -> str | None:
    metadata = obj.get("metadata")
    candidates = [
        obj.get("client_reference_id"),
        metadata.get("process_id") if isinstance(metadata, dict) else None,
    ]
    for candidate in candidates:
        if isinstance(candidate, str) and _PROCESS_ID.match(candidate):
            return candidate
    return None


def _describe(error: ValidationError) -> str:
    """Field names and messages only: the rejected values may be personal data."""
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or 'body'}: {item['msg']}"
        for item in error.errors()
    )
