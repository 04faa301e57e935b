"""Who may call the webhook API: only a request carrying the token in X-Webhook-Token, and a
rotated token takes over in warm containers without a deploy."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from devstack.gateway import Gateway
from devstack.lambdas import ContainerPool
from devstack.samples import load_sample
from devstack.stack import LocalStack
from tests.integration.conftest import count_processes

UNAUTHORIZED = {"message": "Unauthorized"}
# How a token can be almost right: each is derived from the real one.
NEAR_MISSES: dict[str, Callable[[str], str]] = {
    "empty": lambda token: "",
    "wrong": lambda token: "x" * len(token),
    "other case": str.swapcase,
    "upper case": str.upper,
    "a prefix": lambda token: token[:-1],
    "one more character": lambda token: token + "x",
    "leading space": lambda token: " " + token,
    "trailing space": lambda token: token + " ",
    "trailing newline": lambda token: token + "\n",
    "with a NUL": lambda token: token + "\x00",
    "with a lone surrogate": lambda token: token + "\udc80",
    "sent twice": lambda token: f"{token},{token}",
    "as a Bearer token": lambda token: f"Bearer {token}",
}


def body(customer_id: int) -> dict[str, Any]:
    return {"bot_id": 1010178, "node_id": "Nkqgn6xkf", "customer_id": customer_id}


def create_event(headers: dict[str, str], customer_id: int) -> dict[str, Any]:
    """The sample API Gateway event for POST /processes, with these exact headers."""
    event = load_sample("http/create-process.json")
    event["headers"] = {"content-type": "application/json", **headers}
    event["body"] = json.dumps(body(customer_id))
    return event


def get_event(headers: dict[str, str], process_id: str) -> dict[str, Any]:
    event = load_sample("http/get-process.json")
    event["headers"] = headers
    event["pathParameters"] = {"process_id": process_id}
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/processes/{process_id}"
    return event


@pytest.mark.parametrize("near_miss", NEAR_MISSES)
def test_a_near_miss_token_is_refused_like_no_token(
    stack: LocalStack, customer_id: int, near_miss: str
) -> None:
    """The function compares the exact header value: whatever reaches it padded, re-cased or
    cut is refused, with the same answer as no token at all (no hint about the secret)."""
    headers = {"x-webhook-token": NEAR_MISSES[near_miss](stack.webhook_token)}
    without = stack.webhook.invoke(create_event({}, customer_id))
    before = count_processes(stack)
    answers = [
        stack.webhook.invoke(create_event(headers, customer_id)),
        stack.webhook.invoke(get_event(headers, f"pr_{'0' * 32}")),
    ]
    assert without["statusCode"] == 401 and json.loads(without["body"]) == UNAUTHORIZED
    assert answers == [without, without]
    assert count_processes(stack) == before


@pytest.mark.parametrize(
    ("where", "request_kwargs"),
    [
        ("query", lambda token: {"params": {"token": token}}),
        ("query, header's name", lambda token: {"params": {"X-Webhook-Token": token}}),
        ("Authorization", lambda token: {"headers": {"Authorization": f"Bearer {token}"}}),
        ("X-Api-Key", lambda token: {"headers": {"X-Api-Key": token}}),
        ("another name", lambda token: {"headers": {"X-Webhook-Tokens": token}}),
        ("the body", lambda token: {"json": {"token": token}}),
    ],
)
def test_the_token_anywhere_but_its_header_is_refused(
    stack: LocalStack,
    customer_id: int,
    where: str,
    request_kwargs: Callable[[str], dict[str, Any]],
) -> None:
    before = count_processes(stack)
    kwargs = request_kwargs(stack.webhook_token)
    if "json" not in kwargs:
        kwargs["json"] = body(customer_id)
    answer = requests.post(stack.webhook_url, timeout=10, **kwargs)
    assert (answer.status_code, answer.json()) == (401, UNAUTHORIZED)
    state = requests.get(
        f"{stack.webhook_url}/pr_{'0' * 32}", timeout=10, **request_kwargs(stack.webhook_token)
    )
    assert (state.status_code, state.json()) == (401, UNAUTHORIZED)
    assert count_processes(stack) == before


def test_every_refusal_is_byte_for_byte_the_same(stack: LocalStack, customer_id: int) -> None:
    token = stack.webhook_token
    answers = [
        requests.post(stack.webhook_url, json=body(customer_id), headers=headers, timeout=10)
        for headers in ({}, {"X-Webhook-Token": "x"}, {"X-Webhook-Token": token[:-1]})
    ]
    assert {(a.status_code, a.content, a.headers.get("Content-Type")) for a in answers} == {
        (401, b'{"message":"Unauthorized"}', "application/json")
    }


@pytest.mark.parametrize("name", ["X-Webhook-Token", "x-webhook-token", "X-WEBHOOK-TOKEN"])
def test_the_header_name_is_case_insensitive(
    stack: LocalStack, customer_id: int, name: str
) -> None:
    headers = {name: stack.webhook_token}
    answer = requests.post(stack.webhook_url, json=body(customer_id), headers=headers, timeout=10)
    assert answer.status_code == 201
    state = requests.get(
        f"{stack.webhook_url}/{answer.json()['process_id']}", headers=headers, timeout=10
    )
    assert state.status_code == 200


# ----------------------------------------------------------------------------- rotation

ROTATION_MAX_AGE = 1  # seconds; 300 by default


@pytest.fixture
def rotating(stack: LocalStack) -> Iterator[tuple[str, str]]:
    """A webhook function of its own (one warm container behind its own HTTP API), reading a
    token secret of its own with a short cache, so the session's token never changes.

    Yields (API URL, secret id); the secret starts as "old-token".
    """
    secret_id = f"rotation-{uuid.uuid4().hex}"
    stack.resources.client("secretsmanager").create_secret(Name=secret_id, SecretString="old")
    environment = {
        **stack.environments["WebhookFunction"],
        "WEBHOOK_TOKEN_SECRET": secret_id,
        "POWERTOOLS_PARAMETERS_MAX_AGE": str(ROTATION_MAX_AGE),
    }
    function = ContainerPool("WebhookFunction", 1, environment=environment, quiet=True)
    function.invoke(create_event({}, 1))
    gateway = Gateway(function, port=0).start()
    try:
        yield gateway.url, secret_id
    finally:
        gateway.stop()
        function.stop()


def test_a_rotated_token_takes_over_within_the_cache_age(
    stack: LocalStack, rotating: tuple[str, str], customer_id: int
) -> None:
    url, secret_id = rotating

    def status(token: str) -> int:
        headers = {"X-Webhook-Token": token}
        answer = requests.post(
            f"{url}/processes", json=body(customer_id), headers=headers, timeout=10
        )
        return answer.status_code

    assert (status("old"), status("new")) == (201, 401)
    stack.resources.client("secretsmanager").put_secret_value(
        SecretId=secret_id, SecretString="new"
    )
    rotated = time.monotonic()
    while status("new") != 201:
        assert time.monotonic() - rotated < ROTATION_MAX_AGE + 3, "the new token never worked"
        time.sleep(0.1)
    before = count_processes(stack)
    assert status("old") == 401
    assert count_processes(stack) == before
