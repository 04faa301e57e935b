"""The stack's AWS resources, created on a moto server from template.yaml itself.

Only the resources the functions talk to are created (table, queues, bus, rule, secrets);
their properties are read from the template, so the local stack cannot drift from it.
"""

from __future__ import annotations

import json
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING:
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

from devstack.template import load_template

REGION = "eu-west-1"
ACCOUNT = "123456789012"
STACK_NAME = "landbot-resume-local"
# moto accepts any credentials; these only keep boto3 from looking for real ones.
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass
class Resources:
    """Physical ids of the created resources, and the functions' environments."""

    endpoint: str | None  # None: boto3's own endpoints (moto in-process)
    parameters: dict[str, str]
    physical: dict[str, str] = field(default_factory=dict)  # logical id -> what Ref returns
    arns: dict[str, str] = field(default_factory=dict)  # logical id -> Arn
    webhook_token: str = ""

    def client(self, service: str) -> Any:
        return boto3.client(  # type: ignore[call-overload]  # any service's client
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=CREDENTIALS["aws_access_key_id"],
            aws_secret_access_key=CREDENTIALS["aws_secret_access_key"],
        )

    @property
    def table(self) -> str:
        return self.physical["ProcessesTable"]

    @property
    def queue_url(self) -> str:
        return self.physical["CompletionQueue"]

    @property
    def dlq_url(self) -> str:
        return self.physical["CompletionDeadLetterQueue"]

    @property
    def bus(self) -> str:
        return self.parameters["EventBusName"]


class _Resolver:
    """Resolves the intrinsic functions the template uses for the resources created here."""

    def __init__(self, resources: Resources) -> None:
        self.resources = resources

    def __call__(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::GetAtt":
                logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                if attribute != "Arn":
                    raise KeyError(f"local stack cannot resolve {logical}.{attribute}")
                return self.resources.arns[logical]
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::Join":
                separator, items = arg
                return separator.join(str(self(item)) for item in items)
            if key.startswith("Fn::"):  # e.g. Fn::If: only resources not created here use one
                raise KeyError(f"local stack cannot resolve {key}")
        return {key: self(item) for key, item in value.items()}

    def _ref(self, name: str) -> str:
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": STACK_NAME,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::Partition": "aws",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.resources.parameters:
            return self.resources.parameters[name]
        return self.resources.physical[name]

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self(arg[1]))
        out, rest = "", text
        while "${" in rest:
            before, _, after = rest.partition("${")
            name, _, rest = after.partition("}")
            if name in variables:
                value = variables[name]
            elif "." in name:
                value = self({"Fn::GetAtt": name.split(".", 1)})
            else:
                value = self._ref(name)
            out += before + str(value)
        return out + rest


def function_environment(
    template: dict[str, Any], properties: dict[str, Any], resolve: _Resolver
) -> dict[str, str]:
    """The environment a function gets: Globals merged with its own variables."""
    env: dict[str, Any] = dict(
        template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    )
    env.update(properties.get("Environment", {}).get("Variables", {}))
    return {name: str(resolve(value)) for name, value in env.items()}


def create_resources(
    endpoint: str | None,
    *,
    landbot_token: str,
    landbot_api_url: str,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> tuple[Resources, dict[str, dict[str, str]]]:
    """Create the template's data resources on the moto server at `endpoint`.

    `overrides` replaces properties of a resource (e.g. a shorter queue visibility timeout
    for a fast local retry loop). Returns the resources and each function's environment.
    """
    template = load_template()
    parameters = {
        name: str(spec.get("Default", "")) for name, spec in template["Parameters"].items()
    }
    parameters["LandbotApiUrl"] = landbot_api_url
    resources = Resources(endpoint=endpoint, parameters=parameters)
    resolve = _Resolver(resources)
    props = {
        logical: {**spec.get("Properties", {}), **(overrides or {}).get(logical, {})}
        for logical, spec in template["Resources"].items()
    }
    types = {logical: spec["Type"] for logical, spec in template["Resources"].items()}

    def named(logical: str) -> str:
        return f"{STACK_NAME}-{logical}"

    dynamodb, sqs = resources.client("dynamodb"), resources.client("sqs")
    for logical in [name for name, kind in types.items() if kind == "AWS::DynamoDB::Table"]:
        spec = props[logical]
        # The properties CreateTable takes as the template writes them (indexes included).
        same = ("AttributeDefinitions", "KeySchema", "BillingMode", "GlobalSecondaryIndexes")
        dynamodb.create_table(
            TableName=named(logical), **{key: spec[key] for key in same if key in spec}
        )
        if "TimeToLiveSpecification" in spec:
            dynamodb.update_time_to_live(
                TableName=named(logical), TimeToLiveSpecification=spec["TimeToLiveSpecification"]
            )
        resources.physical[logical] = named(logical)
        resources.arns[logical] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{named(logical)}"

    # Queues that others point at (dead-letter queues) first.
    queues = sorted(
        (name for name, kind in types.items() if kind == "AWS::SQS::Queue"),
        key=lambda name: "RedrivePolicy" in props[name],
    )
    for logical in queues:
        spec = resolve(props[logical])
        attributes = {
            key: json.dumps(value)
            if isinstance(value, dict)
            else str(value).lower()
            if isinstance(value, bool)
            else str(value)
            for key, value in spec.items()
            if key
            in (
                "VisibilityTimeout",
                "MessageRetentionPeriod",
                "RedrivePolicy",
                "SqsManagedSseEnabled",
                "DelaySeconds",
                "ReceiveMessageWaitTimeSeconds",
            )
        }
        url = sqs.create_queue(QueueName=named(logical), Attributes=attributes)["QueueUrl"]
        resources.physical[logical] = url
        resources.arns[logical] = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{named(logical)}"

    secretsmanager = resources.client("secretsmanager")
    resources.webhook_token = secrets.token_urlsafe(30)
    values = {"WebhookTokenSecret": resources.webhook_token, "LandbotTokenSecret": landbot_token}
    for logical in [name for name, kind in types.items() if kind == "AWS::SecretsManager::Secret"]:
        arn = secretsmanager.create_secret(Name=named(logical), SecretString=values[logical])["ARN"]
        resources.physical[logical] = arn
        resources.arns[logical] = arn

    events = resources.client("events")
    if resources.bus != "default":
        events.create_event_bus(Name=resources.bus)
    for logical in [name for name, kind in types.items() if kind == "AWS::Events::Rule"]:
        spec = resolve(props[logical])
        rule_arn = events.put_rule(
            Name=named(logical),
            EventBusName=spec["EventBusName"],
            EventPattern=json.dumps(spec["EventPattern"]),
            State=spec.get("State", "ENABLED"),
        )["RuleArn"]
        events.put_targets(
            Rule=named(logical),
            EventBusName=spec["EventBusName"],
            Targets=[{"Id": target["Id"], "Arn": target["Arn"]} for target in spec["Targets"]],
        )
        resources.physical[logical] = named(logical)
        resources.arns[logical] = rule_arn

    environments = {
        logical: function_environment(template, props[logical], resolve)
        for logical, kind in types.items()
        if kind == "AWS::Serverless::Function"
    }
    return resources, environments


def bus_entry(event: dict[str, Any], bus: str) -> PutEventsRequestEntryTypeDef:
    """A PutEvents entry for an event as a partner event source delivers it to `bus`."""
    return {
        "Source": event["source"],
        "DetailType": event["detail-type"],
        "Detail": json.dumps(event["detail"]),
        "EventBusName": bus,
    }


def put_events(client: Any, bus: str, events: list[dict[str, Any]], *, threads: int = 4) -> int:
    """Put the events on `bus`, ten per PutEvents call (its limit), `threads` calls at a
    time; returns how many were not accepted."""
    chunks = [events[start : start + 10] for start in range(0, len(events), 10)]

    def put(chunk: list[dict[str, Any]]) -> int:
        response = client.put_events(Entries=[bus_entry(event, bus) for event in chunk])
        return int(response.get("FailedEntryCount", 0))

    with ThreadPoolExecutor(threads) as pool:
        return sum(pool.map(put, chunks))


def register_stack(resources: Resources, extra_outputs: dict[str, str]) -> dict[str, str]:
    """Record the local resources as a CloudFormation stack named STACK_NAME on the moto
    server, with the template's outputs (those that name a local resource, plus
    `extra_outputs`), so that tools find them from the stack's outputs as on AWS."""
    resolve = _Resolver(resources)
    outputs = dict(extra_outputs)
    for name, spec in load_template().get("Outputs", {}).items():
        if name in outputs:
            continue
        try:
            outputs[name] = str(resolve(spec["Value"]))
        except KeyError:  # a resource the local stack does not create (the HTTP API)
            continue
    body = {
        "Description": "landbot-resume local stack (its resources are created directly)",
        # A stack needs one resource; this one only says what the stack is.
        "Resources": {
            "LocalStack": {
                "Type": "AWS::SSM::Parameter",
                "Properties": {
                    "Name": f"/{STACK_NAME}/kind",
                    "Type": "String",
                    "Value": "local",
                },
            }
        },
        "Outputs": {name: {"Value": value} for name, value in sorted(outputs.items())},
    }
    resources.client("cloudformation").create_stack(
        StackName=STACK_NAME, TemplateBody=json.dumps(body)
    )
    return outputs
