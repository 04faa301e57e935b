from __future__ import annotations

import json
from typing import Any

import pytest

from devstack.samples import SAMPLE_PROCESS_ID, load_sample, stripe_event
from landbot_resume.events import InvalidMessage, completion_from_message

PID = "pr_" + "a" * 32


def body(event: dict[str, Any]) -> str:
    return json.dumps(event)


@pytest.mark.parametrize(
    ("event_type", "outcome"),
    [
        ("checkout.session.completed", "paid"),
        ("checkout.session.async_payment_failed", "failed"),
        ("checkout.session.expired", "expired"),
    ],
)
def test_stripe_checkout_events_map_to_outcomes(event_type: str, outcome: str) -> None:
    event = stripe_event(event_type, PID)
    completion = completion_from_message(body(event))
    assert completion is not None
    assert completion.process_id == PID
    assert completion.outcome == outcome
    assert completion.event_id == event["detail"]["id"]
    assert completion.data["currency"] == "eur"
    assert completion.data["amount_total"] == 4900


def test_customer_details_never_reach_the_result() -> None:
    completion = completion_from_message(body(stripe_event("checkout.session.completed", PID)))
    assert completion is not None
    assert "ada@example.com" not in json.dumps(completion.model_dump())


def test_the_process_id_may_come_from_metadata_alone() -> None:
    event = stripe_event("checkout.session.completed", PID)
    event["detail"]["data"]["object"]["client_reference_id"] = None
    completion = completion_from_message(body(event))
    assert completion is not None and completion.process_id == PID


def test_a_checkout_for_no_process_is_not_ours() -> None:
    event = stripe_event("checkout.session.completed", PID)
    session = event["detail"]["data"]["object"]
    session["client_reference_id"], session["metadata"] = None, {}
    assert completion_from_message(body(event)) is None


def test_a_reference_that_is_not_a_process_id_is_not_ours() -> None:
    event = stripe_event("checkout.session.completed", "order-1042")
    assert completion_from_message(body(event)) is None


def test_a_completed_checkout_awaiting_a_delayed_payment_is_not_an_outcome_yet() -> None:
    event = stripe_event("checkout.session.completed", PID)
    event["detail"]["data"]["object"]["payment_status"] = "unpaid"
    assert completion_from_message(body(event)) is None


def test_event_types_without_an_outcome_are_ignored() -> None:
    event = stripe_event("checkout.session.completed", PID)
    event["detail-type"] = event["detail"]["type"] = "customer.created"
    assert completion_from_message(body(event)) is None


def test_the_sqs_samples_carry_what_the_resume_function_expects() -> None:
    record = load_sample("sqs/stripe-checkout-session-completed.json")["Records"][0]
    completion = completion_from_message(record["body"])
    assert completion is not None
    assert (completion.process_id, completion.outcome) == (SAMPLE_PROCESS_ID, "paid")
    plain = load_sample("sqs/completion-message.json")["Records"][0]
    completion = completion_from_message(plain["body"])
    assert completion is not None
    assert (completion.outcome, completion.event_id) == ("approved", "kyc-check-7781")
    assert completion.data == {"level": "full"}


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ("not json", "JSON"),
        ("[1, 2]", "object"),
        (json.dumps({"process_id": PID}), "status"),
        (json.dumps({"process_id": "../pr_1", "status": "paid"}), "process_id"),
        (json.dumps({"process_id": PID, "status": "Paid!"}), "status"),
        (json.dumps({"process_id": PID, "status": "paid", "data": {"x": "y" * 5000}}), "data"),
        (json.dumps({"detail-type": "checkout.session.completed", "source": "s"}), "detail"),
    ],
)
def test_malformed_messages_are_rejected_with_the_field_named(raw: str, named: str) -> None:
    with pytest.raises(InvalidMessage, match=named):
        completion_from_message(raw)


def test_rejections_do_not_echo_values() -> None:
    secret = "ada@example.com"
    with pytest.raises(InvalidMessage) as caught:
        completion_from_message(json.dumps({"process_id": secret, "status": "paid"}))
    assert secret not in str(caught.value)
