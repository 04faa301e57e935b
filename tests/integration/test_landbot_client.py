"""LandbotClient against the simulator over real HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from devstack.landbot_simulator import Faults, LandbotSimulator
from devstack.stack import LocalStack
from landbot_resume.landbot import LandbotClient
from landbot_resume.ports import LandbotError
from landbot_resume.ratelimit import SharedRateLimiter

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


def test_an_unanswered_jump_is_not_repeated_but_a_field_write_is(
    simulator: LandbotSimulator,
) -> None:
    simulator.set_faults(Faults(slow_rate=1.0, slow_seconds=0.5))
    landbot = client(simulator, timeout=(0.5, 0.1), max_attempts=3)
    with pytest.raises(LandbotError) as jump:
        landbot.assign_bot(7, 55, "Nkqgn6xkf")
    assert jump.value.ambiguous and jump.value.operation == "assign_bot"
    assert len(simulator.calls()) == 1
    simulator.reset_calls()
    with pytest.raises(LandbotError) as field:
        landbot.set_field(7, "data", {"status": "paid"})
    assert field.value.retryable
    assert len(simulator.calls()) == 3


def test_a_dropped_jump_is_ambiguous_a_refused_connection_is_not() -> None:
    with LandbotSimulator(port=0, tokens=[TOKEN]) as running:
        running.add_customer(7)
        running.set_faults(Faults(drop_rate=1.0))
        with pytest.raises(LandbotError) as dropped:
            client(running, max_attempts=1).assign_bot(7, 55, "Nkqgn6xkf")
        url = running.url
    assert dropped.value.ambiguous
    closed = LandbotClient(lambda: TOKEN, url, max_attempts=1)
    with pytest.raises(LandbotError) as refused:
        closed.assign_bot(7, 55, "Nkqgn6xkf")  # nothing listens there any more
    assert refused.value.retryable and not refused.value.ambiguous


def test_containers_sharing_the_limiter_stay_under_landbots_limit(stack: LocalStack) -> None:
    """Two containers, each with its own limiter and client, resume as fast as they can."""
    with LandbotSimulator(port=0, tokens=[TOKEN], rate_limit=10) as landbot:
        for customer in range(1, 31):
            landbot.add_customer(customer)

        def container(customers: range) -> None:
            limiter = SharedRateLimiter(
                stack.resources.table,
                10,
                key=f"test-{landbot.url}",
                client=stack.resources.client("dynamodb"),
            )
            worker = client(landbot, limiter=limiter)
            for customer in customers:
                worker.assign_bot(customer, 55, "Nkqgn6xkf")

        started = time.monotonic()
        threads = [threading.Thread(target=container, args=(range(i, 31, 2),)) for i in (1, 2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        statuses = [call.status for call in landbot.calls()]
        assert statuses == [200] * 30  # not one 429
        assert landbot.peak_rate() <= 10
        assert elapsed < 30 / 10 * 1.05 + 1.0  # at the ceiling, not a fraction of it
