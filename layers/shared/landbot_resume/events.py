"""Turn whatever arrives on the completion queue into a Completion, or into nothing."""

from __future__ import annotations

import json
import math
import re
from typing import Annotated, Any, NoReturn

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from landbot_resume.models import PROCESS_ID_PATTERN, Completion, CompletionMessage, Source

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
# Stripe's ids and codes are short; anything longer is not one, and is left out of the field.
MAX_STRIPE_TEXT = 200
_PROCESS_ID = re.compile(PROCESS_ID_PATTERN)
# How a rejection names the fields: it is logged, so it stays short and quotes no values.
_FIELD_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_PROBLEMS_NAMED = 5


class InvalidMessage(ValueError):
    """A message that can never be processed; it must stay visible (DLQ), not vanish."""


class _StripeEvent(BaseModel):
    id: Annotated[str, Field(max_length=MAX_STRIPE_TEXT)]
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
    message = _parse(body)
    if not isinstance(message, dict):
        raise InvalidMessage("body is not a JSON object")
    if "detail-type" in message:
        return _from_eventbridge(message)
    try:
        plain = CompletionMessage.model_validate(message)
    except ValidationError as error:
        # Not chained: pydantic's own text quotes the rejected values (maybe personal data),
        # and a logged traceback would carry them.
        raise InvalidMessage(_describe(error)) from None
    return Completion(
        process_id=plain.process_id,
        outcome=plain.status,
        event_id=plain.event_id,
        data=plain.data,
        source=Source(plain.sent_by) if plain.sent_by else Source.MESSAGE,
    )


def _from_eventbridge(message: dict[str, Any]) -> Completion | None:
    try:
        envelope = _EventBridgeEvent.model_validate(message)
        event = _StripeEvent.model_validate(envelope.detail)
    except ValidationError as error:
        raise InvalidMessage(_describe(error)) from None  # not chained: see above
    outcome = STRIPE_OUTCOMES.get(event.type)
    obj = event.data.get("object")
    if outcome is None or not isinstance(obj, dict):
        return None
    process_id = _process_id_of(obj)
    if process_id is None:
        return None  # a payment some other flow started: not ours
    payment_status = obj.get("payment_status")
    if event.type == "checkout.session.completed" and not (
        isinstance(payment_status, str) and payment_status in _SETTLED_PAYMENT_STATUSES
    ):
        return None
    data: dict[str, Any] = {
        key: obj[key] for key in _STRIPE_RESULT_FIELDS if _is_stripe_value(obj.get(key))
    }
    data.update(event_type=event.type, event_id=event.id, payment_id=_short_text(obj.get("id")))
    return Completion(
        process_id=process_id,
        outcome=outcome,
        event_id=event.id,
        event_type=event.type,
        data=data,
        source=Source.STRIPE,
    )


def _parse(body: str) -> Any:
    """Strict JSON: what cannot be stored or sent on as JSON is refused here, not later."""
    try:
        message = json.loads(body, parse_constant=_non_finite, parse_float=_finite_float)
    except RecursionError as error:
        raise InvalidMessage("body is nested too deeply") from error
    except ValueError as error:
        raise InvalidMessage("body is not JSON") from error
    try:
        json.dumps(message, ensure_ascii=False).encode()
    except RecursionError as error:
        raise InvalidMessage("body is nested too deeply") from error
    except UnicodeEncodeError as error:
        raise InvalidMessage("body is not JSON: a string holds an unpaired surrogate") from error
    return message


def _non_finite(text: str) -> NoReturn:
    raise ValueError(f"{text} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e999 would otherwise arrive as inf
        raise ValueError("number out of range")
    return number


def _short_text(value: Any) -> str | None:
    return value if isinstance(value, str) and len(value) <= MAX_STRIPE_TEXT else None


def _is_stripe_value(value: Any) -> bool:
    """An amount (Stripe's integers are 64-bit; a JSON boolean is none) or a short code."""
    if isinstance(value, int) and not isinstance(value, bool):
        return -(2**63) <= value < 2**63
    return _short_text(value) is not None


def _process_id_of(obj: dict[str, Any]) -> str | None:
    """The process id in client_reference_id or metadata.process_id; the two must agree."""
    metadata = obj.get("metadata")
    candidates = {
        candidate
        for candidate in (
            obj.get("client_reference_id"),
            metadata.get("process_id") if isinstance(metadata, dict) else None,
        )
        if isinstance(candidate, str) and _PROCESS_ID.fullmatch(candidate)
    }
    if len(candidates) > 1:
        raise InvalidMessage("client_reference_id and metadata.process_id name different processes")
    return candidates.pop() if candidates else None


def _describe(error: ValidationError) -> str:
    """Field names and messages only: the rejected values may be personal data, and so may
    a key nobody asked for (only keys that look like field names are named)."""
    problems = [f"{_field_path(item['loc'])}: {item['msg']}" for item in error.errors()]
    more = len(problems) - MAX_PROBLEMS_NAMED
    return "; ".join(problems[:MAX_PROBLEMS_NAMED]) + (f"; and {more} more" if more > 0 else "")


def _field_path(loc: tuple[int | str, ...]) -> str:
    parts = [
        str(part) if isinstance(part, int) or _FIELD_NAME.fullmatch(part) else "?" for part in loc
    ]
    return ".".join(parts) or "body"
