"""The whole story on the local stack, told as a timeline; exits 0 only when both stories
ended right.

1. A customer in a Landbot bot asks to pay; the bot's Webhook block starts a process and
   parks on "please wait"; Stripe reports the paid Checkout Session on EventBridge; the bot
   continues at the block that was waiting, with `status: paid` in its field. The same
   event, delivered twice, resumes it once.
2. Another customer never pays: their wait has a short timeout, and when it passes the bot
   continues at the timeout block with `status: timeout` (the local stack sweeps for due
   timeouts every second; on AWS, once a minute).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import requests

from devstack.bots import BOT_ID, CUSTOMER_ID, NODE_ID, SECOND_CUSTOMER_ID, TIMEOUT_NODE_ID
from devstack.samples import stripe_event
from devstack.stack import LocalStack, Ports

WAIT_SECONDS = 20
DEMO_TIMEOUT_SECONDS = 3


class Timeline:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def say(self, text: str) -> None:
        print(f"  {time.monotonic() - self.start:6.2f}s  {text}", flush=True)


def wait_for_status(stack: LocalStack, process_id: str, wanted: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        state: dict[str, Any] = requests.get(
            f"{stack.webhook_url}/{process_id}",
            headers={"X-Webhook-Token": stack.webhook_token},
            timeout=30,
        ).json()
        if state.get("status") in wanted or time.monotonic() > deadline:
            return state
        time.sleep(0.1)


def start_wait(stack: LocalStack, line: Timeline, body: dict[str, Any]) -> dict[str, Any] | None:
    """The Webhook block's call; None unless it answered 201."""
    answer = requests.post(
        stack.webhook_url,
        json={"bot_id": BOT_ID, "node_id": NODE_ID, **body},
        headers={"X-Webhook-Token": stack.webhook_token},
        timeout=30,
    )
    process: dict[str, Any] = answer.json()
    line.say(
        f"Webhook block POST /processes -> {answer.status_code}"
        f" process_id={process.get('process_id')} status={process.get('status')}"
    )
    return process if answer.status_code == 201 else None


def paid_story(stack: LocalStack, line: Timeline) -> bool:
    simulator = stack.simulator
    assert simulator is not None, "the demo reads the Landbot simulator's state"
    simulator.add_customer(CUSTOMER_ID, {"data": {"type": "object", "value": {}, "extra": {}}})
    line.say(f"customer {CUSTOMER_ID} chats with bot {BOT_ID}; Set Variable @data = {{}}")
    process = start_wait(
        stack,
        line,
        {"customer_id": CUSTOMER_ID, "reference": "order-1042", "context": {"plan": "pro"}},
    )
    if process is None:
        return False
    process_id = process["process_id"]
    line.say('bot shows "please wait" and parks (a block with no outgoing connection)')

    event = stripe_event("checkout.session.completed", process_id)
    stack.put_event(event)
    line.say(
        f"customer pays (Payment Link ?client_reference_id={process_id});"
        f" Stripe puts {event['detail-type']} on EventBridge"
    )
    state = wait_for_status(stack, process_id, {"RESUMED", "FAILED"})
    line.say(f"resume function: process {state.get('status')} (outcome {state.get('outcome')})")
    for call in simulator.calls():
        shown = call.body.get("value", {}).get("status") if "/fields/" in call.path else call.body
        line.say(f"Landbot API got {call.method} {call.path} {shown} -> {call.status}")

    stack.put_event(event)
    line.say("Stripe delivers the same event again (at-least-once delivery)")
    deadline = time.monotonic() + WAIT_SECONDS
    while sum(stack.queue_depths().values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    calls = [call for call in simulator.calls() if f"/customers/{CUSTOMER_ID}/" in call.path]
    customer = simulator.customer(CUSTOMER_ID)
    jumps = [call for call in calls if "/assign_bot/" in call.path]
    line.say(f"duplicate acknowledged: {len(jumps)} assign_bot call(s) in all")

    field = customer["fields"].get("data", {}).get("value", {})
    resumed = (
        state.get("status") == "RESUMED"
        and field.get("status") == "paid"
        and customer["node"] == NODE_ID
        and customer["bot_id"] == BOT_ID
        and customer["launched"] is True
        and len(calls) == 2
        and len(jumps) == 1
        and calls[0].path.endswith("/fields/data/")
    )
    line.say(
        f"customer {CUSTOMER_ID} is at block {customer['node']} of bot {customer['bot_id']}"
        f" with @data.status = {field.get('status')!r}"
    )
    return resumed


def timeout_story(stack: LocalStack, line: Timeline) -> bool:
    simulator = stack.simulator
    assert simulator is not None, "the demo reads the Landbot simulator's state"
    simulator.add_customer(
        SECOND_CUSTOMER_ID, {"data": {"type": "object", "value": {}, "extra": {}}}
    )
    line.say(f"customer {SECOND_CUSTOMER_ID} asks to pay too, then closes the tab")
    process = start_wait(
        stack,
        line,
        {
            "customer_id": SECOND_CUSTOMER_ID,
            "reference": "order-1043",
            "timeout_seconds": DEMO_TIMEOUT_SECONDS,
            "timeout_node_id": TIMEOUT_NODE_ID,
        },
    )
    if process is None:
        return False
    line.say(
        f"the wait times out at {process['timeout_at']} ({DEMO_TIMEOUT_SECONDS} s) at block"
        f" {TIMEOUT_NODE_ID}; no payment comes"
    )
    state = wait_for_status(stack, process["process_id"], {"RESUMED", "FAILED"})
    jumps = [
        call
        for call in simulator.calls()
        if f"/customers/{SECOND_CUSTOMER_ID}/assign_bot/" in call.path
    ]
    late = "no jump"
    if jumps:
        jumped_at = time.time() - (time.monotonic() - jumps[-1].time)
        deadline = datetime.fromisoformat(process["timeout_at"]).timestamp()
        late = f"{jumped_at - deadline:.1f} s after the deadline"
    line.say(
        f"timeouts sweep: process {state.get('status')} (outcome {state.get('outcome')}), {late}"
    )
    customer = simulator.customer(SECOND_CUSTOMER_ID)
    field = customer["fields"].get("data", {}).get("value", {})
    line.say(
        f"customer {SECOND_CUSTOMER_ID} is at block {customer['node']} with"
        f" @data.status = {field.get('status')!r}"
    )
    return (
        state.get("status") == "RESUMED"
        and state.get("outcome") == "timeout"
        and field.get("status") == "timeout"
        and customer["node"] == TIMEOUT_NODE_ID
        and len(jumps) == 1
    )


def play(stack: LocalStack) -> bool:
    line = Timeline()
    assert stack.simulator is not None
    line.say(f"stack up: API {stack.api_url}, Landbot simulator {stack.simulator.url}")
    paid = paid_story(stack, line)
    print("RESUMED: the bot continued at the right block with the result." if paid else "FAILED")
    timed_out = timeout_story(stack, line)
    print("TIMED OUT: the bot continued at the timeout block." if timed_out else "FAILED (timeout)")
    return paid and timed_out


def main() -> int:
    print("landbot-resume demo: a paid Stripe Checkout resumes a parked Landbot bot,")
    print("and a wait nobody pays for ends at its timeout block")
    # Free ports, so the demo runs beside a `make run` stack.
    with LocalStack(Ports.ephemeral(), quiet=True) as stack:
        ok = play(stack)
    return 0 if ok else 1
