"""Hostile input at the webhook API: oversized, deep, not JSON, Unicode lookalikes and
path-like ids. Each gets a 4xx naming the field and stores nothing; whatever is accepted
reaches Landbot only as the exact URLs it should."""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from devstack.landbot_simulator import LandbotSimulator
from devstack.stack import LocalStack
from tests.integration.conftest import count_processes, wait_until

Api = Callable[..., requests.Response]
BODY_LIMIT = 8 * 1024  # bytes, as documented
BOT = 1010178
NODE = "Nkqgn6xkf"


def body(customer_id: int, **extra: Any) -> dict[str, Any]:
    return {"bot_id": BOT, "node_id": NODE, "customer_id": customer_id, **extra}


def nest(depth: int) -> str:
    """[[...[1]...]] as JSON text (json.dumps itself refuses a nest this deep)."""
    return "[" * depth + "1" + "]" * depth


def refused(api: Api, stack: LocalStack, status: int, field: str, **request: Any) -> dict[str, Any]:
    """Send the request; it must be refused with `status`, naming `field`, storing nothing."""
    before = count_processes(stack)
    answer = api("POST", **request)
    assert answer.status_code == status, answer.text
    assert [error["field"] for error in answer.json()["errors"]] == [field]
    assert count_processes(stack) == before
    result: dict[str, Any] = answer.json()
    return result


# ----------------------------------------------------------------------------- size and depth


def test_a_body_over_the_limit_is_refused_before_parsing(
    api: Api, stack: LocalStack, customer_id: int
) -> None:
    text = json.dumps(body(customer_id))
    at_limit = text + " " * (BODY_LIMIT - len(text))
    assert api("POST", data=at_limit).status_code == 201
    answer = refused(api, stack, 413, "body", data=at_limit + " ")
    assert answer["errors"][0]["message"] == f"must be at most {BODY_LIMIT} bytes"


def test_a_ten_thousand_deep_nest_is_refused_by_size(api: Api, stack: LocalStack) -> None:
    refused(api, stack, 413, "body", data=nest(10_000))


# The deepest nest that fits the size limit is still far beyond any sane document.
DEEPEST = (BODY_LIMIT - 200) // 2


@pytest.mark.parametrize(
    ("field", "request_with"),
    [
        ("body", lambda customer: "DEEP"),
        ("context", lambda customer: body(customer, context={"a": "DEEP"})),
        ("reference", lambda customer: body(customer, reference="DEEP")),
        ("bot_id", lambda customer: {**body(customer), "bot_id": "DEEP"}),
        ("unknown", lambda customer: body(customer, unknown="DEEP")),
    ],
)
def test_the_deepest_nest_that_fits_is_a_4xx_naming_its_field(
    api: Api, stack: LocalStack, customer_id: int, field: str, request_with: Callable[[int], Any]
) -> None:
    data = json.dumps(request_with(customer_id)).replace('"DEEP"', nest(DEEPEST))
    refused(api, stack, 422, field, data=data)


def test_context_nests_at_most_five_levels(api: Api, stack: LocalStack, customer_id: int) -> None:
    five = {"a": {"b": [{"c": [1]}]}}  # object, object, array, object, array
    assert api("POST", json=body(customer_id, context=five)).status_code == 201
    answer = refused(
        api, stack, 422, "context", json=body(customer_id, context={"a": {"b": [{"c": [[1]]}]}})
    )
    assert "5 levels" in answer["errors"][0]["message"]


def test_a_context_of_many_small_keys_is_held_to_its_size(
    api: Api, stack: LocalStack, customer_id: int
) -> None:
    many = {f"k{i}": i for i in range(300)}
    refused(api, stack, 422, "context", json=body(customer_id, context=many))


@pytest.mark.parametrize(
    ("text", "status", "field"),
    [
        ('{"a": NaN}', 422, "context"),
        ('{"a": Infinity}', 422, "context"),
        ('{"a": [-Infinity]}', 422, "context"),
        ('{"a": 1e999}', 422, "context"),  # parses as infinity
        ('{"a": "\\ud800"}', 422, "context"),  # a lone surrogate
        ('{"\\udfff": 1}', 422, "context"),
        ('{"a": ' + "7" * 5000 + "}", 400, "body"),  # beyond Python's 4300-digit int limit
    ],
)
def test_context_must_be_json_that_can_be_stored_and_read_back(
    api: Api, stack: LocalStack, customer_id: int, text: str, status: int, field: str
) -> None:
    data = json.dumps(body(customer_id)).removesuffix("}") + f', "context": {text}}}'
    refused(api, stack, status, field, data=data)


# ----------------------------------------------------------------------------- media types


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "Application/JSON; charset=UTF-8", "application/json;charset=utf-8"],
)
def test_json_is_json_whatever_the_case_of_its_media_type(
    api: Api, customer_id: int, content_type: str
) -> None:
    answer = api("POST", json=body(customer_id), headers={"Content-Type": content_type})
    assert answer.status_code == 201


@pytest.mark.parametrize(
    "content_type",
    [
        "application/jsonp",
        "application/json-seq",
        "text/json",
        "text/plain",
        "application/xml",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
    ],
)
def test_other_media_types_are_refused(
    api: Api, stack: LocalStack, customer_id: int, content_type: str
) -> None:
    headers = {"Content-Type": content_type}
    refused(api, stack, 415, "body", data=json.dumps(body(customer_id)), headers=headers)


@pytest.mark.parametrize(
    "encoding",
    [
        lambda text: text.encode("utf-16"),
        lambda text: text.encode("latin-1").replace(b"Nkqgn6xkf", b"N\xe9"),
        lambda text: b"\xef\xbb\xbf" + text.encode(),  # a byte order mark
    ],
    ids=["UTF-16", "Latin-1", "UTF-8 with BOM"],
)
def test_a_body_that_is_not_plain_utf8_json_is_refused(
    api: Api, stack: LocalStack, customer_id: int, encoding: Callable[[str], bytes]
) -> None:
    data = encoding(json.dumps(body(customer_id)))
    refused(api, stack, 400, "body", data=data, headers={"Content-Type": "application/json"})


# ----------------------------------------------------------------------------- ids

HOSTILE = {
    "customer_id": [
        "\uff11\uff12\uff13",  # full-width digits
        "\u0661\u0662\u0663",  # Arabic-Indic digits
        "\u06f1\u06f2\u06f3",  # Extended Arabic-Indic digits
        "12\u200b3",  # zero-width space
        "\u200f123",  # right-to-left mark
        "\u202e321",  # right-to-left override
        "123\n",
        " 123",
        "+123",
        "0123",
        "1_000",
        "1e3",
        "0x1f",
        "12/../34",
        "12%2F34",
        "12?x=1",
        "12#x",
        "1" * 16,
        10**15,
        0,
        -1,
        1.5,
        True,
        None,
        [1],
    ],
    "node_id": [
        "Nkqgn6xkf\u200b",
        "\uff2ekqgn6xkf",  # full-width N
        "Nkq\u00adgn6xkf",  # soft hyphen
        "N\u202ekq",
        "Nkqgn6xk\u0455",  # Cyrillic dze, looks like s
        "../assign_bot",
        "..%2F",
        "a/b",
        "a?b=1",
        "a#b",
        "a%2Fb",
        "a b",
        "Nkqgn6xkf\n",
        "",
        "x" * 65,
    ],
    "field": [
        "\uff44\uff41\uff54\uff41",  # full-width "data"
        "data\u200b",
        "dat\u0430",  # Cyrillic a
        "\ufb01eld",  # the fi ligature, "field" after NFKC
        "\u212a",  # Kelvin sign, "K" after NFKC
        "\u017f",  # long s, "s" after NFKC
        "Data",
        "data/../x",
        "..",
        "data%2F",
        "data?x=1",
        "data#x",
        "da ta",
        "data\n",
    ],
}


@pytest.mark.parametrize(
    ("field", "value"),
    [(field, value) for field, values in HOSTILE.items() for value in values],
    ids=lambda value: ascii(value)[:24],
)
def test_hostile_ids_are_refused_and_store_nothing(
    api: Api, stack: LocalStack, customer_id: int, field: str, value: Any
) -> None:
    answer = refused(api, stack, 422, field, json={**body(customer_id), field: value})
    # Named, never echoed.
    if isinstance(value, str) and len(value) > 2:
        assert value not in json.dumps(answer, ensure_ascii=False)


# Values at the edges of what is accepted, in the forms a bot may send them.
EDGES: list[tuple[str, Callable[[int], Any]]] = [
    ("customer_id as a string", lambda customer: {"customer_id": str(customer)}),
    ("customer_id as a float", lambda customer: {"customer_id": float(customer)}),
    ("bot_id as a string", lambda customer: {"bot_id": str(BOT)}),
    ("bot_id as a float", lambda customer: {"bot_id": float(BOT)}),
    ("node_id of dashes", lambda customer: {"node_id": "-_-"}),
    ("the longest node_id", lambda customer: {"node_id": "Z" * 64}),
    ("field _", lambda customer: {"field": "_"}),
    ("field 0", lambda customer: {"field": "0"}),
    ("the longest field", lambda customer: {"field": "z" * 64}),
]


@pytest.mark.parametrize(("case", "change"), EDGES, ids=[case for case, _ in EDGES])
def test_accepted_edge_values_reach_landbot_as_exact_urls(
    api: Api,
    stack: LocalStack,
    simulator: LandbotSimulator,
    customer_id: int,
    case: str,
    change: Callable[[int], Any],
) -> None:
    request = {**body(customer_id), **change(customer_id)}
    field = request.get("field", "data")
    simulator.add_customer(customer_id, {field: {"type": "object", "value": {}, "extra": {}}})
    answer = api("POST", json=request)
    assert answer.status_code == 201
    process_id = answer.json()["process_id"]
    stack.send_completion({"process_id": process_id, "status": "paid"})
    assert wait_until(lambda: api("GET", f"/{process_id}").json()["status"] == "RESUMED")
    base = urlsplit(stack.landbot_api_url).path  # /v1/
    calls = [
        (call.method, call.path, call.body)
        for call in simulator.calls()
        if f"/customers/{customer_id}/" in call.path
    ]
    assert [(method, path) for method, path, _ in calls] == [
        ("PUT", f"{base}customers/{customer_id}/fields/{field}/"),
        ("PUT", f"{base}customers/{customer_id}/assign_bot/{BOT}/"),
    ]
    assert calls[1][2] == {"launch": True, "node": request["node_id"]}


# ----------------------------------------------------------------------------- process ids

VALID_ID = "pr_" + "0" * 32


@pytest.mark.parametrize(
    "path",
    [
        "..%2F..%2Fprocesses",
        "%2e%2e",
        "..",
        f"{VALID_ID}%2F..%2F..",
        f"{VALID_ID}%00",
        f"{VALID_ID}%0A",
        f"{VALID_ID}%3Fx=1",
        f"{VALID_ID}%23x",
        f"{VALID_ID}/",
        f"{VALID_ID}/..",
        f"{VALID_ID}/../{VALID_ID}",
        "pr_" + "%EF%BC%90" * 32,  # full-width zeros
        "pr_" + "%D9%A0" * 32,  # Arabic-Indic zeros
        "pr_" + "0" * 31 + "%E2%80%8B",  # zero-width space
        "PR_" + "0" * 32,
        "pr_" + "0" * 33,
        "pr_;" + "0" * 31,
    ],
)
def test_path_like_process_ids_find_nothing(stack: LocalStack, path: str) -> None:
    """Sent as raw bytes, so no client normalises the path first."""
    host, port = urlsplit(stack.api_url).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request(
        "GET", f"/processes/{path}", headers={"X-Webhook-Token": stack.webhook_token}
    )
    answer = connection.getresponse()
    status, payload = answer.status, json.loads(answer.read())
    connection.close()
    assert status in (404, 422), payload
    assert "process_id" not in payload
