"""CloudFormation stacks of the template's data resources, on a moto server of the tests'
own: the operator's CLI (`landbot-resume`) finds its table and queues in a stack's outputs.

moto keeps one state per process, shared by every moto server a test process starts (the
local stack's server runs in a process of its own): stacks have names of their own, or are
deleted when their test is done, as the local stack's name must be.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from devstack.aws import CREDENTIALS, REGION
from devstack.template import load_template

# What the CLI reads, as template.yaml declares it.
RESOURCES = ("ProcessesTable", "CompletionQueue", "CompletionDeadLetterQueue")
OUTPUTS = ("ProcessesTableName", "CompletionQueueUrl", "DeadLetterQueueUrl")


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on a free port of 127.0.0.1; yields its endpoint."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def client(service: str, endpoint: str, region: str = REGION) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name=region, **CREDENTIALS)


def stack_template(outputs: tuple[str, ...] = OUTPUTS) -> dict[str, Any]:
    """The template's table and queues (their properties as written) and these outputs."""
    template = load_template()
    return {
        "Resources": {
            name: {key: template["Resources"][name][key] for key in ("Type", "Properties")}
            for name in RESOURCES
        },
        "Outputs": {name: template["Outputs"][name] for name in outputs},
    }


@contextmanager
def deployed(
    endpoint: str, name: str, template: dict[str, Any], region: str = REGION
) -> Iterator[dict[str, str]]:
    """A stack created from `template`; yields its outputs, deletes it at the end."""
    cloudformation = client("cloudformation", endpoint, region)
    cloudformation.delete_stack(StackName=name)  # one an earlier test left in this process
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(template))
    described = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    assert described["StackStatus"] == "CREATE_COMPLETE"
    try:
        yield {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    finally:
        # A test may have deleted a resource itself: moto then refuses to delete the stack.
        with contextlib.suppress(ClientError):
            cloudformation.delete_stack(StackName=name)
