"""HTTP API entry point: a Landbot Webhook block starts a wait here (or calls it off), and
anyone with the token may ask how it is going."""

from __future__ import annotations

import time
from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from landbot_resume import http, operations
from landbot_resume.models import PROCESS_ID_PATTERN, ProcessRequest, ProcessView, Source
from landbot_resume.ports import UnknownProcess
from landbot_resume.processes import InvalidRequest, create_process
from landbot_resume.secrets import get_secret
from landbot_resume.settings import WebhookSettings
from landbot_resume.store import DynamoDBProcessStore

settings = WebhookSettings.from_environ()
logger = Logger()
# Traces what a request waits for: DynamoDB and Secrets Manager (both botocore).
tracer = Tracer(patch_modules=("botocore",))
metrics = Metrics()
app = APIGatewayHttpResolver(enable_validation=True, json_body_deserializer=http.parse_json)
ProcessIdInPath = Annotated[
    str, Path(pattern=PROCESS_ID_PATTERN, description="As POST /processes returned it.")
]
http.register_error_handlers(app)
store = DynamoDBProcessStore(settings.processes_table)


def webhook_token() -> str:
    return get_secret(settings.webhook_token_secret, max_age=settings.secret_max_age_seconds)


@app.post(
    "/processes",
    summary="Start waiting for an outcome",
    responses={
        201: {
            "description": "The waiting process; an identical request repeated within the"
            " retry window gets the same process back.",
            "content": {content_types.APPLICATION_JSON: {"model": ProcessView}},
        },
        **http.error_answers(
            {
                400: "The body is not JSON (or not UTF-8).",
                401: http.UNAUTHORIZED_ANSWER,
                413: f"The body is over {http.MAX_BODY_BYTES} bytes.",
                415: "A Content-Type other than application/json was declared.",
                422: "A field is missing, unknown or invalid (a timeout_seconds too, that is"
                " not less than the stack's process lifetime); each error names the field.",
                429: http.THROTTLED_ANSWER,
            }
        ),
    },
)
def start_process(request: ProcessRequest) -> Response[ProcessView]:
    process, created = create_process(
        request,
        store,
        now=int(time.time()),
        ttl_seconds=settings.process_ttl_seconds,
        retry_window=settings.retry_window_seconds,
        default_timeout_seconds=settings.default_timeout_seconds,
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
        **http.error_answers(
            {
                401: http.UNAUTHORIZED_ANSWER,
                404: "No process has this id (or it expired).",
                422: "The process id is malformed.",
                429: http.THROTTLED_ANSWER,
            }
        ),
    },
)
def get_process(process_id: ProcessIdInPath) -> Response[ProcessView]:
    process = store.get(process_id)
    if process is None:
        raise NotFoundError("No such process")
    return Response(200, content_types.APPLICATION_JSON, ProcessView.of(process))


@app.post(
    "/processes/<process_id>/cancel",
    summary="Call the wait off",
    description=(
        "The customer moved on in the bot: the process ends CANCELLED and Landbot is not"
        " called. An outcome arriving later is recorded on the process (late_outcome),"
        " never replayed to the bot. Cancelling a cancelled process answers it again."
    ),
    responses={
        200: {
            "description": "The process, CANCELLED.",
            "content": {content_types.APPLICATION_JSON: {"model": ProcessView}},
        },
        **http.error_answers(
            {
                401: http.UNAUTHORIZED_ANSWER,
                404: "No such process (or it expired).",
                409: "Not cancelled: the process is being resumed, or ended RESUMED or FAILED.",
                422: "The process id is malformed.",
                429: http.THROTTLED_ANSWER,
            }
        ),
    },
)
def cancel_process(process_id: ProcessIdInPath) -> Response[Any]:
    try:
        move = operations.cancel(store, process_id, now=int(time.time()), source=Source.BOT)
    except UnknownProcess:
        raise NotFoundError("No such process") from None
    except operations.NotAllowed as refused:
        body = {"message": f"Not cancelled: {refused}", "errors": []}
        return Response(409, content_types.APPLICATION_JSON, body)
    if move.moved:
        metrics.add_metric(name="ProcessesCancelled", unit=MetricUnit.Count, value=1)
        logger.info("Process cancelled", process_id=process_id)
    return Response(200, content_types.APPLICATION_JSON, ProcessView.of(move.process))


@app.exception_handler(InvalidRequest)  # type: ignore[untyped-decorator]
def invalid_for_this_stack(error: InvalidRequest) -> Response[dict[str, Any]]:
    """A request valid in itself that this stack's settings refuse (422, like the others)."""
    return Response(
        422, content_types.APPLICATION_JSON, http.error_body(error.field, error.message)
    )


def openapi_document() -> str:
    """The API's OpenAPI document (make generated); its builder is imported only now, never by
    a cold start."""
    from landbot_resume.openapi import openapi_document as document_of

    return document_of(app)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Checked before the Event Handler runs: its validation must not answer strangers.
    headers = event.get("headers") or {}
    if not http.token_matches(headers, webhook_token()):
        metrics.add_metric(name="Unauthorized", unit=MetricUnit.Count, value=1)
        return http.UNAUTHORIZED
    try:
        event = http.json_request(event, headers)
    except http.Refused as refused:
        return refused.answer
    return app.resolve(event, context)
