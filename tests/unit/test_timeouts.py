"""The timeouts sweeper: every wait past its deadline gets one timeout message per sweep
window, and gets it again only if it still waits REFIRE_SECONDS later."""

from __future__ import annotations

import time

import pytest

from landbot_resume.events import completion_from_message
from landbot_resume.models import ProcessRequest, Source
from landbot_resume.ports import ProcessStore
from landbot_resume.processes import create_process
from landbot_resume.timeouts import REFIRE_SECONDS, sweep
from tests.fakes import FakeCompletionQueue, InMemoryProcessStore

NOW = 1_795_000_000
FOREVER = float("inf")


@pytest.fixture
def store() -> ProcessStore:
    return InMemoryProcessStore()


@pytest.fixture
def queue() -> FakeCompletionQueue:
    return FakeCompletionQueue()


def start(store: ProcessStore, timeout: int | None, reference: str) -> str:
    request = ProcessRequest(
        bot_id=1, node_id="Nwait", customer_id=2, reference=reference, timeout_seconds=timeout
    )
    process, _ = create_process(request, store, now=NOW, ttl_seconds=3600, retry_window=0)
    return process.process_id


def sent_to(queue: FakeCompletionQueue) -> list[str]:
    return [message.process_id for message in queue.sent]


def test_each_wait_past_its_deadline_gets_a_timeout_the_most_overdue_first(
    store: ProcessStore, queue: FakeCompletionQueue
) -> None:
    later = start(store, 90, "later")
    sooner = start(store, 30, "sooner")
    start(store, 600, "not yet")
    start(store, None, "never")
    assert sweep(store, queue, now=NOW + 29, stop_at=FOREVER) == 0
    assert sweep(store, queue, now=NOW + 100, stop_at=FOREVER) == 2
    assert sent_to(queue) == [sooner, later]
    completion = completion_from_message(queue.sent[0].model_dump_json(exclude_none=True))
    assert completion is not None
    assert (completion.outcome, completion.source) == ("timeout", Source.TIMEOUT)


def test_a_timeout_is_sent_again_only_while_the_wait_goes_on(
    store: ProcessStore, queue: FakeCompletionQueue
) -> None:
    waiting = start(store, 30, "still waiting")
    cancelled = start(store, 30, "cancelled")
    sweep(store, queue, now=NOW + 30, stop_at=FOREVER)
    assert sweep(store, queue, now=NOW + 31, stop_at=FOREVER) == 0  # the next sweep
    store.cancel(cancelled, now=NOW + 40, source=Source.BOT)
    assert sweep(store, queue, now=NOW + 30 + REFIRE_SECONDS - 1, stop_at=FOREVER) == 0
    assert sweep(store, queue, now=NOW + 30 + REFIRE_SECONDS, stop_at=FOREVER) == 1
    assert sent_to(queue)[-1] == waiting


def test_a_timeout_the_queue_refused_fires_again_later(
    store: ProcessStore, queue: FakeCompletionQueue
) -> None:
    process_id = start(store, 30, "refused")
    queue.refuse = True
    assert sweep(store, queue, now=NOW + 30, stop_at=FOREVER) == 0
    queue.refuse = False
    assert sweep(store, queue, now=NOW + 30 + REFIRE_SECONDS, stop_at=FOREVER) == 1
    assert sent_to(queue) == [process_id]


def test_a_sweep_out_of_time_leaves_the_rest_due(
    store: ProcessStore, queue: FakeCompletionQueue
) -> None:
    waits = [start(store, 30 + index, f"order-{index}") for index in range(25)]
    assert sweep(store, queue, now=NOW + 100, stop_at=time.time() - 1) == 0
    assert len(store.due(NOW + 100, 100)) == 25
    assert sweep(store, queue, now=NOW + 101, stop_at=FOREVER) == 25
    assert sent_to(queue) == waits


def test_the_stacks_default_timeout_applies_unless_the_request_says_otherwise(
    store: ProcessStore,
) -> None:
    def deadline(timeout: int | None) -> int | None:
        request = ProcessRequest(bot_id=1, node_id="N", customer_id=2, timeout_seconds=timeout)
        process, _ = create_process(
            request, store, now=NOW, ttl_seconds=3600, retry_window=0, default_timeout_seconds=600
        )
        return process.due_at

    assert (deadline(None), deadline(30), deadline(0)) == (NOW + 600, NOW + 30, None)
