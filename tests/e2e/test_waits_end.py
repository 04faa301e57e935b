"""No customer left parked, on the local stack: a wait times out at its timeout block, the
bot calls a wait off, an outcome arriving after either is recorded (never replayed), and an
operator retries a FAILED process or resumes a customer at a block of their choice with the
landbot-resume CLI."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import pytest
import requests

from devstack.samples import stripe_event
from devstack.stack import LocalStack
from landbot_resume.cli import main
from tests.integration.conftest import wait_until

BOT, NODE, TIMEOUT_NODE = 1010178, "Nkqgn6xkf", "Ntimeout"
# The local stack sweeps every second (measured: within 1 s of the deadline when Landbot's
# rate limit is not the bottleneck); the bound leaves room for a busy test machine.
LOCAL_PRECISION_SECONDS = 8.0


def add_customer(stack: LocalStack, customer_id: int) -> None:
    assert stack.simulator is not None
    stack.simulator.add_customer(
        customer_id, {"data": {"type": "object", "value": {}, "extra": {}}}
    )


def start(stack: LocalStack, customer_id: int, **extra: Any) -> dict[str, Any]:
    answer = requests.post(
        stack.webhook_url,
        json={"bot_id": BOT, "node_id": NODE, "customer_id": customer_id, **extra},
        headers={"X-Webhook-Token": stack.webhook_token},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def view(stack: LocalStack, process_id: str) -> dict[str, Any]:
    answer = requests.get(
        f"{stack.webhook_url}/{process_id}",
        headers={"X-Webhook-Token": stack.webhook_token},
        timeout=10,
    )
    found: dict[str, Any] = answer.json()
    return found


def cancel(stack: LocalStack, process_id: str) -> requests.Response:
    return requests.post(
        f"{stack.webhook_url}/{process_id}/cancel",
        headers={"X-Webhook-Token": stack.webhook_token},
        timeout=10,
    )


def jumps(stack: LocalStack, customer_id: int) -> list[Any]:
    assert stack.simulator is not None
    return [
        call
        for call in stack.simulator.calls()
        if call.path.startswith(f"/v1/customers/{customer_id}/assign_bot/") and call.status == 200
    ]


def settled(stack: LocalStack) -> bool:
    return sum(stack.queue_depths().values()) == 0


def cli(*args: str, stack: LocalStack) -> int:
    endpoint = stack.resources.endpoint
    assert endpoint is not None
    return main([*args, "--endpoint-url", endpoint])


def test_a_customer_who_never_pays_is_resumed_at_the_timeout_block(
    stack: LocalStack, customer_id: int
) -> None:
    add_customer(stack, customer_id)
    created = start(stack, customer_id, timeout_seconds=2, timeout_node_id=TIMEOUT_NODE)
    process_id = created["process_id"]
    deadline = datetime.fromisoformat(created["timeout_at"]).timestamp()
    assert created["status"] == "PENDING"

    assert wait_until(lambda: view(stack, process_id)["status"] == "RESUMED", timeout=20)

    (jump,) = jumps(stack, customer_id)
    assert jump.body == {"launch": True, "node": TIMEOUT_NODE}
    resumed_at = time.time() - (time.monotonic() - jump.time)
    assert 0 <= resumed_at - deadline < LOCAL_PRECISION_SECONDS
    assert view(stack, process_id)["outcome"] == "timeout"
    assert stack.simulator is not None
    customer = stack.simulator.customer(customer_id)
    assert customer["fields"]["data"]["value"]["status"] == "timeout"
    assert customer["node"] == TIMEOUT_NODE

    # The payment comes after all: recorded on the process, never replayed to the bot.
    stack.put_event(stripe_event("checkout.session.completed", process_id))
    assert wait_until(lambda: view(stack, process_id)["late_outcome"] is not None)
    late = view(stack, process_id)["late_outcome"]
    assert (late["outcome"], late["source"]) == ("paid", "stripe")
    assert late["event_id"].startswith("evt_")
    assert wait_until(lambda: settled(stack))
    assert len(jumps(stack, customer_id)) == 1
    assert stack.simulator.customer(customer_id)["node"] == TIMEOUT_NODE


def test_a_payment_before_the_deadline_wins(stack: LocalStack, customer_id: int) -> None:
    add_customer(stack, customer_id)
    process_id = start(stack, customer_id, timeout_seconds=3, timeout_node_id=TIMEOUT_NODE)[
        "process_id"
    ]
    stack.put_event(stripe_event("checkout.session.completed", process_id))
    assert wait_until(lambda: view(stack, process_id)["status"] == "RESUMED")
    time.sleep(4)  # past the deadline: no timeout comes
    assert [jump.body["node"] for jump in jumps(stack, customer_id)] == [NODE]
    assert view(stack, process_id)["outcome"] == "paid"


def test_the_bot_calls_a_wait_off_and_a_later_payment_is_only_recorded(
    stack: LocalStack, customer_id: int
) -> None:
    add_customer(stack, customer_id)
    process_id = start(stack, customer_id, timeout_seconds=2)["process_id"]

    answer = cancel(stack, process_id)
    assert answer.status_code == 200
    assert answer.json()["status"] == "CANCELLED"
    assert cancel(stack, process_id).json() == answer.json()  # a retried call

    stack.put_event(stripe_event("checkout.session.completed", process_id))
    assert wait_until(lambda: view(stack, process_id)["late_outcome"] is not None)
    time.sleep(3)  # past the deadline: a cancelled wait does not time out either
    assert wait_until(lambda: settled(stack))
    assert jumps(stack, customer_id) == []
    assert view(stack, process_id)["status"] == "CANCELLED"


def test_a_finished_process_is_not_cancelled(stack: LocalStack, customer_id: int) -> None:
    add_customer(stack, customer_id)
    process_id = start(stack, customer_id)["process_id"]
    stack.put_event(stripe_event("checkout.session.completed", process_id))
    assert wait_until(lambda: view(stack, process_id)["status"] == "RESUMED")

    answer = cancel(stack, process_id)

    assert answer.status_code == 409
    assert answer.json() == {
        "message": "Not cancelled: the process already ended RESUMED",
        "errors": [],
    }
    unknown = cancel(stack, "pr_" + "0" * 32)
    assert (unknown.status_code, unknown.json()) == (404, {"message": "No such process"})


def test_an_operator_retries_a_failed_process_once_its_cause_is_fixed(
    stack: LocalStack, customer_id: int, capsys: pytest.CaptureFixture[str]
) -> None:
    # The customer is not in Landbot (yet): Landbot answers 404 and the process fails.
    process_id = start(stack, customer_id)["process_id"]
    stack.put_event(stripe_event("checkout.session.completed", process_id))
    assert wait_until(lambda: view(stack, process_id)["status"] == "FAILED")
    add_customer(stack, customer_id)

    assert cli("processes", "retry", process_id, stack=stack) == 0

    assert wait_until(lambda: view(stack, process_id)["status"] == "RESUMED")
    assert stack.simulator is not None
    customer = stack.simulator.customer(customer_id)
    assert (customer["node"], customer["fields"]["data"]["value"]["status"]) == (NODE, "paid")
    capsys.readouterr()
    assert cli("processes", "show", process_id, stack=stack) == 0
    shown = capsys.readouterr().out
    assert '"cause": "operator"' in shown and '"status": "FAILED"' in shown


def test_an_operator_resumes_a_waiting_customer_at_a_block_of_their_choice(
    stack: LocalStack, customer_id: int
) -> None:
    add_customer(stack, customer_id)
    process_id = start(stack, customer_id)["process_id"]

    command = ["processes", "cancel", process_id, "--resume-at", "Nsorry", "--status", "closed"]
    assert cli(*command, stack=stack) == 0

    assert wait_until(lambda: view(stack, process_id)["status"] == "RESUMED")
    assert stack.simulator is not None
    customer = stack.simulator.customer(customer_id)
    assert (customer["node"], customer["fields"]["data"]["value"]["status"]) == (
        "Nsorry",
        "closed",
    )
    stack.put_event(stripe_event("checkout.session.completed", process_id))
    assert wait_until(lambda: view(stack, process_id)["late_outcome"] is not None)
    assert len(jumps(stack, customer_id)) == 1
