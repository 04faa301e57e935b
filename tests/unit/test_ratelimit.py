from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from landbot_resume.ports import RateLimitTimeout
from landbot_resume.ratelimit import Permit, SharedRateLimiter
from landbot_resume.store import DynamoDBProcessStore


class Clock:
    """Simulated time shared by several limiters: sleeping moves it forward."""

    def __init__(self) -> None:
        self.now = 1_795_000_000.0
        self.slept = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.slept += seconds


def limiter(store: DynamoDBProcessStore, clock: Clock, limit: int = 10) -> SharedRateLimiter:
    client: Any = store._client
    return SharedRateLimiter(
        store.table_name, limit, window=1.0, client=client, clock=clock, sleep=clock.sleep
    )


def call(one: SharedRateLimiter, clock: Clock, seconds: float = 0.0, deadline: float = 5) -> float:
    """One call through the limiter, as the Landbot client makes it; returns when it went."""
    permit = one.acquire(deadline=clock.now + deadline)
    went = clock.now
    clock.now += seconds
    one.done(permit)
    return went


def max_in_any_window(times: list[float], window: float = 1.0) -> int:
    times = sorted(times)
    return max(sum(1 for t in times if start <= t < start + window) for start in times)


def test_a_burst_up_to_the_limit_goes_at_once(store: DynamoDBProcessStore) -> None:
    clock = Clock()
    one = limiter(store, clock)
    for _ in range(10):
        call(one, clock)
    assert clock.slept == 0
    call(one, clock)
    assert clock.slept == pytest.approx(1.0)


def test_containers_sharing_the_table_never_exceed_the_limit_together(
    store: DynamoDBProcessStore,
) -> None:
    clock = Clock()
    containers = [limiter(store, clock) for _ in range(3)]
    taken: list[float] = []
    for i in range(95):
        taken.append(call(containers[i % 3], clock, 0.013, deadline=30))
    assert max_in_any_window(taken) <= 10
    # ... and the burst drains at the ceiling, not a fraction of it.
    assert len(taken) / (taken[-1] - taken[0]) > 9.0


def test_no_permit_before_the_deadline_is_a_timeout(store: DynamoDBProcessStore) -> None:
    clock = Clock()
    one = limiter(store, clock, limit=2)
    call(one, clock)
    call(one, clock)
    with pytest.raises(RateLimitTimeout):
        one.acquire(deadline=clock.now + 0.5)
    assert clock.slept == 0


def test_a_call_that_may_have_arrived_late_delays_its_permits_next_use(
    store: DynamoDBProcessStore,
) -> None:
    clock = Clock()
    one = SharedRateLimiter(
        store.table_name, 1, window=1.05, client=store._client, clock=clock, sleep=clock.sleep
    )
    first = one.acquire(deadline=clock.now + 5)
    clock.now += 0.5  # the call took half a second: it may have reached Landbot that late
    one.done(first)
    one.acquire(deadline=clock.now + 5)
    # At least a second after the latest moment the first call can have arrived.
    assert clock.now - first.stamped >= 0.5 + 1.0


def test_a_permit_is_not_used_again_while_its_call_is_unanswered(
    store: DynamoDBProcessStore,
) -> None:
    # The call may reach Landbot any time before its answer: another call on the same
    # permit a window after the first went out could land in the same second.
    clock = Clock()
    first, second = (
        SharedRateLimiter(
            store.table_name, 1, window=1.05, client=store._client, clock=clock, sleep=clock.sleep
        )
        for _ in range(2)
    )
    slow = first.acquire(deadline=clock.now + 5)
    clock.now += 2.0  # still waiting for Landbot's answer, well past a window
    with pytest.raises(RateLimitTimeout):
        second.acquire(deadline=clock.now + 1)
    first.done(slow)
    first.flush()
    second.acquire(deadline=clock.now + 5)
    # A second after the moment the slow call was answered (its latest arrival).
    assert clock.now - (slow.stamped + 3.0) >= 1.0 - 1e-6


def test_a_thread_waits_for_a_permit_its_container_holds(store: DynamoDBProcessStore) -> None:
    one = SharedRateLimiter(store.table_name, 1, client=store._client)
    held = one.acquire(deadline=time.time() + 5)
    got: list[float] = []
    waiter = threading.Thread(target=lambda: got.append(one.acquire(time.time() + 5).stamped))
    waiter.start()
    time.sleep(0.3)  # the call takes a while
    answered = time.time()
    one.done(held)
    waiter.join()
    assert got and got[0] - answered >= 1.0 - 0.01


def test_a_permit_whose_holder_vanished_frees_after_its_hold(
    store: DynamoDBProcessStore,
) -> None:
    clock = Clock()
    gone, other = (
        SharedRateLimiter(
            store.table_name, 1, hold=15, client=store._client, clock=clock, sleep=clock.sleep
        )
        for _ in range(2)
    )
    taken = gone.acquire(deadline=clock.now + 5)  # and never done(): the container died
    other.acquire(deadline=clock.now + 30)
    assert clock.now - taken.stamped == pytest.approx(15 + 1.05, abs=0.11)


def test_a_fast_call_leaves_its_permit_alone(store: DynamoDBProcessStore) -> None:
    clock = Clock()
    one = SharedRateLimiter(
        store.table_name, 1, window=1.05, client=store._client, clock=clock, sleep=clock.sleep
    )
    first = one.acquire(deadline=clock.now + 5)
    clock.now += 0.02
    one.done(first)
    one.acquire(deadline=clock.now + 5)
    assert clock.now - first.stamped == pytest.approx(1.05)


class HeldWrites:
    """The table's client, with a hook run inside every write (while it is in flight)."""

    def __init__(self, client: Any, during_write: Any) -> None:
        self._client = client
        self._during_write = during_write

    def update_item(self, **kwargs: Any) -> Any:
        self._during_write(kwargs)
        return self._client.update_item(**kwargs)


def stamp_in_table(store: DynamoDBProcessStore, permit: int) -> float:
    item = store._client.get_item(
        TableName=store.table_name, Key={"pk": {"S": f"ratelimit#landbot#{permit}"}}
    )["Item"]
    return float(item["used_at"]["N"])


def is_move(request: dict[str, Any]) -> bool:
    return request.get("ConditionExpression") == "used_at = :stamped"


def after_a_late_call(
    store: DynamoDBProcessStore, clock: Clock, during_write: Any
) -> tuple[SharedRateLimiter, Permit]:
    """A one-permit limiter whose writes run `during_write`, after a call that took 0.5 s
    (longer than the window's margin, so done() moves the permit's stamp)."""
    one = SharedRateLimiter(
        store.table_name,
        1,
        client=HeldWrites(store._client, during_write),
        clock=clock,
        sleep=clock.sleep,
    )
    permit = one.acquire(deadline=clock.now + 5)
    clock.now += 0.5
    one.done(permit)
    return one, permit


def test_the_caller_does_not_wait_for_a_late_call_to_be_recorded(
    store: DynamoDBProcessStore,
) -> None:
    clock = Clock()
    recorded = threading.Event()

    def hold_moves(request: dict[str, Any]) -> None:
        if is_move(request):
            assert recorded.wait(5)

    # done() has returned while its write is held: the others see the permit in use
    one, permit = after_a_late_call(store, clock, hold_moves)
    assert stamp_in_table(store, 0) == pytest.approx(permit.held, abs=0.001)
    recorded.set()
    # This container's next call on the permit waits for that record, not for the hold.
    one.acquire(deadline=clock.now + 5)
    assert clock.now - permit.stamped == pytest.approx(0.5 + 1.0, abs=0.001)
    one.flush()


def test_flush_waits_for_the_record_of_a_late_call(store: DynamoDBProcessStore) -> None:
    clock = Clock()

    def slow_moves(request: dict[str, Any]) -> None:
        if is_move(request):
            time.sleep(0.2)

    one, _ = after_a_late_call(store, clock, slow_moves)
    one.flush()
    # The other containers see it: not before a second after the call's latest arrival.
    assert stamp_in_table(store, 0) == pytest.approx(clock.now - 0.05, abs=0.001)


def test_a_failed_record_of_a_late_call_is_raised_by_flush(store: DynamoDBProcessStore) -> None:
    clock = Clock()

    def throttled(request: dict[str, Any]) -> None:
        if is_move(request):
            error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "-"}}
            raise ClientError(error, "UpdateItem")  # type: ignore[arg-type]

    one, _ = after_a_late_call(store, clock, throttled)
    with pytest.raises(ClientError):
        one.flush()
    one.flush()  # reported once
