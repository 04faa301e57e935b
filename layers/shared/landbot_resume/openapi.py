"""The webhook API's OpenAPI document, generated from the resolver's routes and models.

Imported only when the document is asked for (make generated), never by a cold start:
Powertools' OpenAPI models take longer to import than the rest of the function, and the
deployed API never serves the document.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn

DESCRIPTION = (
    "A Landbot Webhook block starts a wait with POST /processes and gets a process id"
    " to give to the payment; when the outcome arrives, the customer's field is set"
    " and the bot continues at node_id. GET /processes/{process_id} reports how it"
    " is going. Every request needs the X-Webhook-Token header. Errors never repeat"
    " the values sent."
)


def openapi_document(app: APIGatewayHttpResolver) -> str:
    """The document as JSON text."""
    return app.get_openapi_json_schema(
        title="landbot-resume webhook API",
        version="1.0.0",
        description=DESCRIPTION,
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
