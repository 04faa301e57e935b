"""LandbotClient against the simulator over real HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from devstack.landbot_simulator import Faults, LandbotSimulator
from devstack.stack import LocalStack
from landbot_resume.landbot import LandbotClient
from landbot_resume.ports import LandbotError, LandbotRefusedToken
from landbot_resume.ratelimit import SharedRateLimiter
from landbot_resume.token_gate import TokenGate

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


def test_a_wrong_token_is_refused_and_not_retried(simulator: LandbotSimulator) -> None:
    with pytest.raises(LandbotRefusedToken) as caught:
        client(simulator, token="nope").assign_bot(7, 55, "Nkqgn6xkf")
    assert (caught.value.status, caught.value.retryable) == (401, False)
    assert str(caught.value) == "assign_bot answered 401: Invalid token."
    assert len(simulator.calls()) == 1


class Secret:
    """The token secret as the function reads it: `cached` until read afresh."""

    def __init__(self, cached: str, stored: str) -> None:
        self.cached, self.stored, self.fresh_reads = cached, stored, 0

    def read(self) -> str:
        return self.cached

    def read_afresh(self) -> str:
        self.fresh_reads += 1
        self.cached = self.stored
        return self.cached


def test_a_refused_token_is_read_afresh_once_and_the_call_sent_again(
    simulator: LandbotSimulator,
) -> None:
    """A token rotated after the container cached it: one 401, then the new one works."""
    secret = Secret(cached="rotated-away", stored=TOKEN)
    landbot = LandbotClient(secret.read, simulator.url, fresh_token=secret.read_afresh)
    landbot.set_field(7, "data", {"status": "paid"})
    landbot.assign_bot(7, 55, "Nkqgn6xkf")
    calls = simulator.calls()
    assert [(call.token, call.status) for call in calls] == [
        ("rotated-away", 401),
        (TOKEN, 200),
        (TOKEN, 200),
    ]
    assert secret.fresh_reads == 1
    assert simulator.customer(7)["node"] == "Nkqgn6xkf"


@pytest.mark.parametrize("status", [401, 403])
def test_a_token_refused_even_afresh_is_reported_after_one_more_call(
    simulator: LandbotSimulator, status: int
) -> None:
    secret = Secret(cached=TOKEN, stored=TOKEN)
    simulator.answer_next("assign", status, status)  # e.g. a revoked teammate's token
    landbot = LandbotClient(secret.read, simulator.url, fresh_token=secret.read_afresh)
    with pytest.raises(LandbotRefusedToken) as caught:
        landbot.assign_bot(7, 55, "Nkqgn6xkf")
    assert caught.value.status == status
    assert [call.status for call in simulator.calls()] == [status, status]
    assert secret.fresh_reads == 1
    assert simulator.customer(7)["node"] is None


def test_after_a_refusal_the_containers_calls_stay_home_for_the_cooldown(
    simulator: LandbotSimulator,
) -> None:
    secret = Secret(cached="wrong", stored="still-wrong")
    landbot = LandbotClient(
        secret.read, simulator.url, fresh_token=secret.read_afresh, gate=TokenGate(0.5)
    )
    with pytest.raises(LandbotRefusedToken):
        landbot.set_field(7, "data", {"status": "paid"})
    assert len(simulator.calls()) == 2
    with pytest.raises(LandbotRefusedToken, match="not sent"):
        landbot.assign_bot(7, 55, "Nkqgn6xkf")
    assert len(simulator.calls()) == 2  # nothing sent
    secret.stored = TOKEN  # the owner stores the right token
    time.sleep(0.6)
    landbot.assign_bot(7, 55, "Nkqgn6xkf")  # the cool-down is over: refused, read, sent
    assert [call.status for call in simulator.calls()][2:] == [401, 200]


def test_concurrent_calls_to_a_landbot_refusing_the_token_send_one(
    simulator: LandbotSimulator,
) -> None:
    """A batch's records side by side: one call finds out (and retries with the secret read
    afresh), the others are never sent."""
    simulator.set_tokens()  # Landbot answers 401 to everything
    secret = Secret(cached=TOKEN, stored=TOKEN)
    landbot = LandbotClient(
        secret.read, simulator.url, fresh_token=secret.read_afresh, gate=TokenGate(60)
    )
    errors: list[LandbotRefusedToken] = []

    def record(customer: int) -> None:
        try:
            landbot.set_field(customer, "data", {"status": "paid"})
        except LandbotRefusedToken as error:
            errors.append(error)

    threads = [threading.Thread(target=record, args=(7,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(errors) == 8
    assert [call.status for call in simulator.calls()] == [401, 401]
    assert secret.fresh_reads == 1


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
