"""The whole flow on the local stack: Landbot's webhook call over HTTP, the payment event on
the bus, the rule, the queue, the poller, the resume function, the simulator."""

from __future__ import annotations

import time

import requests

from devstack.bots import BOT_ID, NODE_ID
from devstack.samples import stripe_event
from devstack.stack import LocalStack
from tests.e2e.conftest import run_stack_command
from tests.integration.conftest import wait_until


def status(stack: LocalStack, process_id: str) -> str:
    answer = requests.get(
        f"{stack.webhook_url}/{process_id}",
        headers={"X-Webhook-Token": stack.webhook_token},
        timeout=10,
    )
    return str(answer.json()["status"])


def test_a_payment_on_the_bus_resumes_the_bot_once(stack: LocalStack, customer_id: int) -> None:
    assert stack.simulator is not None
    process_id = stack.start_wait(customer_id)
    event = stripe_event("checkout.session.completed", process_id)
    stack.put_event(event)
    assert wait_until(lambda: status(stack, process_id) == "RESUMED")
    stack.put_event(event)  # Stripe and EventBridge deliver at least once
    assert wait_until(lambda: sum(stack.queue_depths().values()) == 0)
    calls = [c for c in stack.simulator.calls() if f"/customers/{customer_id}/" in c.path]
    assert [(c.method, c.path) for c in calls] == [
        ("PUT", f"/v1/customers/{customer_id}/fields/data/"),
        ("PUT", f"/v1/customers/{customer_id}/assign_bot/{BOT_ID}/"),
    ]
    assert calls[0].body["value"]["status"] == "paid"
    assert calls[1].body == {"launch": True, "node": NODE_ID}
    customer = stack.simulator.customer(customer_id)
    assert (customer["bot_id"], customer["node"], customer["launched"]) == (BOT_ID, NODE_ID, True)


def test_a_failed_payment_resumes_the_bot_with_failed(stack: LocalStack, customer_id: int) -> None:
    assert stack.simulator is not None
    process_id = stack.start_wait(customer_id)
    stack.put_event(stripe_event("checkout.session.async_payment_failed", process_id))
    assert wait_until(lambda: status(stack, process_id) == "RESUMED")
    assert stack.simulator.customer(customer_id)["fields"]["data"]["value"]["status"] == "failed"


def test_events_the_rule_does_not_match_never_reach_the_queue(
    stack: LocalStack, customer_id: int
) -> None:
    process_id = stack.start_wait(customer_id)
    event = stripe_event("checkout.session.completed", process_id)
    event["source"] = "com.example.not-stripe"
    stack.put_event(event)
    time.sleep(1.5)
    assert status(stack, process_id) == "PENDING"


def test_the_demo_exits_0_after_a_real_resume_and_a_timeout() -> None:
    done = run_stack_command("demo", timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "@data.status = 'paid'" in done.stdout
    assert "is at block Ntimeout7x with @data.status = 'timeout'" in done.stdout
