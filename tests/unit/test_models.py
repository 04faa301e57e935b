from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from landbot_resume.models import (
    MAX_CONTEXT_BYTES,
    MAX_CONTEXT_DEPTH,
    MAX_LANDBOT_ID,
    ProcessRequest,
)

VALID = {"bot_id": 1010178, "node_id": "Nkqgn6xkf", "customer_id": 298537154}


def invalid_fields(body: dict[str, Any]) -> set[str]:
    with pytest.raises(ValidationError) as caught:
        ProcessRequest.model_validate(body)
    return {".".join(str(part) for part in error["loc"]) for error in caught.value.errors()}


def test_a_landbot_request_with_defaults() -> None:
    request = ProcessRequest.model_validate(VALID)
    assert (request.field, request.reference, request.context) == ("data", None, {})


def test_ids_sent_as_strings_by_a_bot_become_integers() -> None:
    request = ProcessRequest.model_validate({**VALID, "bot_id": "1010178", "customer_id": "42"})
    assert (request.bot_id, request.customer_id) == (1010178, 42)


@pytest.mark.parametrize("value", [42.0, "42", MAX_LANDBOT_ID, str(MAX_LANDBOT_ID)])
def test_ids_in_every_form_json_allows_become_the_same_integer(value: Any) -> None:
    expected = int(value)
    request = ProcessRequest.model_validate({**VALID, "bot_id": value, "customer_id": value})
    assert (request.bot_id, request.customer_id) == (expected, expected)


@pytest.mark.parametrize(
    "value",
    [
        *(0, -1, True, 1.5, float("nan"), float("inf"), "12a", " 12", "1/../2", "%2F", ""),
        *(None, 2**63, "1" * 20, [], {}, MAX_LANDBOT_ID + 1, str(MAX_LANDBOT_ID + 1)),
        *("012", "12\n", "1e3", "+12", "1_000", "\uff11\uff12", "\u0661\u0662", "1\u200b2"),
    ],
)
def test_ids_must_be_positive_integers(value: Any) -> None:
    assert invalid_fields({**VALID, "customer_id": value}) == {"customer_id"}
    assert invalid_fields({**VALID, "bot_id": value}) == {"bot_id"}


@pytest.mark.parametrize(
    "node_id",
    ["", "../admin", "a/b", "a?b=1", "a#b", "a%2Fb", "a b", "\uff2ekqgn", "x" * 65, 12, "N\n"],
)
def test_node_ids_are_short_block_ids(node_id: Any) -> None:
    assert invalid_fields({**VALID, "node_id": node_id}) == {"node_id"}


@pytest.mark.parametrize(
    "field", ["Data", "my-field", "a/b", "", "ü", "x" * 65, "data\n", "\ufb01eld", "\u017f"]
)
def test_field_names_follow_landbot(field: str) -> None:
    assert invalid_fields({**VALID, "field": field}) == {"field"}


def test_context_is_small() -> None:
    big = {"note": "x" * MAX_CONTEXT_BYTES}
    assert invalid_fields({**VALID, "context": big}) == {"context"}


def nested(depth: int) -> dict[str, Any]:
    """A context `depth` levels deep, alternating objects and arrays."""
    value: Any = 1
    for level in range(depth - 1):
        value = [value] if level % 2 == 0 else {"k": value}
    return {"k": value}


def test_context_nests_at_most_five_levels() -> None:
    deepest = nested(MAX_CONTEXT_DEPTH)
    assert ProcessRequest.model_validate({**VALID, "context": deepest}).context == deepest
    assert invalid_fields({**VALID, "context": nested(MAX_CONTEXT_DEPTH + 1)}) == {"context"}


def test_a_nest_deeper_than_the_stack_is_refused_not_crashed() -> None:
    assert invalid_fields({**VALID, "context": nested(100_000)}) == {"context"}


@pytest.mark.parametrize(
    "context",
    [{"a": float("nan")}, {"a": [float("inf")]}, {"a": "\ud800"}, {"\udfff": 1}],
    ids=["NaN", "infinity", "lone surrogate", "lone surrogate key"],
)
def test_context_must_be_storable_json(context: dict[str, Any]) -> None:
    assert invalid_fields({**VALID, "context": context}) == {"context"}


def test_a_reference_must_be_valid_unicode() -> None:
    assert invalid_fields({**VALID, "reference": "order-\ud800"}) == {"reference"}


def test_missing_and_unknown_fields_are_named() -> None:
    assert invalid_fields({"bot_id": 1, "customerId": 2}) == {
        "node_id",
        "customer_id",
        "customerId",
    }
