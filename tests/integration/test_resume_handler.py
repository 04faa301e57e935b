"""The resume function against moto and the Landbot simulator, fed SQS events directly."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from devstack.landbot_simulator import Faults, LandbotSimulator
from devstack.samples import SAMPLE_PROCESS_ID, load_sample, sqs_event, stripe_event
from devstack.stack import LocalStack

Api = Callable[..., requests.Response]
NODE = "Nkqgn6xkf"
BOT = 1010178


@pytest.fixture
def start(api: Api, simulator: LandbotSimulator) -> Callable[..., str]:
    def start(
        customer_id: int, *, field: str = "data", known: bool = True, has_field: bool = True
    ) -> str:
        if known:
            fields = {field: {"type": "object", "value": {}, "extra": {}}} if has_field else {}
            simulator.add_customer(customer_id, fields)
        answer = api(
            "POST",
            json={
                "bot_id": BOT,
                "node_id": NODE,
                "customer_id": customer_id,
                "field": field,
                "reference": f"ref-{customer_id}",
            },
        )
        assert answer.status_code == 201
        return str(answer.json()["process_id"])

    return start


@pytest.fixture
def faults(simulator: LandbotSimulator) -> Iterator[Callable[[Faults], None]]:
    yield simulator.set_faults
    simulator.set_faults(Faults())


def calls_for(simulator: LandbotSimulator, customer_id: int) -> list[tuple[str, str, Any]]:
    return [
        (call.method, call.path, call.body)
        for call in simulator.calls()
        if f"/customers/{customer_id}/" in call.path
    ]


def state(api: Api, process_id: str) -> dict[str, Any]:
    result: dict[str, Any] = api("GET", f"/{process_id}").json()
    return result


def test_a_paid_checkout_sets_the_field_then_jumps(
    stack: LocalStack,
    simulator: LandbotSimulator,
    api: Api,
    start: Callable[..., str],
    customer_id: int,
) -> None:
    process_id = start(customer_id, field="payment")
    event = stripe_event("checkout.session.completed", process_id)
    assert stack.resume.invoke(sqs_event(event)) == {"batchItemFailures": []}
    calls = calls_for(simulator, customer_id)
    assert [(method, path) for method, path, _ in calls] == [
        ("PUT", f"/v1/customers/{customer_id}/fields/payment/"),
        ("PUT", f"/v1/customers/{customer_id}/assign_bot/{BOT}/"),
    ]
    field = calls[0][2]
    assert (field["type"], field["extra"]) == ("object", {})
    assert field["value"]["status"] == "paid"
    assert field["value"]["process_id"] == process_id
    assert field["value"]["reference"] == f"ref-{customer_id}"
    assert calls[1][2] == {"launch": True, "node": NODE}
    customer = simulator.customer(customer_id)
    assert (customer["node"], customer["launched"]) == (NODE, True)
    assert state(api, process_id)["status"] == "RESUMED"


def test_the_same_event_twice_resumes_once(
    stack: LocalStack, simulator: LandbotSimulator, start: Callable[..., str], customer_id: int
) -> None:
    process_id = start(customer_id)
    event = stripe_event("checkout.session.completed", process_id)
    # Both copies in one batch run side by side: one resumes, the other finds the process
    # claimed and is handed back for later, when it is acknowledged as a duplicate.
    first = stack.resume.invoke(sqs_event(event, event))
    assert first["batchItemFailures"] in (
        [],
        [{"itemIdentifier": "m0"}],
        [{"itemIdentifier": "m1"}],
    )
    assert stack.resume.invoke(sqs_event(event)) == {"batchItemFailures": []}
    jumps = [c for c in calls_for(simulator, customer_id) if "/assign_bot/" in c[1]]
    assert len(jumps) == 1


def test_a_field_the_customer_lacks_is_created(
    stack: LocalStack, simulator: LandbotSimulator, start: Callable[..., str], customer_id: int
) -> None:
    process_id = start(customer_id, has_field=False)
    stack.resume.invoke(sqs_event(stripe_event("checkout.session.expired", process_id)))
    field, jump = (
        f"/v1/customers/{customer_id}/fields/data/",
        f"/v1/customers/{customer_id}/assign_bot/{BOT}/",
    )
    assert [(method, path) for method, path, _ in calls_for(simulator, customer_id)] == [
        ("PUT", field),
        ("POST", field),
        ("PUT", jump),
    ]
    assert simulator.customer(customer_id)["fields"]["data"]["value"]["status"] == "expired"


def test_only_the_bad_records_of_a_batch_fail(
    stack: LocalStack, start: Callable[..., str], customer_id: int, api: Api
) -> None:
    process_id = start(customer_id)
    good = stripe_event("checkout.session.completed", process_id)
    unknown = {"process_id": "pr_" + "e" * 32, "status": "paid"}
    foreign = stripe_event("checkout.session.completed", "not-one-of-ours")
    response = stack.resume.invoke(sqs_event("{oops", good, unknown, foreign))
    assert response == {"batchItemFailures": [{"itemIdentifier": "m0"}, {"itemIdentifier": "m2"}]}
    assert state(api, process_id)["status"] == "RESUMED"


def test_landbot_refusing_fails_the_process_with_its_reason(
    stack: LocalStack, start: Callable[..., str], customer_id: int, api: Api
) -> None:
    process_id = start(customer_id, known=False)  # Landbot has no such customer
    event = stripe_event("checkout.session.completed", process_id)
    assert stack.resume.invoke(sqs_event(event)) == {"batchItemFailures": []}
    failed = state(api, process_id)
    assert failed["status"] == "FAILED"
    assert failed["failure_reason"] == "create field answered 404: Not found."


def test_landbot_down_keeps_the_record_for_a_retry(
    stack: LocalStack,
    simulator: LandbotSimulator,
    start: Callable[..., str],
    customer_id: int,
    api: Api,
    faults: Callable[[Faults], None],
) -> None:
    process_id = start(customer_id)
    event = sqs_event(stripe_event("checkout.session.completed", process_id))
    faults(Faults(error_rate=1.0))
    assert stack.resume.invoke(event) == {"batchItemFailures": [{"itemIdentifier": "m0"}]}
    assert state(api, process_id)["status"] == "RESUMING"
    faults(Faults())
    time.sleep(1.1)  # a released claim is free from the next second on
    assert stack.resume.invoke(event) == {"batchItemFailures": []}
    assert state(api, process_id)["status"] == "RESUMED"
    assert simulator.customer(customer_id)["node"] == NODE


def test_a_plain_completion_message_resumes_with_its_data(
    stack: LocalStack, simulator: LandbotSimulator, start: Callable[..., str], customer_id: int
) -> None:
    process_id = start(customer_id)
    event = load_sample("sqs/completion-message.json")
    event["Records"][0]["body"] = event["Records"][0]["body"].replace(SAMPLE_PROCESS_ID, process_id)
    assert stack.resume.invoke(event) == {"batchItemFailures": []}
    value = simulator.customer(customer_id)["fields"]["data"]["value"]
    assert (value["status"], value["level"]) == ("approved", "full")
