"""The webhook function behind the local HTTP API, as a Landbot Webhook block calls it."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
import requests

from devstack.samples import load_sample
from devstack.stack import LocalStack
from tests.integration.conftest import count_processes

Api = Callable[..., requests.Response]


def body(customer_id: int, **extra: Any) -> dict[str, Any]:
    return {"bot_id": 1010178, "node_id": "Nkqgn6xkf", "customer_id": customer_id, **extra}


def test_a_webhook_call_starts_a_pending_process(api: Api, customer_id: int) -> None:
    answer = api("POST", json=body(customer_id, reference="order-9", context={"email": "a@b.c"}))
    assert answer.status_code == 201
    created = answer.json()
    assert created["status"] == "PENDING"
    assert created["process_id"].startswith("pr_")
    state = api("GET", f"/{created['process_id']}")
    assert state.status_code == 200
    assert state.json() == created
    # The public state carries no customer id and none of the bot's context.
    assert "customer_id" not in state.text and "a@b.c" not in state.text


def test_a_retried_webhook_call_does_not_start_a_second_process(
    api: Api, stack: LocalStack, customer_id: int
) -> None:
    first = api("POST", json=body(customer_id))
    before = count_processes(stack)
    again = api("POST", json=body(customer_id))
    assert again.status_code == 201
    assert again.json()["process_id"] == first.json()["process_id"]
    assert count_processes(stack) == before


@pytest.mark.parametrize("headers", [{}, {"X-Webhook-Token": "wrong"}, {"X-Webhook-Token": ""}])
def test_without_the_token_nothing_happens(
    api: Api, stack: LocalStack, customer_id: int, headers: dict[str, str]
) -> None:
    before = count_processes(stack)
    answer = requests.post(stack.webhook_url, json=body(customer_id), headers=headers, timeout=10)
    assert (answer.status_code, answer.json()) == (401, {"message": "Unauthorized"})
    assert count_processes(stack) == before
    state = requests.get(f"{stack.webhook_url}/pr_{'0' * 32}", headers=headers, timeout=10)
    assert state.status_code == 401
    created = api("POST", json=body(customer_id)).json()
    refused = requests.post(
        f"{stack.webhook_url}/{created['process_id']}/cancel", headers=headers, timeout=10
    )
    assert (refused.status_code, refused.json()) == (401, {"message": "Unauthorized"})
    assert api("GET", f"/{created['process_id']}").json()["status"] == "PENDING"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"customer_id": "12/../34"}, "customer_id"),
        ({"bot_id": -5}, "bot_id"),
        ({"node_id": "../assign_bot"}, "node_id"),
        ({"field": "Data"}, "field"),
        ({"context": {"x": "y" * 3000}}, "context"),
        ({"unexpected": 1}, "unexpected"),
        ({"timeout_seconds": -1}, "timeout_seconds"),
        ({"timeout_seconds": True}, "timeout_seconds"),
        ({"timeout_seconds": "60"}, "timeout_seconds"),
        ({"timeout_seconds": 1.5}, "timeout_seconds"),
        ({"timeout_seconds": 604800}, "timeout_seconds"),
        ({"timeout_node_id": "../x"}, "timeout_node_id"),
    ],
)
def test_invalid_input_is_named_and_stores_nothing(
    api: Api, stack: LocalStack, customer_id: int, change: dict[str, Any], field: str
) -> None:
    before = count_processes(stack)
    answer = api("POST", json={**body(customer_id), **change})
    assert answer.status_code == 422
    assert [error["field"] for error in answer.json()["errors"]] == [field]
    assert count_processes(stack) == before


def test_a_timeout_is_the_requests_or_none(api: Api, customer_id: int) -> None:
    timed = api("POST", json=body(customer_id, timeout_seconds=900, reference="timed"))
    assert timed.status_code == 201
    created = timed.json()
    deadline = datetime.fromisoformat(created["timeout_at"]) - datetime.fromisoformat(
        created["created_at"]
    )
    assert deadline == timedelta(seconds=900)
    for untimed in (body(customer_id), body(customer_id, timeout_seconds=0, reference="zero")):
        answer = api("POST", json=untimed)
        assert answer.status_code == 201 and answer.json()["timeout_at"] is None


def test_a_timeout_as_long_as_the_process_lifetime_is_refused_saying_so(
    api: Api, customer_id: int
) -> None:
    answer = api("POST", json=body(customer_id, timeout_seconds=604800))
    assert answer.status_code == 422
    assert answer.json()["errors"] == [
        {
            "field": "timeout_seconds",
            "message": "must be less than the process lifetime (604800 s)",
        }
    ]
    assert api("POST", json=body(customer_id, timeout_seconds=604799)).status_code == 201


def test_cancel_answers_the_cancelled_process(api: Api, customer_id: int) -> None:
    process_id = api("POST", json=body(customer_id)).json()["process_id"]
    answer = api("POST", f"/{process_id}/cancel")
    assert answer.status_code == 200
    cancelled = answer.json()
    assert (cancelled["process_id"], cancelled["status"]) == (process_id, "CANCELLED")
    assert api("GET", f"/{process_id}").json() == cancelled
    # A Webhook block sending a body (or retrying) changes nothing.
    assert api("POST", f"/{process_id}/cancel", json={"why": "no"}).json() == cancelled


def test_cancel_of_unknown_and_malformed_process_ids(api: Api) -> None:
    unknown = api("POST", "/pr_" + "0" * 32 + "/cancel")
    assert (unknown.status_code, unknown.json()) == (404, {"message": "No such process"})
    malformed = api("POST", "/not-a-process/cancel")
    assert malformed.status_code == 422
    assert [error["field"] for error in malformed.json()["errors"]] == ["process_id"]


def test_a_missing_field_is_named(api: Api) -> None:
    answer = api("POST", json={"bot_id": 1, "node_id": "Nkqgn6xkf"})
    assert answer.status_code == 422
    assert answer.json()["errors"] == [{"field": "customer_id", "message": "Field required"}]


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        ("{oops", "application/json", 400),
        ("bot_id=1", "text/plain", 415),
        ("bot_id=1&email=ada%40example.com", "application/x-www-form-urlencoded", 415),
    ],
)
def test_a_body_that_is_not_json_is_refused(
    api: Api, data: str, content_type: str, status: int
) -> None:
    answer = api("POST", data=data, headers={"Content-Type": content_type})
    assert answer.status_code == status
    assert [error["field"] for error in answer.json()["errors"]] == ["body"]
    assert "JSON" in answer.json()["errors"][0]["message"]
    assert "ada" not in answer.text  # nothing of the body is echoed


def test_unknown_and_malformed_process_ids(api: Api) -> None:
    unknown = api("GET", "/pr_" + "0" * 32)
    assert (unknown.status_code, unknown.json()) == (404, {"message": "No such process"})
    malformed = api("GET", "/not-a-process")
    assert malformed.status_code == 422
    assert [error["field"] for error in malformed.json()["errors"]] == ["process_id"]


def test_the_sample_http_event_works_with_the_handler(stack: LocalStack) -> None:
    event = load_sample("http/create-process.json")
    event["headers"]["x-webhook-token"] = stack.webhook_token
    response = stack.webhook.invoke(event)
    assert response["statusCode"] == 201
    process_id = json.loads(response["body"])["process_id"]
    get = load_sample("http/get-process.json")
    get["headers"]["x-webhook-token"] = stack.webhook_token
    get["pathParameters"] = {"process_id": process_id}
    get["rawPath"] = get["requestContext"]["http"]["path"] = f"/processes/{process_id}"
    response = stack.webhook.invoke(get)
    assert (response["statusCode"], json.loads(response["body"])["status"]) == (200, "PENDING")
