"""No secret and no personal data in the logs or the answers, on every path a request takes.

Both functions run in this process as template.yaml configures them (at DEBUG), on moto, and
call a Landbot simulator over HTTP on 127.0.0.1 that can answer errors echoing what it was
sent, or answer too late. A person's name, e-mail and phone travel in the webhook's
`context` and in the Stripe event's customer details; the test then walks the happy path and
the error paths and reads every log line and every response body.
"""

from __future__ import annotations

import importlib
import io
import json
import logging
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities import parameters

from devstack.aws import create_resources
from devstack.gateway import http_api_event, routes_of
from devstack.lambdas import LambdaContext
from devstack.landbot_simulator import LandbotSimulator
from devstack.samples import sqs_event, stripe_event

PERSON = {
    "name": "Adaëlle Lovelace",
    "email": "ada.lovelace@example.com",
    "phone": "+34 600 123 456",
}
REFERENCE = "order-1042"  # the bot's own reference: returned in the API and the field by design
BOT, NODE = 1010178, "Nkqgn6xkf"
SERVICE = "landbot-resume"
# The resume function stops calling Landbot 3 s before its end: 4 s leave 1 s for retries.
SHORT_INVOCATION = 4.0


@dataclass
class Service:
    webhook: ModuleType
    resume: ModuleType
    landbot: LandbotSimulator
    webhook_token: str
    landbot_token: str
    landbot_secret: str
    service_log: io.StringIO  # what the Powertools Logger writes
    library_lines: list[str] = field(default_factory=list)  # other loggers' records
    responses: list[str] = field(default_factory=list)
    other_tokens: list[str] = field(default_factory=list)  # a stale one, a wrong one
    customers: Iterator[int] = field(default_factory=lambda: iter(range(810_000_001, 820_000_000)))

    def call(
        self, method: str, path: str, body: Any = None, token: str | None = None
    ) -> tuple[int, Any]:
        """One HTTP API request to the webhook function, as API Gateway hands it over."""
        for route in routes_of("WebhookFunction"):
            params = route.match(method, path)
            if params is not None:
                break
        else:
            raise LookupError(f"no route for {method} {path}")
        headers = {"X-Webhook-Token": self.webhook_token if token is None else token}
        raw = body if isinstance(body, str) else json.dumps(body) if body is not None else ""
        event = http_api_event(route, params, method, path, headers, raw.encode())
        response: dict[str, Any] = self.webhook.handler(event, context("WebhookFunction", 10.0))
        self.responses.append(response.get("body") or "")
        return int(response["statusCode"]), json.loads(response.get("body") or "null")

    def start(self) -> tuple[int, str]:
        """A process for a new Landbot customer, carrying the person in its context."""
        customer_id = next(self.customers)
        self.landbot.add_customer(customer_id, {"data": {"type": "object", "value": {}}})
        status, body = self.call(
            "POST",
            "/processes",
            {
                "bot_id": BOT,
                "node_id": NODE,
                "customer_id": customer_id,
                "reference": REFERENCE,
                "context": dict(PERSON),
            },
        )
        assert status == 201
        return customer_id, str(body["process_id"])

    def complete(self, *bodies: Any, seconds: float = 30.0) -> set[str]:
        """One SQS batch to the resume function; the ids of the records it hands back."""
        response = self.resume.handler(sqs_event(*bodies), context("ResumeFunction", seconds))
        return {failure["itemIdentifier"] for failure in response["batchItemFailures"]}

    def state(self, process_id: str) -> dict[str, Any]:
        status, body = self.call("GET", f"/processes/{process_id}")
        assert status == 200
        return dict(body)

    def log_lines(self) -> list[str]:
        return [line for line in self.service_log.getvalue().splitlines() if line.strip()]


def context(function_name: str, seconds: float) -> LambdaContext:
    invocation = LambdaContext(function_name=function_name, timeout=seconds)
    invocation._deadline = time.monotonic() + seconds
    return invocation


def paid_event(process_id: str | None) -> dict[str, Any]:
    """A paid Checkout Session whose customer details are the person's."""
    event = stripe_event("checkout.session.completed", process_id or "unused")
    session = event["detail"]["data"]["object"]
    session["customer_details"] = dict(PERSON)
    if process_id is None:
        session["client_reference_id"], session["metadata"] = None, {}
    return event


class _Collect(logging.Handler):
    """Records from the standard library's loggers: at INFO and up from any library (the
    Lambda runtime prints the root logger's), and any attached logger's at every level."""

    def __init__(self, lines: list[str], level: int) -> None:
        super().__init__(level)
        self.lines = lines
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))  # with any traceback


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch, aws_in_process: None) -> Iterator[Service]:
    landbot_token = secrets.token_hex(20)
    with LandbotSimulator(port=0, tokens=[landbot_token], rate_limit=1000) as landbot:
        landbot.late_seconds = 2.0  # longer than the function's Landbot timeout (1 s)
        # No endpoint: boto3's own, which mock_aws serves.
        resources, environments = create_resources(
            None, landbot_token=landbot_token, landbot_api_url=landbot.url
        )
        environment = {**environments["WebhookFunction"], **environments["ResumeFunction"]}
        # Logging the incoming event would log the token header and the context.
        assert environment.get("POWERTOOLS_LOGGER_LOG_EVENT", "false").lower() == "false"
        environment.update(
            POWERTOOLS_LOG_LEVEL="DEBUG",
            POWERTOOLS_TRACE_DISABLED="true",
            LANDBOT_TIMEOUT_SECONDS="1",  # the smallest the template allows
        )
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        parameters.clear_caches()  # secrets cached by an earlier test, or a client elsewhere
        # Loaded anew with this environment, as a cold start would.
        webhook, resume = (
            importlib.reload(importlib.import_module(name))
            for name in ("webhook_app", "resume_app")
        )

        log = io.StringIO()
        service_logger = logging.getLogger(SERVICE)
        streams = [
            (handler, handler.setStream(log))
            for handler in service_logger.handlers
            if isinstance(handler, logging.StreamHandler)
        ]
        assert streams, "the Powertools Logger writes through a stream handler"
        # Set here too: a Logger configured by an earlier import keeps its first level.
        level = service_logger.level
        service_logger.setLevel(logging.DEBUG)
        lines: list[str] = []
        collect = _Collect(lines, logging.INFO)
        logging.getLogger().addHandler(collect)
        try:
            yield Service(
                webhook=webhook,
                resume=resume,
                landbot=landbot,
                webhook_token=resources.webhook_token,
                landbot_token=landbot_token,
                landbot_secret=resources.physical["LandbotTokenSecret"],
                service_log=log,
                library_lines=lines,
            )
        finally:
            logging.getLogger().removeHandler(collect)
            service_logger.setLevel(level)
            for handler, stream in streams:
                handler.setStream(stream)
            parameters.clear_caches()


@pytest.fixture
def powertools_debug(service: Service) -> Iterator[None]:
    """Powertools' own loggers at DEBUG, as POWERTOOLS_DEBUG=true prints them (they are
    silent otherwise: no handler, no propagation)."""
    package_logger = logging.getLogger("aws_lambda_powertools")
    level = package_logger.level
    collect = _Collect(service.library_lines, logging.DEBUG)
    package_logger.setLevel(logging.DEBUG)
    package_logger.addHandler(collect)
    yield
    package_logger.removeHandler(collect)
    package_logger.setLevel(level)


def walk(service: Service) -> None:
    """The happy path and every error path, each carrying the person's data."""
    stale_token = secrets.token_urlsafe(30)
    wrong_landbot_token = secrets.token_hex(20)
    service.other_tokens += [stale_token, wrong_landbot_token]
    unknown = f"pr_{uuid.uuid4().hex}"

    # -- the webhook ----------------------------------------------------------------------
    request = {"bot_id": BOT, "node_id": NODE, "customer_id": 42, "context": dict(PERSON)}
    assert service.call("POST", "/processes", request, token=stale_token)[0] == 401
    assert service.call("POST", "/processes", request, token="")[0] == 401
    invalid = {
        "bot_id": PERSON["name"],
        "node_id": PERSON["email"],
        "customer_id": PERSON["phone"],
        "field": PERSON["email"],
        "reference": PERSON["name"] * 20,
        "context": {"notes": PERSON["email"] * 100},
    }
    status, answer = service.call("POST", "/processes", invalid)
    assert status == 422
    assert {error["field"] for error in answer["errors"]} == {
        "bot_id",
        "node_id",
        "customer_id",
        "field",
        "reference",
        "context",
    }
    assert service.call("POST", "/processes", f"name={PERSON['name']}")[0] == 400
    assert service.call("POST", "/processes", {**request, "email": PERSON["email"]})[0] == 422
    assert service.call("GET", f"/processes/{unknown}")[0] == 404

    # -- resumed, then the same event again -----------------------------------------------
    customer, process_id = service.start()
    event = paid_event(process_id)
    assert service.complete(event) == set()
    assert service.complete(event) == set()  # a duplicate: acknowledged
    assert service.state(process_id)["status"] == "RESUMED"
    assert service.landbot.customer(customer)["node"] == NODE

    # -- Landbot errors whose bodies echo what they were sent -----------------------------
    for answer_code in (500, 429):
        _, process_id = service.start()
        service.landbot.answer_next("field", *[answer_code] * 10)
        # Retried until the invocation's time is up, then handed back for a later delivery.
        assert service.complete(paid_event(process_id), seconds=SHORT_INVOCATION) == {"m0"}
        assert service.state(process_id)["status"] == "RESUMING"
    _, process_id = service.start()
    service.landbot.answer_next("field", 400)
    assert service.complete(paid_event(process_id)) == set()
    refused = service.state(process_id)
    assert refused["status"] == "FAILED"
    assert refused["failure_reason"].startswith("set field answered 400: Cannot process")

    # -- a jump answered too late ---------------------------------------------------------
    _, process_id = service.start()
    service.landbot.answer_next("assign", "late")
    assert service.complete(paid_event(process_id)) == set()
    late = service.state(process_id)
    assert (late["status"], late["failure_reason"]) == (
        "FAILED",
        "assign_bot unconfirmed: assign_bot timed out",
    )

    # -- messages that cannot be processed, or are not for us -----------------------------
    broken_envelope = paid_event(None)
    broken_envelope["detail"]["data"] = f"{PERSON['name']} <{PERSON['email']}>"
    failed = service.complete(
        {"process_id": unknown, "status": "paid", "data": dict(PERSON)},
        {"process_id": PERSON["email"], "status": PERSON["name"], "data": dict(PERSON)},
        {"process_id": unknown, "status": "paid", PERSON["email"]: PERSON["phone"]},
        f"name={PERSON['name']}&email={PERSON['email']}",
        broken_envelope,
        paid_event(None),  # no process id: someone else's payment
    )
    assert failed == {"m0", "m1", "m2", "m3", "m4"}

    # -- a Landbot token Landbot does not accept (last: the container then holds records) -
    secretsmanager = boto3.client("secretsmanager")
    secretsmanager.put_secret_value(
        SecretId=service.landbot_secret, SecretString=wrong_landbot_token
    )
    parameters.clear_caches()
    _, process_id = service.start()
    assert service.complete(paid_event(process_id)) == {"m0"}  # held, read afresh, held
    held = service.state(process_id)
    assert (held["status"], held["failure_reason"]) == ("RESUMING", None)
    _, process_id = service.start()
    assert service.complete(paid_event(process_id)) == {"m0"}  # held without a call
    assert [call.token for call in service.landbot.calls()][-2:] == [wrong_landbot_token] * 2
    secretsmanager.put_secret_value(
        SecretId=service.landbot_secret, SecretString=service.landbot_token
    )
    parameters.clear_caches()


class Leaked(AssertionError):
    """A secret or a piece of personal data in a log line or a response body."""


def assert_nothing_leaked(service: Service, capsys: pytest.CaptureFixture[str]) -> None:
    output = capsys.readouterr()
    structured = service.log_lines()
    for line in structured:
        json.loads(line)  # every line of the service's own logs is structured
    written = [
        *structured,
        *service.library_lines,
        *output.out.splitlines(),
        *output.err.splitlines(),
    ]
    assert any(REFERENCE in line and "Cannot process" in line for line in structured), (
        "Landbot's echo is logged: the check below reads the lines that would leak"
    )
    secret_values = [
        service.webhook_token,
        service.landbot_token,
        *service.other_tokens,
        *PERSON.values(),
    ]
    # Also as JSON writes them (non-ASCII escaped), and the e-mail's local part alone.
    forms = {form for value in secret_values for form in (value, json.dumps(value)[1:-1])}
    forms.add(PERSON["email"].split("@")[0])
    for text in [*written, *service.responses]:
        leaked = [form for form in forms if form in text]
        if leaked:
            raise Leaked(f"{leaked} in {text[:300]}")


def test_no_secret_and_no_personal_data_in_logs_or_answers(
    service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    walk(service)
    assert_nothing_leaked(service, capsys)


def test_nor_in_powertools_own_debug_output(
    service: Service, powertools_debug: None, capsys: pytest.CaptureFixture[str]
) -> None:
    walk(service)
    assert_nothing_leaked(service, capsys)
