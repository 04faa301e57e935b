"""The webhook API's OpenAPI document: Powertools generates it from the function's own routes
and models; `make generated` rewrites docs/openapi.json."""

from __future__ import annotations

import json
from typing import Any

from devstack.artifacts import template_variables
from devstack.aws import REGION
from devstack.lambdas import ExecutionEnvironment, local_function
from devstack.template import ROOT

DOCUMENT = ROOT / "docs" / "openapi.json"
FUNCTION = "WebhookFunction"


def generate() -> str:
    """The document as the webhook function's code describes it, pretty-printed with sorted
    keys so that it diffs well. Imports the function in an execution environment of its own
    (no AWS call is made, nothing is invoked)."""
    environment = {
        **template_variables(FUNCTION),
        "AWS_DEFAULT_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
    with ExecutionEnvironment(FUNCTION, environment=environment, quiet=True) as function:
        document = json.loads(function.run(_document))
    return json.dumps(_without_unused_schemas(document), indent=2, sort_keys=True) + "\n"


def _document() -> str:
    """Inside the environment: the document the webhook module builds."""
    text: str = local_function().module.openapi_document()
    return text


def _without_unused_schemas(document: dict[str, Any]) -> dict[str, Any]:
    """Powertools always adds its own validation error schemas; this API answers ErrorBody
    instead, so those would only mislead a reader."""
    schemas = document.get("components", {}).get("schemas", {})
    used: set[str] = set()
    pending = [json.dumps(document["paths"])]
    while pending:
        text = pending.pop()
        for name in schemas:
            if name not in used and f'"#/components/schemas/{name}"' in text:
                used.add(name)
                pending.append(json.dumps(schemas[name]))
    document["components"]["schemas"] = {name: schemas[name] for name in sorted(used)}
    return document
