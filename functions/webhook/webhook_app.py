"""HTTP API entry point: a Landbot Webhook block starts a wait here, and anyone may ask how
it is going."""

from __future__ import annotations

import hmac
import json
import os
import time
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from landbot_resume.models import PROCESS_ID_PATTERN, ProcessRequest, ProcessView
from landbot_resume.processes import create_process
from landbot_resume.secrets import get_secret
from landbot_resume.store import ProcessStore

WEBHOOK_HEADER = "x-webhook-token"

logger = Logger()
tracer = Tracer()
metrics = Metrics()
app = APIGatewayHttpResolver(enable_validation=True)
store = ProcessStore(os.environ["PROCESSES_TABLE"])
_NOT_JSON = {
    "message": "Invalid request",
    "errors": [
        {"field": "body", "message": "must be a JSON object (Content-Type: application/json)"}
    ],
}


def _early_answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    """An HTTP API answer given before the Event Handler runs."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": json.dumps(body, separators=(",", ":")),
        "isBase64Encoded": False,
    }


UNAUTHORIZED = _early_answer(401, {"message": "Unauthorized"})
NOT_JSON = _early_answer(415, _NOT_JSON)
TTL_SECONDS = int(os.environ.get("PROCESS_TTL_SECONDS", "604800"))
RETRY_WINDOW_SECONDS = int(os.environ.get("RETRY_WINDOW_SECONDS", "120"))


def _json(status: int, body: dict[str, Any]) -> Response[dict[str, Any]]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def authorized(headers: dict[str, str]) -> bool:
    """Compared in constant time; HTTP APIs hand header names over in lower case."""
    sent = headers.get(WEBHOOK_HEADER) or ""
    expected = get_secret(os.environ["WEBHOOK_TOKEN_SECRET"])
    return hmac.compare_digest(sent.encode(), expected.encode())


@app.exception_handler(RequestUnsupportedContentType)  # type: ignore[untyped-decorator]
def unsupported_content_type(error: RequestUnsupportedContentType) -> Response[dict[str, Any]]:
    return _json(415, _NOT_JSON)


@app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
def invalid_request(error: RequestValidationError) -> Response[dict[str, Any]]:
    if any(item.get("type") == "json_invalid" for item in error.errors()):
        return _json(400, _NOT_JSON)
    # Name the fields and say what is wrong, but never echo the values (personal data).
    errors = [
        {
            "field": ".".join(str(part) for part in item["loc"][1:]) or "body",
            "message": item["msg"],
        }
        for item in error.errors()
    ]
    return _json(422, {"message": "Invalid request", "errors": errors})


@app.post("/processes")
def start_process(request: ProcessRequest) -> Response[ProcessView]:
    process, created = create_process(
        request,
        store,
        now=int(time.time()),
        ttl_seconds=TTL_SECONDS,
        retry_window=RETRY_WINDOW_SECONDS,
    )
    if created:
        metrics.add_metric(name="ProcessesCreated", unit=MetricUnit.Count, value=1)
    else:
        metrics.add_metric(name="RepeatedRequests", unit=MetricUnit.Count, value=1)
    logger.info("Process started", process_id=process.process_id, new=created)
    # A retried request gets the same answer as the first one, so the bot sees one process.
    return Response(201, content_types.APPLICATION_JSON, ProcessView.of(process))


@app.get("/processes/<process_id>")
def get_process(
    process_id: Annotated[str, Path(pattern=PROCESS_ID_PATTERN)],
) -> Response[ProcessView]:
    process = store.get(process_id)
    if process is None:
        raise NotFoundError("No such process")
    return Response(200, content_types.APPLICATION_JSON, ProcessView.of(process))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Checked before the Event Handler runs: its validation must not answer strangers.
    headers = event.get("headers") or {}
    if not authorized(headers):
        metrics.add_metric(name="Unauthorized", unit=MetricUnit.Count, value=1)
        return UNAUTHORIZED
    # Landbot sends no Content-Type unless told to; anything declared must be JSON.
    content_type = headers.get("content-type", "application/json")
    if event.get("body") and not content_type.lower().startswith("application/json"):
        return NOT_JSON
    return app.resolve(event, context)
