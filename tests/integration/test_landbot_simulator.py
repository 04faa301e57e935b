"""The Landbot simulator over real HTTP: it must behave like the API facts it stands in for."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.landbot_simulator import FAULT_DECK, Faults, LandbotSimulator

TOKEN = "sim-agent-token"
OTHER_TOKEN = "other-agent-token"
CUSTOMER = 42
FIELD = "customers/42/fields/payment/"
ASSIGN = "customers/42/assign_bot/1010178/"
PENDING = {"type": "object", "value": {"status": "pending"}, "extra": {}}
PAID = {"type": "object", "extra": {}, "value": {"status": "paid"}}
RATE_LIMITED = {"errors": {"rate": ["Too many requests"]}}
NOT_FOUND = {"detail": "Not found."}


@pytest.fixture
def sim() -> Iterator[LandbotSimulator]:
    simulator = LandbotSimulator(port=0, tokens=(TOKEN, OTHER_TOKEN))
    simulator.add_customer(CUSTOMER, {"payment": PENDING})
    with simulator:
        yield simulator


def send(
    sim: LandbotSimulator,
    method: str,
    path: str,
    body: Any = None,
    *,
    auth: str | None = f"Token {TOKEN}",
    timeout: float = 2.0,
) -> requests.Response:
    headers = {"Authorization": auth} if auth is not None else {}
    return requests.request(method, sim.url + path, json=body, headers=headers, timeout=timeout)


def payment(sim: LandbotSimulator) -> dict[str, Any]:
    field: dict[str, Any] = sim.customer(CUSTOMER)["fields"]["payment"]
    return field


# -- auth and routing --------------------------------------------------------------------------


def test_url_is_the_bound_port_with_version(sim: LandbotSimulator) -> None:
    assert sim.url.startswith("http://127.0.0.1:")
    assert sim.url.endswith("/v1/")
    assert not sim.url.endswith(":0/v1/")


def test_token_scheme_is_accepted(sim: LandbotSimulator) -> None:
    response = send(sim, "GET", "customers/42/")

    assert response.status_code == 200
    customer = response.json()["customer"]
    assert customer["id"] == CUSTOMER
    assert customer["fields"]["payment"] == {"name": "payment", **PENDING}


@pytest.mark.parametrize(
    ("auth", "detail"),
    [
        (None, "Authentication credentials were not provided."),
        (f"Bearer {TOKEN}", "Invalid token."),
        ("Token not-the-token", "Invalid token."),
        (TOKEN, "Invalid token."),
    ],
)
def test_bad_credentials_are_401(sim: LandbotSimulator, auth: str | None, detail: str) -> None:
    response = send(sim, "PUT", FIELD, PAID, auth=auth)

    assert response.status_code == 401
    assert response.json() == {"detail": detail}
    assert payment(sim)["value"] == {"status": "pending"}


def test_the_accepted_tokens_can_be_replaced_and_a_refusal_lasts_until_told(
    sim: LandbotSimulator,
) -> None:
    sim.set_tokens()  # a window in which Landbot refuses every token
    assert [send(sim, "PUT", FIELD, PAID).status_code for _ in range(3)] == [401] * 3
    assert payment(sim)["value"] == {"status": "pending"}
    sim.set_tokens("rotated-token")  # the old one revoked, a new one issued
    assert send(sim, "PUT", FIELD, PAID).status_code == 401
    assert send(sim, "PUT", FIELD, PAID, auth="Token rotated-token").status_code == 200
    # What the client sent with the refused token still counts towards its rate.
    assert sim.peak_rate() == 4


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "customers/42"),
        ("PUT", "customers/42/fields/payment"),
        ("PUT", "customers/42/assign_bot/1010178"),
        ("GET", "customers/"),
        ("GET", "customers/abc/"),
        ("PUT", "customers/42/assign_bot/bot-1/"),
        ("GET", "bots/"),
    ],
)
def test_paths_without_trailing_slash_or_unknown_are_404(
    sim: LandbotSimulator, method: str, path: str
) -> None:
    response = send(sim, method, path, PAID if method == "PUT" else None)

    assert response.status_code == 404
    assert response.json() == NOT_FOUND


@pytest.mark.parametrize(
    ("method", "path"), [("DELETE", FIELD), ("GET", ASSIGN), ("PUT", "customers/42/")]
)
def test_wrong_method_on_a_known_path_is_405(sim: LandbotSimulator, method: str, path: str) -> None:
    assert send(sim, method, path).status_code == 405


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "customers/7/"),
        ("PUT", "customers/7/fields/payment/"),
        ("POST", "customers/7/fields/payment/"),
        ("PUT", "customers/7/assign_bot/1/"),
    ],
)
def test_unknown_customer_is_404(sim: LandbotSimulator, method: str, path: str) -> None:
    response = send(sim, method, path, None if method == "GET" else PAID)

    assert response.status_code == 404
    assert response.json() == NOT_FOUND


# -- customer fields (Set) -----------------------------------------------------------------------


def test_put_does_not_upsert_post_creates_then_put_updates(sim: LandbotSimulator) -> None:
    path = "customers/42/fields/order/"

    missing = send(sim, "PUT", path, {"type": "string", "value": "A-1"})
    created = send(sim, "POST", path, {"type": "string", "value": "A-1"})
    updated = send(sim, "PUT", path, {"type": "string", "value": "A-2", "extra": {"k": 1}})

    assert (missing.status_code, missing.json()) == (404, NOT_FOUND)
    assert created.status_code == 201
    assert created.json() == {
        "success": True,
        "field": {"name": "order", "type": "string", "value": "A-1", "extra": {}},
    }
    assert updated.status_code == 200
    assert updated.json()["field"] == {
        "name": "order",
        "type": "string",
        "value": "A-2",
        "extra": {"k": 1},
    }
    assert sim.customer(CUSTOMER)["fields"]["order"]["value"] == "A-2"


def test_post_on_an_existing_field_is_400(sim: LandbotSimulator) -> None:
    response = send(sim, "POST", FIELD, PAID)

    assert response.status_code == 400
    assert response.json() == {"errors": {"name": ["Field already exists"]}}
    assert payment(sim)["value"] == {"status": "pending"}


@pytest.mark.parametrize(
    ("name", "body", "bad"),
    [
        ("Payment", PAID, "name"),
        ("pay-ment", PAID, "name"),
        ("payment", {"value": {}}, "type"),
        ("payment", {"type": "text", "value": "x"}, "type"),
        ("payment", {"type": "object"}, "value"),
        ("payment", {"type": "object", "value": [1]}, "value"),
        ("payment", {"type": "string", "value": 5}, "value"),
        ("payment", {"type": "integer", "value": True}, "value"),
        ("payment", {"type": "integer", "value": "5"}, "value"),
        ("payment", {"type": "integer", "value": 1.5}, "value"),
        ("payment", {"type": "float", "value": "1.5"}, "value"),
        ("payment", {"type": "boolean", "value": 1}, "value"),
        ("payment", {"type": "date", "value": "2026-02-30"}, "value"),
        ("payment", {"type": "date", "value": "2026-02-01T10:00:00"}, "value"),
        ("payment", {"type": "datetime", "value": "2026-02-01"}, "value"),
        ("payment", {"type": "datetime", "value": "yesterday"}, "value"),
        ("payment", {"type": "object", "value": {}, "extra": []}, "extra"),
    ],
)
def test_invalid_field_writes_are_422_naming_the_part(
    sim: LandbotSimulator, name: str, body: dict[str, Any], bad: str
) -> None:
    response = send(sim, "PUT", f"customers/42/fields/{name}/", body)

    assert response.status_code == 422
    assert list(response.json()["errors"]) == [bad]
    assert sim.customer(CUSTOMER)["fields"] == {"payment": {"name": "payment", **PENDING}}


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("string", "paid"),
        ("integer", 3),
        ("float", 3),
        ("float", 2.5),
        ("boolean", False),
        ("date", "2028-02-29"),
        ("datetime", "2026-11-24T10:00:00Z"),
        ("datetime", "2026-11-24T10:00:00.123+01:00"),
        ("object", {"nested": [1, {"a": None}]}),
    ],
)
def test_values_that_fit_their_type_are_stored(
    sim: LandbotSimulator, kind: str, value: Any
) -> None:
    response = send(sim, "POST", "customers/42/fields/result/", {"type": kind, "value": value})

    assert response.status_code == 201
    assert sim.customer(CUSTOMER)["fields"]["result"]["value"] == value


def test_bodies_must_be_json(sim: LandbotSimulator) -> None:
    url, auth = sim.url + FIELD, {"Authorization": f"Token {TOKEN}"}
    json_header = {**auth, "Content-Type": "application/json"}

    broken = requests.put(url, data=b'{"type": ', headers=json_header, timeout=2)
    not_object = requests.put(url, data=b"[1, 2]", headers=json_header, timeout=2)
    form = requests.put(url, data={"type": "object"}, headers=auth, timeout=2)
    too_big = send(sim, "PUT", FIELD, {**PAID, "value": {"blob": "x" * 101 * 1024}})

    assert (broken.status_code, broken.json()) == (400, {"errors": {"body": ["Invalid JSON"]}})
    assert not_object.status_code == 400
    assert form.status_code == 400
    assert too_big.status_code == 413
    assert payment(sim)["value"] == {"status": "pending"}


# -- assign_bot (Go) -----------------------------------------------------------------------------


def test_assign_bot_records_bot_node_and_launch(sim: LandbotSimulator) -> None:
    response = send(sim, "PUT", ASSIGN, {"launch": True, "node": "Nkqgn6xkf"})

    assert (response.status_code, response.json()) == (200, {"success": True})
    customer = sim.customer(CUSTOMER)
    assert (customer["bot_id"], customer["node"], customer["launched"]) == (
        1010178,
        "Nkqgn6xkf",
        True,
    )


def test_assign_bot_launch_defaults_to_true_and_false_is_recorded(sim: LandbotSimulator) -> None:
    assert sim.customer(CUSTOMER)["launched"] is False

    send(sim, "PUT", ASSIGN, {})
    defaulted = sim.customer(CUSTOMER)
    send(sim, "PUT", "customers/42/assign_bot/7/", {"launch": False, "node": "abc"})
    not_launched = sim.customer(CUSTOMER)

    assert (defaulted["bot_id"], defaulted["node"], defaulted["launched"]) == (1010178, None, True)
    assert (not_launched["bot_id"], not_launched["node"], not_launched["launched"]) == (
        7,
        "abc",
        False,
    )


@pytest.mark.parametrize(
    ("body", "bad"),
    [
        ({"launch": True, "node": 1010178}, "node"),  # the help article's pitfall: bot id as node
        ({"node": ""}, "node"),
        ({"node": "n" * 65}, "node"),
        ({"node": "two words"}, "node"),
        ({"launch": "true", "node": "Nkqgn6xkf"}, "launch"),
    ],
)
def test_assign_bot_rejects_bad_bodies(
    sim: LandbotSimulator, body: dict[str, Any], bad: str
) -> None:
    response = send(sim, "PUT", ASSIGN, body)

    assert response.status_code == 422
    assert list(response.json()["errors"]) == [bad]
    assert sim.customer(CUSTOMER)["bot_id"] is None


# -- rate limit ----------------------------------------------------------------------------------


def test_rate_limit_is_10_per_second_per_token_without_retry_after(sim: LandbotSimulator) -> None:
    with requests.Session() as session:
        session.headers["Authorization"] = f"Token {TOKEN}"
        started = time.monotonic()
        responses = [session.get(sim.url + "customers/42/", timeout=2) for _ in range(15)]
        elapsed = time.monotonic() - started
        other_token = send(sim, "GET", "customers/42/", auth=f"Token {OTHER_TOKEN}")
        time.sleep(1.0)  # every accepted request has left the one-second window
        again = session.get(sim.url + "customers/42/", timeout=2)

    statuses = [response.status_code for response in responses]
    assert elapsed < 1.0, "too slow to test the limit"
    assert statuses == [200] * 10 + [429] * 5
    for limited in responses[10:]:
        assert limited.json() == RATE_LIMITED
        assert "Retry-After" not in limited.headers
    assert other_token.status_code == 200
    assert again.status_code == 200


def test_peak_rate_counts_what_each_token_sent(sim: LandbotSimulator) -> None:
    for _ in range(6):
        send(sim, "GET", "customers/42/")
        send(sim, "GET", "customers/42/", auth=f"Token {OTHER_TOKEN}")
    assert sim.peak_rate() == 6  # per token, not the sum of both

    for _ in range(6):
        send(sim, "GET", "customers/42/")
    send(sim, "GET", "customers/42/", auth="Token wrong")
    assert [call.status for call in sim.calls()][-3:] == [429, 429, 401]
    assert sim.peak_rate() == 12  # the two 429s count, the bad token does not


def test_peak_rate_uses_a_sliding_window(sim: LandbotSimulator) -> None:
    for _ in range(3):
        send(sim, "GET", "customers/42/")
        time.sleep(0.3)

    assert sim.peak_rate(window=0.25) == 1
    assert sim.peak_rate(window=1.0) == 3
    sim.reset_calls()
    assert sim.peak_rate() == 0


# -- fault injection -----------------------------------------------------------------------------


def test_error_fault_is_500_and_changes_nothing(sim: LandbotSimulator) -> None:
    sim.set_faults(Faults(error_rate=1.0))

    response = send(sim, "PUT", FIELD, PAID)
    unauthenticated = send(sim, "PUT", FIELD, PAID, auth=None)

    assert response.status_code == 500
    assert payment(sim)["value"] == {"status": "pending"}
    assert unauthenticated.status_code == 401  # faults only hit API calls
    assert [call.fault for call in sim.calls()] == ["error", None]


def test_throttle_fault_is_the_rate_limit_answer_and_changes_nothing(
    sim: LandbotSimulator,
) -> None:
    sim.set_faults(Faults(throttle_rate=1.0))

    response = send(sim, "PUT", ASSIGN, {"node": "Nkqgn6xkf"})

    assert (response.status_code, response.json()) == (429, RATE_LIMITED)
    assert "Retry-After" not in response.headers
    assert sim.customer(CUSTOMER)["node"] is None
    assert sim.calls()[-1].fault == "throttle"


def test_drop_fault_closes_the_connection_and_changes_nothing(sim: LandbotSimulator) -> None:
    sim.set_faults(Faults(drop_rate=1.0))

    with pytest.raises(requests.exceptions.ConnectionError):
        send(sim, "PUT", FIELD, PAID)

    assert payment(sim)["value"] == {"status": "pending"}
    last = sim.calls()[-1]
    assert (last.status, last.fault, last.applied) == (0, "drop", False)


def test_lost_fault_applies_the_change_and_then_closes_the_connection(
    sim: LandbotSimulator,
) -> None:
    sim.set_faults(Faults(lost_rate=1.0))

    with pytest.raises(requests.exceptions.ConnectionError):
        send(sim, "PUT", ASSIGN, {"node": "Nkqgn6xkf"})

    assert sim.customer(CUSTOMER)["node"] == "Nkqgn6xkf"
    last = sim.calls()[-1]
    assert (last.status, last.fault, last.applied) == (0, "lost", True)


def test_each_call_records_whether_it_changed_anything(sim: LandbotSimulator) -> None:
    send(sim, "PUT", FIELD, PAID)
    send(sim, "PUT", FIELD, {"type": "object", "extra": {}})  # no value: 422
    send(sim, "GET", "customers/42/")
    sim.set_faults(Faults(error_rate=1.0))
    send(sim, "PUT", ASSIGN, {"node": "Nkqgn6xkf"})

    assert [(call.status, call.applied) for call in sim.calls()] == [
        (200, True),
        (422, False),
        (200, False),
        (500, False),
    ]


def test_slow_fault_applies_the_change_but_answers_too_late(sim: LandbotSimulator) -> None:
    sim.set_faults(Faults(slow_rate=1.0, slow_seconds=5.0))

    with pytest.raises(requests.exceptions.ReadTimeout):
        send(sim, "PUT", FIELD, PAID, timeout=0.3)

    assert payment(sim)["value"] == {"status": "paid"}
    assert (sim.calls()[-1].fault, sim.calls()[-1].applied) == ("slow", True)
    started = time.monotonic()
    sim.stop()  # must not wait for the sleeping handler
    assert time.monotonic() - started < 1.0


def test_delay_is_added_to_every_answer(sim: LandbotSimulator) -> None:
    sim.set_faults(Faults(delay=0.2))

    started = time.monotonic()
    response = send(sim, "GET", "customers/42/")

    assert response.status_code == 200
    assert time.monotonic() - started >= 0.2
    assert sim.calls()[-1].fault is None


def test_faults_are_reproducible_from_the_seed() -> None:
    with LandbotSimulator(port=0, rate_limit=1000) as simulator:
        simulator.add_customer(CUSTOMER)
        runs = []
        for _ in range(2):
            simulator.set_faults(Faults(error_rate=0.5, seed=7))
            runs.append([send(simulator, "GET", "customers/42/").status_code for _ in range(12)])

    assert runs[0] == runs[1]
    assert set(runs[0]) == {200, 500}


def test_fault_rates_are_exact_shares_of_the_calls() -> None:
    with LandbotSimulator(port=0, rate_limit=1000) as simulator:
        simulator.add_customer(CUSTOMER)
        simulator.set_faults(Faults(error_rate=0.1, throttle_rate=0.05))
        statuses = [send(simulator, "GET", "customers/42/").status_code for _ in range(FAULT_DECK)]

    assert (statuses.count(500), statuses.count(429)) == (FAULT_DECK // 10, FAULT_DECK // 20)


def test_fault_rates_must_make_sense() -> None:
    with pytest.raises(ValueError):
        Faults(error_rate=0.7, drop_rate=0.7)
    with pytest.raises(ValueError):
        Faults(slow_rate=-0.1)


# -- the record and the state helpers ------------------------------------------------------------


def test_calls_record_every_request_in_order(sim: LandbotSimulator) -> None:
    send(sim, "PUT", "customers/42/fields/order/", {"type": "string", "value": "A-1"})
    send(sim, "POST", "customers/42/fields/order/", {"type": "string", "value": "A-1"})
    send(sim, "PUT", ASSIGN, {"launch": True, "node": "Nkqgn6xkf"}, auth=None)

    calls = sim.calls()
    assert [(call.method, call.path, call.status, call.token) for call in calls] == [
        ("PUT", "/v1/customers/42/fields/order/", 404, TOKEN),
        ("POST", "/v1/customers/42/fields/order/", 201, TOKEN),
        ("PUT", "/v1/customers/42/assign_bot/1010178/", 401, None),
    ]
    assert [call.body for call in calls] == [
        {"type": "string", "value": "A-1"},
        {"type": "string", "value": "A-1"},
        {"launch": True, "node": "Nkqgn6xkf"},
    ]
    assert calls[0].time <= calls[1].time <= calls[2].time
    sim.reset_calls()
    assert sim.calls() == []


def test_customer_is_a_copy_and_add_customer_validates(sim: LandbotSimulator) -> None:
    sim.customer(CUSTOMER)["fields"]["payment"]["value"]["status"] = "paid"
    assert payment(sim)["value"] == {"status": "pending"}
    with pytest.raises(KeyError):
        sim.customer(7)
    with pytest.raises(ValueError):
        sim.add_customer(7, {"age": {"type": "integer", "value": "ten"}})


def test_stop_closes_the_port(sim: LandbotSimulator) -> None:
    url = sim.url
    sim.stop()

    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(url + "customers/42/", headers={"Authorization": f"Token {TOKEN}"}, timeout=1)


def test_runs_alone_from_the_command_line() -> None:
    root = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-m", "devstack.landbot_simulator", "--port", "0"]
    command += ["--token", "cli-token", "--customer", "7"]
    with subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            url = process.stdout.readline().strip()
            response = requests.get(
                url + "customers/7/", headers={"Authorization": "Token cli-token"}, timeout=2
            )
        finally:
            process.terminate()

    assert url.startswith("http://127.0.0.1:") and url.endswith("/v1/")
    assert response.status_code == 200
    assert response.json()["customer"]["id"] == 7
