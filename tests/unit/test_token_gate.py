"""TokenGate: one call finds out whether Landbot takes the token, the others wait for its
verdict; a refusal keeps every call home for the cool-down."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from landbot_resume.token_gate import TokenGate

COOLDOWN = 30.0
Submit = Callable[[Callable[[], bool]], "Future[bool]"]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def gate(clock: Clock) -> TokenGate:
    return TokenGate(COOLDOWN, clock=clock)


@pytest.fixture
def other_thread() -> Iterator[Submit]:
    """Runs a call on a thread of its own (each thread is one caller of the gate)."""
    pool = ThreadPoolExecutor(max_workers=4)

    def submit(call: Callable[[], bool]) -> Future[bool]:
        return pool.submit(call)

    yield submit
    pool.shutdown(wait=True)


def waiting(future: Future[bool]) -> bool:
    try:
        future.result(timeout=0.2)
    except TimeoutError:
        return True
    return False


def test_at_first_one_call_finds_out_and_the_others_wait_for_its_verdict(
    gate: TokenGate, other_thread: Submit
) -> None:
    assert gate.enter(1.0)  # this thread finds out
    second = other_thread(lambda: gate.enter(5.0))
    assert waiting(second)
    gate.accepted()
    assert second.result(timeout=1.0) is True
    gate.leave()
    assert gate.enter(0.0)  # accepted: no waiting at all


def test_a_refusal_keeps_every_call_home_for_the_cooldown(
    gate: TokenGate, clock: Clock, other_thread: Submit
) -> None:
    assert gate.enter(1.0)
    second = other_thread(lambda: gate.enter(5.0))
    assert waiting(second)
    gate.refused()
    gate.leave()
    assert second.result(timeout=1.0) is False  # the waiting call is not sent
    assert gate.refusing() and not gate.enter(1.0)
    clock.now += COOLDOWN - 1
    assert gate.refusing() and not gate.enter(1.0)
    clock.now += 1
    assert not gate.refusing()
    assert gate.enter(1.0)  # over: one call finds out again
    third = other_thread(lambda: gate.enter(5.0))
    assert waiting(third)
    gate.accepted()
    assert third.result(timeout=1.0) is True


def test_a_call_that_got_no_verdict_lets_the_next_one_find_out(
    gate: TokenGate, other_thread: Submit
) -> None:
    assert gate.enter(1.0)
    second = other_thread(lambda: gate.enter(5.0))
    assert waiting(second)
    gate.leave()  # e.g. a 5xx or a timeout: nothing learnt about the token
    assert second.result(timeout=1.0) is True
    third = other_thread(lambda: gate.enter(5.0))
    assert waiting(third)  # the second call is finding out now
    gate.accepted()
    assert third.result(timeout=1.0) is True


def test_a_call_waits_no_longer_than_its_time(gate: TokenGate) -> None:
    assert gate.enter(1.0)
    outcome: list[BaseException] = []

    def late() -> None:
        try:
            gate.enter(0.1)
        except TimeoutError as error:
            outcome.append(error)

    thread = threading.Thread(target=late)
    thread.start()
    thread.join(timeout=2.0)
    assert len(outcome) == 1


def test_a_later_acceptance_ends_a_refusal(gate: TokenGate) -> None:
    """A call sent with the fixed token (read afresh) answers before the cool-down ends."""
    gate.refused()
    assert gate.refusing()
    gate.accepted()
    assert not gate.refusing() and gate.enter(0.0)
