"""Schemathesis against the local stack's API, from docs/openapi.json: every operation, valid
and invalid data, with the token, without it and with a wrong one.

It fails on any 5xx, any answer the document does not describe, and any accepted request that
stored something other than what was asked. `pytest -s` prints what it tried.
"""

from __future__ import annotations

import collections
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from devstack.openapi import DOCUMENT
from devstack.stack import LocalStack
from devstack.template import load_template
from landbot_resume.models import MAX_CONTEXT_BYTES, MAX_CONTEXT_DEPTH, Status
from landbot_resume.store import DynamoDBProcessStore
from tests.integration.conftest import count_processes

schema = schemathesis.openapi.from_path(DOCUMENT)
# The token is this test's to choose (headers_for), not generated.
schema.config.generation.update(with_security_parameters=False)
GET_PROCESS = schema["/processes/{process_id}"]["GET"]
CANCEL_PROCESS = schema["/processes/{process_id}/cancel"]["POST"]
# Fuzzing examples per operation (the coverage phase adds its own boundary cases), sized for
# about 30 s on two cores.
VALID_EXAMPLES = 150
REFUSED_EXAMPLES = 25
Tally = collections.Counter[tuple[str, str, str, int]]
# The local stack's process lifetime: the template's default.
PROCESS_TTL_SECONDS = int(load_template()["Parameters"]["ProcessTtlSeconds"]["Default"])


@pytest.fixture(scope="module")
def tally(stack: LocalStack) -> Iterator[Tally]:
    """(operation, token, phase/mode, status) -> requests. When the module ends, the table
    must hold no more new processes than requests were accepted."""
    before = count_processes(stack)
    counts: Tally = collections.Counter()
    yield counts
    print("\nschemathesis requests (operation, token, mode, status):")
    for key, number in sorted(counts.items()):
        print(f"  {' '.join(map(str, key))}: {number}")
    print(f"  total: {sum(counts.values())}")
    assert count_processes(stack) - before <= sum(
        number for (_, _, _, status), number in counts.items() if status == 201
    )


def headers_for(token: str, stack: LocalStack) -> dict[str, str]:
    if token == "valid":
        return {"X-Webhook-Token": stack.webhook_token}
    if token == "wrong":
        return {"X-Webhook-Token": stack.webhook_token[:-1] + "x"}
    return {}


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


def over_context_limits(case: schemathesis.Case) -> bool:
    """JSON Schema cannot state the context's byte and depth limits (the document says them
    in words), so schemathesis may take such a context for valid."""
    context = case.body.get("context") if isinstance(case.body, dict) else None
    if not isinstance(context, dict):
        return False
    size = len(json.dumps(context, separators=(",", ":"), ensure_ascii=False).encode())
    return size > MAX_CONTEXT_BYTES or _depth(context) > MAX_CONTEXT_DEPTH


def over_timeout_limit(case: schemathesis.Case) -> bool:
    """A timeout must end before the record does: the stack's process lifetime is a
    deployment's parameter, which the document states in words."""
    timeout = case.body.get("timeout_seconds") if isinstance(case.body, dict) else None
    # JSON does not tell 3002906.0 from 3002906: both are the same whole number of seconds.
    number = isinstance(timeout, int | float) and not isinstance(timeout, bool)
    return number and timeout >= PROCESS_TTL_SECONDS


def check_stored(
    stack: LocalStack, tally: Tally, body: dict[str, Any], created: dict[str, Any]
) -> None:
    """The accepted request's process, read back from the table, is what was asked, and its
    status and cancel answers (200, which random ids never reach) hold to the document (the
    cancel also keeps its timeout, if any, from resuming a customer nobody knows)."""
    store = DynamoDBProcessStore(stack.resources.table, client=stack.resources.client("dynamodb"))
    process = store.get(created["process_id"])  # parses it as the domain's Process
    assert process is not None
    # PENDING, or CANCELLED below: a repeat within the retry window gets the first process.
    assert process.status == created["status"]
    assert process.status in (Status.PENDING, Status.CANCELLED)
    assert (process.bot_id, process.customer_id) == (int(body["bot_id"]), int(body["customer_id"]))
    assert (process.node_id, process.field) == (body["node_id"], body.get("field", "data"))
    assert process.reference == body.get("reference")
    assert process.context == body.get("context", {})
    timeout = body.get("timeout_seconds")
    if timeout:
        # A cancelled wait (a repeat of a request checked before) has no deadline left.
        due = created_epoch(created) + timeout if process.status == Status.PENDING else None
        assert (process.due_at, process.timeout_node_id) == (
            due,
            body.get("timeout_node_id") or body["node_id"],
        )
    else:
        assert (process.timeout_at, process.due_at) == (None, None)
    status = GET_PROCESS.Case(path_parameters={"process_id": process.process_id})
    answer = status.call_and_validate(base_url=stack.api_url, headers=headers_for("valid", stack))
    tally[("GET /processes/{process_id}", "valid", "read back", answer.status_code)] += 1
    assert (answer.status_code, answer.json()) == (200, created)
    cancel = CANCEL_PROCESS.Case(path_parameters={"process_id": process.process_id})
    answer = cancel.call_and_validate(base_url=stack.api_url, headers=headers_for("valid", stack))
    tally[("POST /processes/{process_id}/cancel", "valid", "read back", answer.status_code)] += 1
    assert (answer.status_code, answer.json()["status"]) == (200, "CANCELLED")


def created_epoch(view: dict[str, Any]) -> int:
    return int(datetime.fromisoformat(view["created_at"]).timestamp())


def record(tally: Tally, case: schemathesis.Case, token: str, status: int) -> None:
    phase = f"{case.meta.phase.name.value}/{case.meta.generation.mode.value}" if case.meta else "?"
    tally[(f"{case.method} {case.path}", token, phase, status)] += 1


@schema.parametrize()
@settings(max_examples=VALID_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_holds_to_its_document(
    case: schemathesis.Case, stack: LocalStack, tally: Tally
) -> None:
    # An HTTP API answers 404, not 405, to a method it has no route for.
    excluded = [schemathesis.checks.unsupported_method]
    if over_context_limits(case) or over_timeout_limit(case):
        # Refusing such "valid" data is right: the document states those limits in words.
        excluded.append(schemathesis.checks.positive_data_acceptance)
    response = case.call_and_validate(
        base_url=stack.api_url, headers=headers_for("valid", stack), excluded_checks=excluded
    )
    record(tally, case, "valid", response.status_code)
    if response.status_code == 201:
        check_stored(stack, tally, case.body, response.json())


@pytest.mark.parametrize("token", ["missing", "wrong"])
@schema.parametrize()
@settings(max_examples=REFUSED_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_without_the_token_nothing_is_answered_but_401(
    case: schemathesis.Case, token: str, stack: LocalStack, tally: Tally
) -> None:
    response = case.call_and_validate(
        base_url=stack.api_url,
        headers=headers_for(token, stack),
        excluded_checks=[schemathesis.checks.unsupported_method],
    )
    record(tally, case, token, response.status_code)
    if case.method.upper() != case.operation.method.upper():
        # The coverage phase tries other methods: no route, so the API itself answers 404.
        assert (response.status_code, response.json()) == (404, {"message": "Not Found"})
    else:
        assert (response.status_code, response.json()) == (401, {"message": "Unauthorized"})
