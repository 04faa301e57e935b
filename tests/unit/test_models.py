from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from landbot_resume.models import MAX_CONTEXT_BYTES, ProcessRequest

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


@pytest.mark.parametrize(
    "value",
    [0, -1, True, 1.5, "12a", " 12", "1/../2", "%2F", "", None, 2**63, "1" * 20, [], {}],
)
def test_ids_must_be_positive_integers(value: Any) -> None:
    assert invalid_fields({**VALID, "customer_id": value}) == {"customer_id"}
    assert invalid_fields({**VALID, "bot_id": value}) == {"bot_id"}


@pytest.mark.parametrize(
    "node_id", ["", "../admin", "a/b", "a?b=1", "a#b", "a%2Fb", "a b", "\uff2ekqgn", "x" * 65, 12]
)
def test_node_ids_are_short_block_ids(node_id: Any) -> None:
    assert invalid_fields({**VALID, "node_id": node_id}) == {"node_id"}


@pytest.mark.parametrize("field", ["Data", "my-field", "a/b", "", "ü", "x" * 65])
def test_field_names_follow_landbot(field: str) -> None:
    assert invalid_fields({**VALID, "field": field}) == {"field"}


def test_context_is_small() -> None:
    big = {"note": "x" * MAX_CONTEXT_BYTES}
    assert invalid_fields({**VALID, "context": big}) == {"context"}


def test_missing_and_unknown_fields_are_named() -> None:
    assert invalid_fields({"bot_id": 1, "customerId": 2}) == {
        "node_id",
        "customer_id",
        "customerId",
    }
