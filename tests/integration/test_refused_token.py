"""A Landbot that refuses the agent token, on a local stack of its own whose containers pause
for 2 s after a refusal and whose held completions come back after 2, 4, 8... s (the
template's 30 s, shortened): no process fails, and once the owner stores the right token
(or Landbot takes the old one again) every held completion resumes by itself, with no step
per process."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest

from devstack.bots import BOT_ID, NODE_ID
from devstack.samples import sqs_event, stripe_event
from devstack.stack import LocalStack, Ports
from tests.integration.conftest import wait_until

RETRY_SECONDS = 2
_customers = itertools.count(900_000_001)  # this stack has a simulator of its own
# What LocalStack points this process' boto3 at; the session's stack needs it back after.
STACK_ENVIRONMENT = (
    "AWS_ENDPOINT_URL",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "POWERTOOLS_TRACE_DISABLED",
)


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with pytest.MonkeyPatch.context() as patch:
        for name in STACK_ENVIRONMENT:  # each is restored as it is now (set or not)
            patch.setenv(name, os.environ.get(name, ""))
        with LocalStack(
            Ports.ephemeral(),
            environment={"LANDBOT_AUTH_RETRY_SECONDS": str(RETRY_SECONDS)},
            quiet=True,
        ) as running:
            yield running


@pytest.fixture
def landbot_token(stack: LocalStack) -> Iterator[str]:
    """The token the stack started with; Landbot accepts it again after each test."""
    token = stack.landbot_token
    yield token
    assert stack.simulator is not None
    stack.simulator.set_tokens(token)
    stack.store_landbot_token(token)


def new_customers(count: int) -> list[int]:
    return [next(_customers) for _ in range(count)]


def calls_for(stack: LocalStack, customers: list[int]) -> list[tuple[str, int]]:
    assert stack.simulator is not None
    return [
        (call.path, call.status)
        for call in stack.simulator.calls()
        if any(f"/customers/{customer}/" in call.path for customer in customers)
    ]


def statuses(stack: LocalStack, process_ids: list[str]) -> list[str]:
    every = stack.statuses()
    return [every[process_id]["status"] for process_id in process_ids]


def test_completions_held_while_the_token_is_refused_resume_once_it_is_right(
    stack: LocalStack, landbot_token: str
) -> None:
    assert stack.simulator is not None
    customers = new_customers(3)
    process_ids = [stack.start_wait(customer) for customer in customers]
    stack.simulator.set_tokens("the-new-token")  # e.g. the old one was revoked
    for process_id in process_ids:
        stack.put_event(stripe_event("checkout.session.completed", process_id))
    # Refused twice at least (each time with the secret read afresh), never failed.
    assert wait_until(lambda: len(calls_for(stack, customers)) >= 4, timeout=30)
    assert {status for _, status in calls_for(stack, customers)} == {401}
    assert set(statuses(stack, process_ids)) <= {"PENDING", "RESUMING"}

    stack.store_landbot_token("the-new-token")  # what the owner does; nothing per process
    assert wait_until(lambda: statuses(stack, process_ids) == ["RESUMED"] * 3, timeout=60)
    for customer in customers:
        assert stack.simulator.customer(customer)["node"] == NODE_ID
        jumps = [c for c in calls_for(stack, [customer]) if "/assign_bot/" in c[0]]
        assert jumps == [(f"/v1/customers/{customer}/assign_bot/{BOT_ID}/", 200)]
    assert wait_until(lambda: stack.queue_depths() == {"queue": 0, "dlq": 0})


def test_a_batch_for_a_landbot_refusing_the_token_costs_two_calls_and_no_process(
    stack: LocalStack, landbot_token: str
) -> None:
    """One record finds out (a refusal, the secret read afresh, a refusal); the rest of the
    batch, and the next batch within the cool-down, are handed back without a call."""
    assert stack.simulator is not None
    customers = new_customers(5)
    process_ids = [stack.start_wait(customer) for customer in customers]
    stack.simulator.set_tokens()  # Landbot answers 401 to everything
    event = sqs_event(*(stripe_event("checkout.session.completed", p) for p in process_ids))
    handed_back = {f"m{index}" for index in range(5)}
    assert {f["itemIdentifier"] for f in stack.resume.invoke(event)["batchItemFailures"]} == (
        handed_back
    )
    assert [status for _, status in calls_for(stack, customers)] == [401, 401]
    assert {f["itemIdentifier"] for f in stack.resume.invoke(event)["batchItemFailures"]} == (
        handed_back
    )
    assert len(calls_for(stack, customers)) == 2  # the cool-down: not one more call
    assert set(statuses(stack, process_ids)) <= {"PENDING", "RESUMING"}


def test_completions_held_during_a_refusal_window_resume_when_it_ends(
    stack: LocalStack, landbot_token: str
) -> None:
    """Landbot refuses every token for a while, then takes the same one again: nobody
    touches the secret, the containers find out after their pause."""
    assert stack.simulator is not None
    customers = new_customers(2)
    process_ids = [stack.start_wait(customer) for customer in customers]
    stack.simulator.set_tokens()
    for process_id in process_ids:
        stack.send_completion({"process_id": process_id, "status": "approved"})
    assert wait_until(lambda: len(calls_for(stack, customers)) >= 2, timeout=30)
    assert set(statuses(stack, process_ids)) <= {"PENDING", "RESUMING"}
    stack.simulator.set_tokens(landbot_token)
    assert wait_until(lambda: statuses(stack, process_ids) == ["RESUMED"] * 2, timeout=60)
    for customer in customers:
        assert stack.simulator.customer(customer)["fields"]["data"]["value"]["status"] == (
            "approved"
        )
