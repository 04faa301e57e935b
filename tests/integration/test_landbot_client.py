"""LandbotClient against the simulator over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from landbot_resume.landbot import LandbotClient, LandbotError
from tests.stack.landbot_simulator import Faults, LandbotSimulator

TOKEN = "agent-token"


@pytest.fixture
def simulator() -> Iterator[LandbotSimulator]:
    with LandbotSimulator(port=0, tokens=[TOKEN], rate_limit=1000) as running:
        running.add_customer(7, {"data": {"type": "object", "value": {}, "extra": {}}})
        yield running


def client(simulator: LandbotSimulator, token: str = TOKEN, **kwargs: object) -> LandbotClient:
    return LandbotClient(lambda: token, simulator.url, backoff=0.01, **kwargs)  # type: ignore[arg-type]


def test_set_and_go_reach_the_customer(simulator: LandbotSimulator) -> None:
    landbot = client(simulator)
    landbot.set_field(7, "data", {"status": "paid"})
    landbot.assign_bot(7, 55, "Nkqgn6xkf")
    customer = simulator.customer(7)
    assert customer["fields"]["data"]["value"] == {"status": "paid"}
    assert (customer["bot_id"], customer["node"], customer["launched"]) == (55, "Nkqgn6xkf", True)
    assert [call.token for call in simulator.calls()] == [TOKEN, TOKEN]


def test_a_wrong_token_is_a_permanent_failure(simulator: LandbotSimulator) -> None:
    with pytest.raises(LandbotError) as caught:
        client(simulator, token="nope").assign_bot(7, 55, "Nkqgn6xkf")
    assert (caught.value.status, caught.value.retryable) == (401, False)
    assert str(caught.value) == "assign_bot answered 401: Invalid token."
    assert len(simulator.calls()) == 1


def test_server_errors_are_retried_then_reported_as_retryable(simulator: LandbotSimulator) -> None:
    simulator.set_faults(Faults(error_rate=1.0))
    with pytest.raises(LandbotError) as caught:
        client(simulator, max_attempts=3).assign_bot(7, 55, "Nkqgn6xkf")
    assert (caught.value.status, caught.value.retryable) == (500, True)
    assert len(simulator.calls()) == 3
    assert simulator.customer(7)["node"] is None


def test_validation_errors_are_not_retried(simulator: LandbotSimulator) -> None:
    with pytest.raises(LandbotError) as caught:
        client(simulator).set_field(7, "Bad-Name", {"status": "paid"})
    assert (caught.value.status, caught.value.retryable) == (422, False)
    assert "name" in str(caught.value)
    assert len(simulator.calls()) == 1


def test_a_slow_answer_times_out_and_a_dropped_one_fails_the_connection(
    simulator: LandbotSimulator,
) -> None:
    simulator.set_faults(Faults(slow_rate=1.0, slow_seconds=1.0))
    with pytest.raises(LandbotError, match="timed out") as slow:
        client(simulator, timeout=(0.5, 0.2), max_attempts=1).assign_bot(7, 55, "Nkqgn6xkf")
    assert slow.value.retryable
    simulator.set_faults(Faults(drop_rate=1.0))
    with pytest.raises(LandbotError, match="connection") as dropped:
        client(simulator, max_attempts=1).assign_bot(7, 55, "Nkqgn6xkf")
    assert dropped.value.retryable
