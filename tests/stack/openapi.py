"""The webhook API's OpenAPI document: Powertools generates it from the function's own routes
and models; `python -m tests.stack openapi` (make openapi) rewrites docs/openapi.json."""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from tests.cfn import ROOT
from tests.stack.lambdas import LocalFunction

DOCUMENT = ROOT / "docs" / "openapi.json"
FUNCTION = "WebhookFunction"


def generate() -> str:
    """The document as the webhook function's code describes it, pretty-printed with sorted
    keys so that it diffs well. Imports the function (nothing is called)."""
    # What the module reads at import; no AWS call is made.
    for name, value in {
        "PROCESSES_TABLE": "processes",
        "WEBHOOK_TOKEN_SECRET": "unused",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }.items():
        os.environ.setdefault(name, value)
    handler = LocalFunction(FUNCTION).handler
    module = importlib.import_module(handler.__module__)
    document = json.loads(module.openapi_document())
    return json.dumps(_without_unused_schemas(document), indent=2, sort_keys=True) + "\n"


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


def main(output: str | None = None) -> int:
    """Write the document to docs/openapi.json, to `output`, or to stdout for "-"."""
    text = generate()
    if output == "-":
        sys.stdout.write(text)
        return 0
    target = Path(output).resolve() if output else DOCUMENT
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    print(f"wrote {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
    return 0
