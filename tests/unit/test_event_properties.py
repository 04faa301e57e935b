"""Properties of the completion queue's mapping, over arbitrary and hostile message bodies.

Whatever arrives on the queue, the mapping answers a Completion, None or InvalidMessage and
nothing else; a Completion only ever names the process the event names in the documented
place (client_reference_id or metadata.process_id); and the resume handler acknowledges or
hands back each record of a batch exactly as the README's failure table says.
"""

from __future__ import annotations

import functools
import importlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from moto.dynamodb.models import DynamoDBBackend

from devstack.lambdas import LambdaContext
from devstack.samples import sqs_event
from landbot_resume.events import InvalidMessage, completion_from_message
from landbot_resume.models import MAX_DATA_BYTES, Completion, ProcessRequest, Status
from landbot_resume.processes import create_process
from landbot_resume.store import DynamoDBProcessStore
from tests.fakes import FakeLandbot

# The README's words, written out independently of the code under test.
DOCUMENTED_ID = re.compile(r"pr_[0-9a-f]{32}", re.ASCII)
DOCUMENTED_OUTCOMES = {
    "checkout.session.completed": "paid",
    "checkout.session.async_payment_succeeded": "paid",
    "checkout.session.async_payment_failed": "failed",
    "checkout.session.expired": "expired",
    "payment_intent.succeeded": "paid",
    "payment_intent.payment_failed": "failed",
    "payment_intent.canceled": "canceled",
}
SETTLED = ("paid", "no_payment_required")
# What the field may get from Stripe: amounts and ids, never customer details.
STRIPE_DATA_KEYS = {
    "amount_total",
    "amount",
    "currency",
    "payment_status",
    "payment_id",
    "event_id",
    "event_type",
}
MISSING = object()  # a field left out of the message

# Bounded so that the whole file runs in about ten seconds on two cores.
MAPPING_EXAMPLES = 300
HANDLER_EXAMPLES = 20

# -- strategies ---------------------------------------------------------------------------

process_ids = st.text("0123456789abcdef", min_size=32, max_size=32).map(lambda h: f"pr_{h}")
# Strings that look like a process id and are not one.
near_misses = st.one_of(
    process_ids.map(lambda pid: pid + "\n"),
    process_ids.map(lambda pid: " " + pid),
    process_ids.map(str.upper),
    process_ids.map(lambda pid: pid[:-1]),
    process_ids.map(lambda pid: pid + "0"),
    process_ids.map(lambda pid: pid[:-1] + "\u0663"),  # ARABIC-INDIC DIGIT THREE
    process_ids.map(lambda pid: pid[:-1] + "g"),
    process_ids.map(lambda pid: pid.replace("pr_", "pr-")),
    process_ids.map(lambda pid: pid.replace("pr_", "../")),
)
# Text with an unpaired surrogate: JSON can write one (as an escape), UTF-8 cannot carry it.
surrogates = st.tuples(
    st.text(max_size=5), st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
).map("".join)
texts = st.text(max_size=30)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**30, max_value=10**80),
    st.floats(),  # NaN and infinities too: json.dumps writes them, strict JSON has none
    texts,
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
# Personal data where it does not belong: a rejection must not quote it.
PERSONAL = ("ada.lovelace@example.com", "Ada Lovelace", "+34 600 123 456")
personal = st.sampled_from(PERSONAL)
id_like = st.one_of(process_ids, near_misses, json_values, personal)


def mostly(draw: st.DrawFn, good: st.SearchStrategy[Any], bad: st.SearchStrategy[Any]) -> Any:
    """Usually a well-formed value; now and then a wrong one, or the field left out."""
    roll = draw(st.integers(0, 19))  # Hypothesis favours 0: the well-formed case
    if roll == 19:
        return MISSING
    return draw(bad) if roll == 18 else draw(good)


def put(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not MISSING:
        target[key] = value


@st.composite
def stripe_events(draw: st.DrawFn) -> dict[str, Any]:
    """A Stripe event on EventBridge, any of its fields missing or of the wrong type, with
    process ids in places the mapping must not read (customer-supplied fields)."""
    event_type = mostly(
        draw,
        st.sampled_from([*DOCUMENTED_OUTCOMES, "customer.created", "charge.refunded"]),
        st.text(max_size=40),
    )
    event_type = "checkout.session.completed" if event_type is MISSING else event_type
    process_id, decoy = draw(process_ids), draw(process_ids)
    session: dict[str, Any] = {
        "object": "checkout.session",
        "customer_details": {
            "email": draw(st.emails()),
            "name": draw(st.sampled_from([decoy, "Ada Lovelace"])),
            "phone": draw(st.sampled_from([decoy, "+34600123456"])),
        },
        "custom_fields": [{"key": "process_id", "text": {"value": decoy}}],
        "description": decoy,
    }
    put(session, "id", mostly(draw, st.just("cs_test_a1b2c3"), json_values))
    # Both documented places carry the id, as a Checkout Session created by code does; a
    # Payment Link fills only client_reference_id.
    put(session, "client_reference_id", mostly(draw, st.just(process_id), id_like))
    metadata: dict[str, Any] = {"reference": decoy, "processId": decoy, "Process_id": decoy}
    put(metadata, "process_id", mostly(draw, st.just(process_id), id_like))
    put(session, "metadata", mostly(draw, st.just(metadata), json_values))
    put(
        session,
        "payment_status",
        mostly(draw, st.sampled_from(["paid", "unpaid", "no_payment_required"]), json_values),
    )
    put(session, "amount_total", mostly(draw, st.integers(0, 10**8), json_values))
    put(session, "currency", mostly(draw, st.sampled_from(["eur", "usd"]), json_values))
    put(session, "amount", mostly(draw, st.integers(0, 10**8), st.text(min_size=201)))
    for key, value in draw(st.dictionaries(st.text(max_size=10), json_values, max_size=3)).items():
        session.setdefault(key, value)

    detail: dict[str, Any] = {"object": "event", "livemode": False}
    put(detail, "id", mostly(draw, st.from_regex(r"evt_[A-Za-z0-9]{24}", fullmatch=True), id_like))
    put(detail, "type", mostly(draw, st.just(event_type), json_values))
    put(detail, "data", mostly(draw, st.just({"object": session}), json_values))
    envelope: dict[str, Any] = {"version": "0", "detail-type": event_type}
    put(envelope, "id", mostly(draw, st.uuids().map(str), json_values))
    put(envelope, "source", mostly(draw, st.just("aws.partner/stripe.com/ed_test_61Ab"), scalars))
    put(envelope, "detail", mostly(draw, st.just(detail), json_values))
    return envelope


@st.composite
def plain_messages(draw: st.DrawFn) -> dict[str, Any]:
    """A plain completion message, any field missing, wrongly typed or oversized."""
    message: dict[str, Any] = {}
    put(message, "process_id", mostly(draw, process_ids, id_like))
    status = st.from_regex(r"[a-z][a-z0-9_]{0,31}", fullmatch=True)
    put(message, "status", mostly(draw, status, json_values | personal | st.text(min_size=1)))
    put(message, "event_id", mostly(draw, st.text(max_size=200), json_values))
    big = st.integers(4000, 6000).map(lambda n: {"blob": "x" * n})
    put(message, "data", mostly(draw, st.dictionaries(st.text(max_size=8), json_values), big))
    if draw(st.integers(0, 9)) == 0:
        message[draw(st.text(max_size=10) | personal)] = draw(json_values)
    return message


def nested(depth: int, leaf: str = "1") -> str:
    """JSON nested `depth` levels deep, built as text: json.dumps would hit the same limit."""
    return '{"a":' * depth + leaf + "}" * depth


PID = "pr_" + "0" * 32
OTHER_PID = "pr_" + "1" * 32


def checkout(**session: Any) -> dict[str, Any]:
    """A checkout.session.completed event around the given Checkout Session fields."""
    detail = {"id": "evt_1", "type": "checkout.session.completed", "data": {"object": session}}
    return {"id": "e", "source": "s", "detail-type": detail["type"], "detail": detail}


# Bodies the mapping once got wrong: an exception other than InvalidMessage, a result that
# could not be stored or sent, or a guess between two processes.
FOUND = [
    json.dumps(checkout(client_reference_id=PID + "\n", payment_status="paid")),
    json.dumps(checkout(client_reference_id=PID, payment_status=["paid"])),
    "[" * 100_000 + "]" * 100_000,
    f'{{"process_id":"{PID}","status":"paid","data":{{"n":NaN}}}}',
    f'{{"process_id":"{PID}","status":"paid","data":{{"n":1e999}}}}',
    json.dumps({"process_id": PID, "status": "paid", "event_id": "\ud800"}),
    json.dumps(checkout(client_reference_id=PID, metadata={"process_id": OTHER_PID})),
]
hostile_bodies = st.one_of(
    st.text(),
    st.binary(max_size=50).map(lambda raw: raw.decode("latin-1")),
    json_values.map(json.dumps),
    json_values.map(lambda value: json.dumps(value, ensure_ascii=False)),
    # Python's JSON parser gives up between 5,000 and 10,000 levels.
    st.integers(1, 30_000).map(lambda n: "[" * n + "]" * n),
    st.integers(1, 30_000).map(nested),
    st.integers(1, 12_000).map(
        lambda n: f'{{"process_id":"{PID}","status":"paid","data":{nested(n)}}}'
    ),
    st.integers(1, 12_000).map(
        lambda n: f'{{"detail-type":"x","source":"s","id":"i","detail":{nested(n)}}}'
    ),
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1" * 5000]).map(
        lambda number: f'{{"process_id":"{PID}","status":"paid","data":{{"n":{number}}}}}'
    ),
    st.integers(0, 250_000).map(
        lambda n: json.dumps({"process_id": PID, "status": "paid", "event_id": "e" * n})
    ),
    surrogates.map(
        lambda text: json.dumps({"process_id": PID, "status": "paid", "event_id": text})
    ),
    surrogates.map(lambda text: json.dumps(checkout(client_reference_id=PID, currency=text))),
    surrogates.map(lambda text: json.dumps({"process_id": PID, "status": "paid", text: 1})),
)
any_body = st.one_of(
    stripe_events().map(json.dumps),
    plain_messages().map(json.dumps),
    plain_messages().map(lambda message: json.dumps(message, ensure_ascii=False)),
    hostile_bodies,
)


# -- the mapping --------------------------------------------------------------------------


def examples(bodies: list[str]) -> Callable[[Any], Any]:
    """Hypothesis' @example once for each body."""

    def decorate(test: Any) -> Any:
        for body in bodies:
            test = example(body)(test)
        return test

    return decorate


def mapped(body: str) -> Completion | InvalidMessage | None:
    """The mapping's answer; any exception other than InvalidMessage fails the test."""
    try:
        result = completion_from_message(body)
    except InvalidMessage as error:
        result = error
    event(f"mapped to {type(result).__name__}")  # counted by --hypothesis-show-statistics
    return result


def documented_ids(event: dict[str, Any]) -> set[str]:
    """The process ids an event carries where the README says to put them."""
    detail = event.get("detail")
    data = detail.get("data") if isinstance(detail, dict) else None
    session = data.get("object") if isinstance(data, dict) else None
    if not isinstance(session, dict):
        return set()
    metadata = session.get("metadata")
    places = [
        session.get("client_reference_id"),
        metadata.get("process_id") if isinstance(metadata, dict) else None,
    ]
    return {place for place in places if isinstance(place, str) and DOCUMENTED_ID.fullmatch(place)}


def assert_says_little(error: InvalidMessage) -> None:
    """A rejection is logged: it names fields, briefly, and quotes none of the values."""
    text = str(error)
    assert len(text) <= 1000
    assert not any(value in text for value in PERSONAL)


def assert_can_be_sent_on(completion: Completion) -> None:
    """What reaches DynamoDB and Landbot is strict JSON in UTF-8, and small."""
    strict = functools.partial(
        json.dumps, allow_nan=False, ensure_ascii=False, separators=(",", ":")
    )
    strict(completion.model_dump()).encode()
    assert len(strict(completion.data).encode()) <= MAX_DATA_BYTES
    assert completion.event_id is None or len(completion.event_id) <= 200


@settings(max_examples=MAPPING_EXAMPLES, deadline=None)
@given(any_body)
@examples(FOUND)
def test_any_body_maps_to_a_completion_nothing_or_invalid_message(body: str) -> None:
    result = mapped(body)
    assert result is None or isinstance(result, Completion | InvalidMessage)
    if isinstance(result, InvalidMessage):
        assert_says_little(result)
    if isinstance(result, Completion):
        assert DOCUMENTED_ID.fullmatch(result.process_id)
        assert_can_be_sent_on(result)


@settings(max_examples=MAPPING_EXAMPLES, deadline=None)
@given(stripe_events())
@example(checkout(client_reference_id=PID, metadata={"process_id": OTHER_PID}))
@example(checkout(client_reference_id=PID + "\n", payment_status="paid"))
def test_a_stripe_event_resumes_only_the_process_it_names(event: dict[str, Any]) -> None:
    named = documented_ids(event)
    result = mapped(json.dumps(event))
    if not named:
        # A process id only in customer details, custom fields, other metadata keys or a
        # malformed one: never a completion for anyone.
        assert not isinstance(result, Completion)
    if isinstance(result, Completion):
        assert named == {result.process_id}
        detail = event["detail"]
        session = detail["data"]["object"]
        assert result.outcome == DOCUMENTED_OUTCOMES[detail["type"]]
        assert (result.event_type, result.event_id) == (detail["type"], detail["id"])
        if detail["type"] == "checkout.session.completed":
            assert session.get("payment_status") in SETTLED
        assert set(result.data) <= STRIPE_DATA_KEYS
        assert_can_be_sent_on(result)


@settings(max_examples=MAPPING_EXAMPLES, deadline=None)
@given(plain_messages())
def test_a_plain_message_is_taken_as_written_or_refused(message: dict[str, Any]) -> None:
    result = mapped(json.dumps(message))
    assert result is not None, "a plain message is never ignored silently"
    if isinstance(result, InvalidMessage):
        assert_says_little(result)
    if isinstance(result, Completion):
        assert DOCUMENTED_ID.fullmatch(message["process_id"])
        assert result.process_id == message["process_id"]
        assert result.outcome == message["status"]
        assert result.event_id == message.get("event_id")
        assert result.data == message.get("data", {})
        assert_can_be_sent_on(result)


def fingerprint(result: Completion | InvalidMessage | None) -> Any:
    if isinstance(result, InvalidMessage):
        return ("invalid", str(result))
    return None if result is None else result.model_dump()


@settings(max_examples=MAPPING_EXAMPLES // 2, deadline=None)
@given(any_body)
@examples(FOUND)
def test_the_same_body_always_maps_to_the_same_result(body: str) -> None:
    assert fingerprint(mapped(body)) == fingerprint(mapped(body))


# -- the resume handler -------------------------------------------------------------------

CUSTOMER_IDS = iter(range(900_000_001, 999_999_999))


@pytest.fixture
def atomic_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB applies each conditional write atomically; in-process moto, called from the
    handler's record threads, checks and writes without a lock (so two claims of one process
    could both succeed). The local stack's moto server is made atomic the same way."""
    lock = threading.RLock()

    def atomic(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def locked(*args: Any, **kwargs: Any) -> Any:
            with lock:
                return method(*args, **kwargs)

        return locked

    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        monkeypatch.setattr(DynamoDBBackend, name, atomic(getattr(DynamoDBBackend, name)))


@pytest.fixture
def resume_app(
    monkeypatch: pytest.MonkeyPatch,
    store: DynamoDBProcessStore,
    landbot: FakeLandbot,
    atomic_writes: None,
) -> Iterator[ModuleType]:
    """The resume function's module on moto, with the fake Landbot."""
    for name, value in {
        "PROCESSES_TABLE": store.table_name,
        "LANDBOT_TOKEN_SECRET": "unused",
        "COMPLETION_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/completions",
        "LANDBOT_RATE_LIMIT": "0",
        "POWERTOOLS_SERVICE_NAME": "landbot-resume",
        "POWERTOOLS_METRICS_NAMESPACE": "LandbotResume",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    module = importlib.import_module("resume_app")
    monkeypatch.setattr(module, "store", store)
    monkeypatch.setattr(module, "landbot", landbot)
    monkeypatch.setattr(module, "limiter", None, raising=False)  # the fake needs no pacing
    yield module


# A record is ("raw", body), or ("plain", i, status) / ("stripe", i, type) for the i-th of the
# processes waiting in that example.
small_bodies = st.one_of(
    stripe_events().map(json.dumps),
    plain_messages().map(json.dumps),
    st.text(max_size=40),
    # Deep enough to stop the parser on the handler's record threads too.
    st.integers(1, 12_000).map(lambda n: "[" * n + "]" * n),
    st.integers(1, 1_000).map(
        lambda n: f'{{"process_id":"{PID}","status":"paid","data":{nested(n)}}}'
    ),
)
records = st.lists(
    st.one_of(
        st.tuples(st.just("raw"), small_bodies),
        st.tuples(st.just("plain"), st.integers(0, 2), st.sampled_from(["paid", "approved"])),
        st.tuples(st.just("stripe"), st.integers(0, 2), st.sampled_from(list(DOCUMENTED_OUTCOMES))),
    ),
    min_size=1,
    max_size=10,
)


def record_body(spec: tuple[Any, ...], waiting: list[str]) -> str:
    if spec[0] == "raw":
        return str(spec[1])
    process_id = waiting[spec[1]]
    if spec[0] == "plain":
        return json.dumps({"process_id": process_id, "status": spec[2]})
    session = {"client_reference_id": process_id, "payment_status": "paid", "currency": "eur"}
    detail = {"id": f"evt_{spec[1]}", "type": spec[2], "data": {"object": session}}
    return json.dumps({"id": "e", "source": "s", "detail-type": spec[2], "detail": detail})


def invoke(module: ModuleType, event: dict[str, Any]) -> set[str]:
    context = LambdaContext(function_name="ResumeFunction", timeout=30.0)
    context._deadline = time.monotonic() + 30.0
    response = module.handler(event, context)
    return {failure["itemIdentifier"] for failure in response["batchItemFailures"]}


@settings(
    max_examples=HANDLER_EXAMPLES,
    deadline=None,
    # The table and the fake Landbot outlive the examples on purpose: each example starts
    # processes of its own on them.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(records)
def test_the_handler_hands_back_exactly_the_records_it_cannot_process(
    resume_app: ModuleType, store: DynamoDBProcessStore, landbot: FakeLandbot, records: list[Any]
) -> None:
    customers = [next(CUSTOMER_IDS) for _ in range(3)]
    waiting = [
        create_process(
            ProcessRequest(bot_id=7, node_id="Nresume", customer_id=customer),
            store,
            now=int(time.time()),
            ttl_seconds=3600,
            retry_window=0,
        )[0].process_id
        for customer in customers
    ]
    bodies = [record_body(spec, waiting) for spec in records]
    failed = invoke(resume_app, sqs_event(*bodies))

    for_process: dict[str, list[str]] = {}
    for index, body in enumerate(bodies):
        message_id, result = f"m{index}", mapped(body)
        if isinstance(result, InvalidMessage):
            assert message_id in failed, "a malformed message must stay visible (DLQ)"
        elif result is None:
            assert message_id not in failed, "an event for no process of ours is acknowledged"
        elif result.process_id not in waiting:
            assert message_id in failed, "an event for an unknown process is retried"
        else:
            for_process.setdefault(result.process_id, []).append(message_id)
    for message_ids in for_process.values():
        # One delivery resumes the process; the others are duplicates (acknowledged) or
        # found it claimed while it ran (retried later).
        assert any(message_id not in failed for message_id in message_ids)
    jumps = [args[0] for name, args in landbot.calls if name == "assign_bot"]
    for process_id, customer in zip(waiting, customers, strict=True):
        process = store.get(process_id)
        assert process is not None
        resumed = process_id in for_process
        assert process.status == (Status.RESUMED if resumed else Status.PENDING)
        assert jumps.count(customer) == (1 if resumed else 0)
