"""docs/openapi.json: what the webhook function's code generates, a valid OpenAPI document
that agrees with the template, and served by the local API."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from openapi_spec_validator import validate  # comes with moto[server]

from devstack.gateway import routes_of
from devstack.generated import stale
from devstack.openapi import DOCUMENT
from devstack.stack import LocalStack


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DOCUMENT.read_text())
    return loaded


def test_the_committed_document_is_what_the_code_generates() -> None:
    # Generated in an execution environment of its own: the function is imported as Lambda
    # would, and nothing of this process leaks into it.
    assert stale(["openapi"]) == [], "docs/openapi.json is stale: run make generated"


def test_it_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)


def test_it_describes_the_routes_of_the_template(document: dict[str, Any]) -> None:
    documented = {
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert documented == {route.key for route in routes_of("WebhookFunction")}


def test_every_operation_needs_the_token_and_names_its_refusals(document: dict[str, Any]) -> None:
    assert document["components"]["securitySchemes"] == {
        "webhookToken": {
            "type": "apiKey",
            "in": "header",
            "name": "X-Webhook-Token",
            "description": "The value of the stack's webhook token secret.",
        }
    }
    assert document["security"] == [{"webhookToken": []}]
    operations = {
        f"{method.upper()} {path}": spec["responses"]
        for path, methods in document["paths"].items()
        for method, spec in methods.items()
    }
    assert {key: sorted(responses) for key, responses in operations.items()} == {
        "POST /processes": ["201", "400", "401", "413", "415", "422", "429"],
        "GET /processes/{process_id}": ["200", "401", "404", "422", "429"],
        "POST /processes/{process_id}/cancel": ["200", "401", "404", "409", "422", "429"],
    }
    error = {"$ref": "#/components/schemas/ErrorBody"}
    for responses in operations.values():
        for status, response in responses.items():
            if status >= "400":
                assert response["content"]["application/json"]["schema"] == error


def test_the_local_api_serves_it_without_a_token(stack: LocalStack) -> None:
    answer = requests.get(f"{stack.api_url}/openapi.json", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    assert answer.content == DOCUMENT.read_bytes()
