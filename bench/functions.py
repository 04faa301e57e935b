"""Work timed inside a function's execution environment (devstack's ExecutionEnvironment
with moto in-process: the local stack's moto patches, the template's resources created in
it, the handler imported as Lambda would).

Work is timed inside that process, so neither the parent (which hosts the Landbot simulator)
nor inter-process hops are measured. The baselines run there too, with the same kind of
clients, so both sides pay the same for Python, boto3, moto and HTTP.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
import uuid
from typing import Any

import requests

from devstack import (
    BOT_ID,
    NODE_ID,
    ExecutionEnvironment,
    InProcessAws,
    load_sample,
    local_function,
    local_resources,
    sqs_event,
    stripe_event,
)

MOTO = "moto in-process (mock_aws, with devstack/moto_server.py's patches)"

_session: requests.Session | None = None


def environment(
    logical_id: str,
    *,
    landbot_url: str = "http://127.0.0.1:9/v1/",
    landbot_token: str | None = None,
    variables: dict[str, str] | None = None,
) -> ExecutionEnvironment:
    """One warm execution environment of `logical_id` whose AWS is moto in-process, counting
    moto's CPU time; `variables` override the function's, `landbot_url` and `landbot_token`
    point it at the Landbot simulator."""
    started = ExecutionEnvironment(
        logical_id,
        environment=variables,
        quiet=True,  # logs and metrics go to CloudWatch in Lambda: nowhere here
        in_process_aws=InProcessAws(landbot_url, landbot_token or secrets.token_hex(20)),
    )
    started.run(_count_store_cpu)
    return started


def invoke_counting_store(
    environment: ExecutionEnvironment, event: dict[str, Any]
) -> tuple[float, float, Any]:
    """Invoke the handler; returns (seconds it took, moto's CPU seconds, its result)."""
    return environment.run(_invoke_counting_store, event)


def _invoke_timed(event: dict[str, Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = local_function().invoke(event)
    return time.perf_counter() - started, result


def _invoke_counting_store(event: dict[str, Any]) -> tuple[float, float, Any]:
    """Invoke the handler; returns the seconds it took, the CPU seconds moto spent in them
    (DynamoDB's own work, which Lambda does not pay for), and the handler's result."""
    _store_cpu[0] = 0.0
    seconds, result = _invoke_timed(event)
    return seconds, _store_cpu[0], result


_store_cpu = [0.0]
_store_cpu_lock = threading.Lock()


def _count_store_cpu() -> None:
    """Adds up the CPU time each thread spends inside moto's handling of an AWS call."""
    from moto.core.botocore_stubber import BotocoreStubber

    handle = BotocoreStubber.__call__

    def counted(self: BotocoreStubber, *args: Any, **kwargs: Any) -> Any:
        started = time.thread_time()
        try:
            return handle(self, *args, **kwargs)
        finally:
            spent = time.thread_time() - started
            with _store_cpu_lock:
                _store_cpu[0] += spent

    BotocoreStubber.__call__ = counted  # type: ignore[method-assign]


def webhook_token() -> str:
    return local_resources().webhook_token


def create_pending(customers: list[int]) -> list[str]:
    """A PENDING process for each customer, stored as the webhook stores them."""
    from landbot_resume.models import ProcessRequest
    from landbot_resume.processes import create_process
    from landbot_resume.store import DynamoDBProcessStore

    store = DynamoDBProcessStore(os.environ["PROCESSES_TABLE"])
    now = int(time.time())
    created = []
    for customer in customers:
        request = ProcessRequest(bot_id=BOT_ID, node_id=NODE_ID, customer_id=customer)
        process, _ = create_process(request, store, now=now, ttl_seconds=3600, retry_window=0)
        created.append(process.process_id)
    return created


def payment_batch(process_ids: list[str]) -> dict[str, Any]:
    """A paid Stripe Checkout for each process, as one SQS batch."""
    return sqs_event(*(stripe_event("checkout.session.completed", pid) for pid in process_ids))


def resume_floor(
    process_id: str, customer_url: str, bot_url: str, token: str
) -> tuple[float, float]:
    """The work a resume cannot avoid, done directly: the three state writes of a resume
    (claim, about to jump, resumed) through DynamoDBProcessStore, and the two Landbot calls (Set,
    then Go) on one kept-alive HTTP session. Returns the seconds it took and moto's CPU
    seconds in them."""
    from landbot_resume.models import Source
    from landbot_resume.store import DynamoDBProcessStore

    global _session
    if _session is None:
        _session = requests.Session()
    store = DynamoDBProcessStore(os.environ["PROCESSES_TABLE"], client=_resources_client())
    headers = {"Authorization": f"Token {token}"}
    _store_cpu[0] = 0.0
    started = time.perf_counter()
    now = int(time.time())
    claim_id = uuid.uuid4().hex
    claim = store.claim(
        process_id,
        outcome="paid",
        result={},
        event_id=None,
        source=Source.STRIPE,
        claim_id=claim_id,
        now=now,
        lease_seconds=60,
    )
    assert claim.claimed, "the floor's process was not pending"
    value = {"status": "paid", "process_id": process_id, "reference": None}
    answer = _session.put(
        customer_url, json={"type": "object", "extra": {}, "value": value}, headers=headers
    )
    answer.raise_for_status()
    store.mark_jumping(process_id, claim_id, now)
    answer = _session.put(bot_url, json={"launch": True, "node": NODE_ID}, headers=headers)
    answer.raise_for_status()
    store.mark_resumed(process_id, claim_id, now)
    return time.perf_counter() - started, _store_cpu[0]


_client: Any = None


def _resources_client() -> Any:
    """One DynamoDB client for the baselines, kept warm like the handler's."""
    global _client
    if _client is None:
        _client = local_resources().client("dynamodb")
    return _client


def create_events(customers: list[int]) -> list[dict[str, Any]]:
    """POST /processes as API Gateway hands it over, one per customer (none of them a retry
    of another)."""
    sample = load_sample("http/create-process.json")
    events = []
    for customer in customers:
        body = json.dumps({"bot_id": BOT_ID, "node_id": NODE_ID, "customer_id": customer})
        headers = {
            **sample["headers"],
            "x-webhook-token": local_resources().webhook_token,
            "content-length": str(len(body)),
        }
        events.append({**sample, "headers": headers, "body": body})
    return events


def time_intake(events: list[dict[str, Any]]) -> tuple[float, float]:
    """Seconds the webhook handler takes for the events, one after the other, and moto's CPU
    seconds in them."""
    _store_cpu[0] = 0.0
    started = time.perf_counter()
    for event in events:
        answer = local_function().invoke(event)
        if answer["statusCode"] != 201:
            raise RuntimeError(f"the webhook answered {answer['statusCode']}: {answer['body']}")
    return time.perf_counter() - started, _store_cpu[0]


def time_creates(customers: list[int]) -> tuple[float, float]:
    """Seconds to create a process for each customer with the domain code directly (the
    request fingerprint and the process in one transaction), and moto's CPU seconds."""
    from landbot_resume.models import ProcessRequest
    from landbot_resume.processes import create_process
    from landbot_resume.store import DynamoDBProcessStore

    store = DynamoDBProcessStore(os.environ["PROCESSES_TABLE"], client=_resources_client())
    requests = [ProcessRequest(bot_id=BOT_ID, node_id=NODE_ID, customer_id=c) for c in customers]
    retry_window = int(os.environ["RETRY_WINDOW_SECONDS"])
    _store_cpu[0] = 0.0
    started = time.perf_counter()
    for request in requests:
        now = int(time.time())
        create_process(request, store, now=now, ttl_seconds=3600, retry_window=retry_window)
    return time.perf_counter() - started, _store_cpu[0]


def time_bare_puts(count: int) -> tuple[float, float]:
    """Seconds for `count` PutItem calls of a stored process, each under a new key (the
    floor of storing a process), and moto's CPU seconds in them."""
    client = _resources_client()
    table = os.environ["PROCESSES_TABLE"]
    page = client.scan(TableName=table, Limit=50)["Items"]
    item = next(item for item in page if "status" in item)
    items = [{**item, "pk": {"S": f"pr_{uuid.uuid4().hex}"}} for _ in range(count)]
    _store_cpu[0] = 0.0
    started = time.perf_counter()
    for each in items:
        client.put_item(TableName=table, Item=each)
    return time.perf_counter() - started, _store_cpu[0]
