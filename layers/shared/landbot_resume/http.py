"""The webhook API's edge: the token check, the guards a body passes before anything parses
it, and the shape of every error answer (never repeating the values sent)."""

from __future__ import annotations

import base64
import hmac
import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from landbot_resume.models import ErrorBody

WEBHOOK_HEADER = "x-webhook-token"
# A request is a few hundred bytes; the cap is checked before anything parses the body.
MAX_BODY_BYTES = 8 * 1024
# How the OpenAPI document describes the answers every route may give.
UNAUTHORIZED_ANSWER = "X-Webhook-Token missing or wrong (always the same body)."
THROTTLED_ANSWER = "API Gateway's throttling (stage limit), not the function."


def parse_json(text: str) -> Any:
    """json.loads, with every refusal a JSONDecodeError (which the Event Handler answers 400):
    a number over 4300 digits raises ValueError, a deep enough nest RecursionError."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise
    except (ValueError, RecursionError) as error:
        raise json.JSONDecodeError(type(error).__name__, text, 0) from None


def error_body(field: str, message: str, summary: str = "Invalid request") -> dict[str, Any]:
    return {"message": summary, "errors": [{"field": field, "message": message}]}


def early_answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    """An HTTP API answer given before the Event Handler runs."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": json.dumps(body, separators=(",", ":")),
        "isBase64Encoded": False,
    }


_NOT_JSON = error_body("body", "must be a JSON object (Content-Type: application/json)")
UNAUTHORIZED = early_answer(401, {"message": "Unauthorized"})
NOT_JSON = early_answer(415, _NOT_JSON)
NOT_UTF8 = early_answer(400, _NOT_JSON)
TOO_LARGE = early_answer(
    413, error_body("body", f"must be at most {MAX_BODY_BYTES} bytes", "Request too large")
)


class Refused(Exception):
    """A request answered before the Event Handler sees it."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer


def token_matches(headers: dict[str, str], expected: str) -> bool:
    """Compared in constant time; HTTP APIs hand header names over in lower case."""
    sent = headers.get(WEBHOOK_HEADER) or ""
    # surrogatepass: a header value that is not valid Unicode is just a wrong token.
    return hmac.compare_digest(sent.encode(errors="surrogatepass"), expected.encode())


def json_request(event: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    """The event with its body (if any) as UTF-8 JSON text; raises Refused for bytes the
    Event Handler must not parse: too many of them, another media type, or not text at all."""
    body: str = event.get("body") or ""
    if not body:
        return event
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


def _json(status: int, body: dict[str, Any]) -> Response[dict[str, Any]]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def register_error_handlers(app: APIGatewayHttpResolver) -> None:
    """Make the Event Handler's refusals answer an ErrorBody that names the fields at fault."""

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


def error_answers(described: dict[int, str]) -> dict[int, OpenAPIResponse]:
    """The OpenAPI description of a route's error answers, all with an ErrorBody."""
    return {
        status: {
            "description": text,
            "content": {content_types.APPLICATION_JSON: {"model": ErrorBody}},
        }
        for status, text in described.items()
    }
