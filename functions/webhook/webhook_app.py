"""HTTP API entry point: a Landbot Webhook block starts a wait here, and anyone may ask how
it is going."""

from __future__ import annotations

import base64
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
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from landbot_resume.models import PROCESS_ID_PATTERN, ErrorBody, ProcessRequest, ProcessView
from landbot_resume.processes import create_process
from landbot_resume.secrets import get_secret
from landbot_resume.store import ProcessStore

WEBHOOK_HEADER = "x-webhook-token"
# A request is a few hundred bytes; the cap is checked before anything parses the body.
MAX_BODY_BYTES = 8 * 1024


def _parse_json(text: str) -> Any:
    """json.loads, with every refusal a JSONDecodeError (which the Event Handler answers 400):
    a number over 4300 digits raises ValueError, a deep enough nest RecursionError."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError) as error:
        raise json.JSONDecodeError(type(error).__name__, text, 0) from None


logger = Logger()
# Traces what a request waits for: DynamoDB and Secrets Manager (both botocore).
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics()
app = APIGatewayHttpResolver(enable_validation=True, json_body_deserializer=_parse_json)
store = ProcessStore(os.environ["PROCESSES_TABLE"])


def _error_body(field: str, message: str, summary: str = "Invalid request") -> dict[str, Any]:
    return {"message": summary, "errors": [{"field": field, "message": message}]}


def _early_answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    """An HTTP API answer given before the Event Handler runs."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": json.dumps(body, separators=(",", ":")),
        "isBase64Encoded": False,
    }


_NOT_JSON = _error_body("body", "must be a JSON object (Content-Type: application/json)")
UNAUTHORIZED = _early_answer(401, {"message": "Unauthorized"})
NOT_JSON = _early_answer(415, _NOT_JSON)
NOT_UTF8 = _early_answer(400, _NOT_JSON)
TOO_LARGE = _early_answer(
    413, _error_body("body", f"must be at most {MAX_BODY_BYTES} bytes", "Request too large")
)
TTL_SECONDS = int(os.environ.get("PROCESS_TTL_SECONDS", "604800"))
RETRY_WINDOW_SECONDS = int(os.environ.get("RETRY_WINDOW_SECONDS", "120"))


def _json(status: int, body: dict[str, Any]) -> Response[dict[str, Any]]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def _error_answers(described: dict[int, str]) -> dict[int, OpenAPIResponse]:
    """The OpenAPI description of error answers, all with an ErrorBody."""
    return {
        status: {
            "description": text,
            "content": {content_types.APPLICATION_JSON: {"model": ErrorBody}},
        }
        for status, text in described.items()
    }


class Refused(Exception):
    """A request answered before the Event Handler sees it."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer


_UNAUTHORIZED = "X-Webhook-Token missing or wrong (always the same body)."
_THROTTLED = "API Gateway's throttling (stage limit), not the function."


def authorized(headers: dict[str, str]) -> bool:
    """Compared in constant time; HTTP APIs hand header names over in lower case."""
    sent = headers.get(WEBHOOK_HEADER) or ""
    expected = get_secret(os.environ["WEBHOOK_TOKEN_SECRET"])
    # surrogatepass: a header value that is not valid Unicode is just a wrong token.
    return hmac.compare_digest(sent.encode(errors="surrogatepass"), expected.encode())


@app.exception_handler(RequestUnsupportedContentType)  # type: ignore[untyped-decorator]
def unsupported_content_type(error: RequestUnsupportedContentType) -> Response[dict[str, Any]]:
    return _json(415, _NOT_JSON)


@app.exception_handler(NotFoundError)  # type: ignore[untyped-decorator]
def not_found(error: NotFoundError) -> Response[dict[str, Any]]:
    return _json(404, {"message": str(error) or "Not Found"})


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


@app.post(
    "/processes",
    summary="Start waiting for an outcome",
    responses={
        201: {
            "description": "The waiting process; an identical request repeated within the"
            " retry window gets the same process back.",
            "content": {content_types.APPLICATION_JSON: {"model": ProcessView}},
        },
        **_error_answers(
            {
                400: "The body is not JSON (or not UTF-8).",
                401: _UNAUTHORIZED,
                413: f"The body is over {MAX_BODY_BYTES} bytes.",
                415: "A Content-Type other than application/json was declared.",
                422: "A field is missing, unknown or invalid; each error names the field.",
                429: _THROTTLED,
            }
        ),
    },
)
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


@app.get(
    "/processes/<process_id>",
    summary="How a process is going",
    responses={
        200: {
            "description": "The process.",
            "content": {content_types.APPLICATION_JSON: {"model": ProcessView}},
        },
        **_error_answers(
            {
                401: _UNAUTHORIZED,
                404: "No process has this id (or it expired).",
                422: "The process id is malformed.",
                429: _THROTTLED,
            }
        ),
    },
)
def get_process(
    process_id: Annotated[
        str, Path(pattern=PROCESS_ID_PATTERN, description="As POST /processes returned it.")
    ],
) -> Response[ProcessView]:
    process = store.get(process_id)
    if process is None:
        raise NotFoundError("No such process")
    return Response(200, content_types.APPLICATION_JSON, ProcessView.of(process))


def _json_request(event: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    """The event with its body as UTF-8 JSON text; raises Refused for bytes the Event Handler
    must not parse: too many of them, another media type, or not text at all."""
    body: str = event["body"]
    data = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode()
    if len(data) > MAX_BODY_BYTES:
        raise Refused(TOO_LARGE)
    # Landbot sends no Content-Type unless told to; anything declared must be JSON.
    media_type = headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if media_type != content_types.APPLICATION_JSON:
        raise Refused(NOT_JSON)
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise Refused(NOT_UTF8) from None
    # Media types are case-insensitive; the Event Handler compares in lower case.
    headers = {**headers, "content-type": content_types.APPLICATION_JSON}
    return {**event, "headers": headers, "body": text, "isBase64Encoded": False}


def openapi_document() -> str:
    """The API's OpenAPI document, generated from the routes and models (make openapi).

    Built only when asked for: Powertools' OpenAPI models take longer to import than the rest
    of the function, and the deployed API never serves the document."""
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn

    return app.get_openapi_json_schema(
        title="landbot-resume webhook API",
        version="1.0.0",
        description=(
            "A Landbot Webhook block starts a wait with POST /processes and gets a process id"
            " to give to the payment; when the outcome arrives, the customer's field is set"
            " and the bot continues at node_id. GET /processes/{process_id} reports how it"
            " is going. Every request needs the X-Webhook-Token header. Errors never repeat"
            " the values sent."
        ),
        security_schemes={
            "webhookToken": APIKey.model_validate(
                {
                    "in": APIKeyIn.header,
                    "name": "X-Webhook-Token",
                    "description": "The value of the stack's webhook token secret.",
                }
            )
        },
        security=[{"webhookToken": []}],
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Checked before the Event Handler runs: its validation must not answer strangers.
    headers = event.get("headers") or {}
    if not authorized(headers):
        metrics.add_metric(name="Unauthorized", unit=MetricUnit.Count, value=1)
        return UNAUTHORIZED
    try:
        if event.get("body"):
            event = _json_request(event, headers)
    except Refused as refused:
        return refused.answer
    return app.resolve(event, context)
