"""Least privilege: each function's role allows what its code calls and what Lambda needs for
it, on the resources it uses, and nothing else; data is encrypted at rest; the API throttles.

The roles are read from the template as CloudFormation receives it, after the SAM transform
(offline), so whatever SAM adds by itself (execution role policies, policy templates, the SQS
poller's managed policy, X-Ray) is judged too.

The actions the code calls are not listed by hand: they are found in the code. mypy (strict,
as `make typecheck` runs it) already knows the type of every expression, so the scan follows
each function from its handler through the calls it can make, method by method, and maps
every call on a boto3 client (and Powertools' Parameters) to its IAM action.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore import xform_name
from mypy import build
from mypy.main import process_options
from mypy.modulefinder import BuildSource
from mypy.nodes import (
    ARG_STAR2,
    CallExpr,
    ClassDef,
    Decorator,
    DictExpr,
    Expression,
    FuncDef,
    MemberExpr,
    MypyFile,
    NameExpr,
    Node,
    OverloadedFuncDef,
    RefExpr,
    StrExpr,
    TypeInfo,
    Var,
)
from mypy.server.subexpr import get_subexpressions
from mypy.types import AnyType, Instance, Type, TypeType, UnionType, get_proper_type
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from tests.template.test_template import (
    FUNCTIONS,
    ROOT,
    SHARED_PACKAGE,
    TEMPLATE,
    as_list,
    code_dir,
    function_property,
    getatt_resource,
    references,
    resources_of_type,
)

# The AWS managed policies SAM attaches to the roles it generates, as AWS publishes them
# (AWS Managed Policy Reference; they have not changed in years). The transform only names
# them, so their documents are given here to judge what such a role would really allow.
AWS_MANAGED_POLICIES: dict[str, dict[str, Any]] = {
    "AWSLambdaBasicExecutionRole": {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": "*",
            }
        ]
    },
    "AWSLambdaSQSQueueExecutionRole": {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                ],
                "Resource": "*",
            }
        ]
    },
    "AWSXrayWriteOnlyAccess": {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "xray:PutTraceSegments",
                    "xray:PutTelemetryRecords",
                    "xray:GetSamplingRules",
                    "xray:GetSamplingTargets",
                    "xray:GetSamplingStatisticSummaries",
                ],
                "Resource": ["*"],
            }
        ]
    },
}

# What Lambda itself does with the execution role. Logs go to the function's own group
# (LoggingConfig.LogGroup, created by the template, so never logs:CreateLogGroup).
LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
# X-Ray's write actions support no resource ARN: "*" is the only way to grant them.
TRACE_ACTIONS = ("xray:PutTraceSegments", "xray:PutTelemetryRecords")
SQS_POLL_ACTIONS = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes")

# Which template resources a service's calls touch: the ones of this type that the
# function's environment names, as IAM wants them (a table's Ref is its name, a secret's
# Ref its ARN).
SERVICE_RESOURCES = {
    "dynamodb": ("AWS::DynamoDB::Table", "!GetAtt {}.Arn"),
    "secretsmanager": ("AWS::SecretsManager::Secret", "!Ref {}"),
    "sqs": ("AWS::SQS::Queue", "!GetAtt {}.Arn"),
}

# Calls whose IAM action is not "<service>:<Operation>". IAM authorises each part of a
# DynamoDB transaction as the single-item action (developer guide, "Using IAM with DynamoDB
# transactions"); there is no TransactWriteItems action to grant.
TRANSACTION_PARTS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
}
TRANSACT_GET = "dynamodb:GetItem"
# SQS authorises a batch as its single-message action (SQS developer guide, "Amazon SQS API
# permissions"); there is no sqs:SendMessageBatch to grant.
SQS_BATCHES = {
    "SendMessageBatch": "sqs:SendMessage",
    "DeleteMessageBatch": "sqs:DeleteMessage",
    "ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
}
# A Query or Scan of an index is authorised on the index's ARN, <table ARN>/index/<name>.
INDEX_READS = {"Query", "Scan"}
# PartiQL: its IAM actions depend on the statement text.
UNMAPPED_OPERATIONS = {
    "dynamodb": {"ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction"}
}
# Powertools Parameters fetch through boto3 inside Powertools, out of the scan's sight.
POWERTOOLS_PARAMETERS_PACKAGE = "aws_lambda_powertools.utilities.parameters"
POWERTOOLS_PARAMETERS = {
    "get_secret": "secretsmanager:GetSecretValue",
    "get_parameter": "ssm:GetParameter",
}
# Client methods that are not AWS operations.
CLIENT_HELPERS = {"close", "can_paginate", "generate_presigned_url", "generate_presigned_post"}
BOTO3_FACTORIES = {"boto3.client", "boto3.resource", "boto3.session.Session.client"}
POLICY_TYPES = ("AWS::IAM::Policy", "AWS::IAM::RolePolicy", "AWS::IAM::ManagedPolicy")


# ----------------------------------------------------------------------------- the code scan


@dataclass(frozen=True)
class Call:
    action: str  # IAM action, e.g. dynamodb:UpdateItem
    service: str  # boto3 service name: which resources it touches
    where: str  # file:line of the call
    index: str | None = None  # the DynamoDB index a Query or Scan reads (IndexName)


@dataclass
class Scan:
    calls: list[Call] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # calls the scan cannot map

    def actions(self) -> set[str]:
        return {call.action for call in self.calls}


@dataclass(frozen=True)
class CodeBase:
    """Every module of the shared package and of the functions, type-checked by mypy."""

    result: build.BuildResult
    ours: frozenset[str]  # module names

    def module_of(self, fullname: str) -> str | None:
        parts = fullname.split(".")
        for end in range(len(parts) - 1, 0, -1):
            if ".".join(parts[:end]) in self.ours:
                return ".".join(parts[:end])
        return None

    def imported(self, module: str) -> set[str]:
        """The module and the modules of ours it loads, directly or not."""
        seen, todo = set(), [module]
        while todo:
            name = todo.pop()
            if name not in seen and name in self.ours:
                seen.add(name)
                todo.extend(self.result.graph[name].dependencies)
        return seen

    def where(self, module: str, line: int) -> str:
        path = Path(self.result.files[module].path or module)
        shown = path.resolve().relative_to(ROOT) if path.is_file() else module
        return f"{shown}:{line}"


def module_sources(root: Path, package_root: Path) -> Iterator[BuildSource]:
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(package_root).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield BuildSource(str(path), module, text=path.read_text(encoding="utf-8"))


def type_check(extra: dict[str, str]) -> CodeBase:
    """mypy with the project's configuration and cache, keeping the types of our modules
    (given as text, so they are analysed afresh while dependencies come from the cache)."""
    sources = list(module_sources(SHARED_PACKAGE, SHARED_PACKAGE.parent))
    for function in FUNCTIONS:
        sources += module_sources(code_dir(function), code_dir(function))
    sources += [BuildSource(None, module, text=text) for module, text in extra.items()]
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ROOT)  # the configuration's paths are relative to the repository
        _, options = process_options(
            ["--config-file", str(ROOT / "pyproject.toml")], require_targets=False
        )
        options.export_types = True
        options.preserve_asts = True
        result = build.build(sources, options)
    return CodeBase(result, frozenset(source.module for source in sources))


def _classes(node: Type | None) -> list[TypeInfo]:
    proper = get_proper_type(node)
    if isinstance(proper, Instance):
        return [proper.type]
    if isinstance(proper, TypeType):
        return _classes(proper.item)
    if isinstance(proper, UnionType):
        return [info for item in proper.items for info in _classes(item)]
    return []


def _expressions(unit: Node, *, whole: bool) -> list[Expression]:
    """Every expression of a function (nested code included), or of a module: the whole
    module for a function's own code, the top level only for a module it imports."""
    if not isinstance(unit, MypyFile) or whole:
        return get_subexpressions(unit)
    found: list[Expression] = []
    for statement in unit.defs:
        body = statement.defs.body if isinstance(statement, ClassDef) else [statement]
        for part in body:
            if not isinstance(part, FuncDef | Decorator | OverloadedFuncDef):
                found += get_subexpressions(part)
    return found


class _Walker:
    """Follows one function's code: records AWS calls, queues the code they lead to."""

    def __init__(self, code: CodeBase, loaded: set[str]) -> None:
        self.code = code
        self.types = code.result.types
        self.loaded = loaded
        self.scan = Scan()
        self.queue: list[tuple[str, Node]] = []
        self.seen: set[int] = set()
        self.module = ""
        self.services: set[str] = set()  # of the boto3 clients the code creates
        self.untyped: list[tuple[str, str]] = []  # (method, where) on receivers typed Any
        self._botocore = botocore.session.get_session()

    # -- following the code

    def run(self, module: str) -> None:
        self.queue.append((module, self.code.result.files[module]))
        while self.queue:
            self.module, unit = self.queue.pop()
            for expression in _expressions(unit, whole=unit is self.code.result.files[module]):
                if isinstance(expression, NameExpr):
                    self._enqueue(expression.node)
                elif isinstance(expression, MemberExpr):
                    self._enqueue(expression.node)
                    for info in _classes(self.types.get(expression.expr)):
                        self._enqueue_method(info, expression.name)
                elif isinstance(expression, CallExpr):
                    self._call(expression)
        for method, where in self.untyped:  # a client the types lost: go by the name
            for service in sorted(self.services):
                if (operation := self._operations(service).get(method)) is not None:
                    self._record(service, operation, None, where)

    def _enqueue(self, node: Node | None) -> None:
        if isinstance(node, Decorator):
            node = node.func
        if isinstance(node, OverloadedFuncDef):
            for item in node.items:
                self._enqueue(item)
            return
        if isinstance(node, MypyFile):
            module: str | None = node.fullname
        elif isinstance(node, FuncDef | TypeInfo):
            module = self.code.module_of(node.fullname)
        else:
            return
        if module is None or module not in self.loaded or id(node) in self.seen:
            return
        self.seen.add(id(node))
        if isinstance(node, TypeInfo):  # constructing it runs its initialisers
            for name in ("__init__", "__post_init__"):
                self._enqueue(node.get_method(name))
            self._enqueue(self.code.result.files[module])
        else:
            self.queue.append((module, node))

    def _enqueue_method(self, info: TypeInfo, name: str) -> None:
        implementations = [info]
        if info.is_protocol:  # any class of the loaded code may stand behind a protocol
            implementations = [
                symbol.node
                for module in sorted(self.loaded)
                for symbol in self.code.result.files[module].names.values()
                if isinstance(symbol.node, TypeInfo) and not symbol.node.is_protocol
            ]
        for implementation in implementations:
            self._enqueue(implementation.get_method(name))

    # -- AWS calls

    def _call(self, o: CallExpr) -> None:
        where = self.code.where(self.module, o.line)
        callee = o.callee
        fullname = callee.fullname if isinstance(callee, RefExpr) else ""
        if fullname in BOTO3_FACTORIES and o.args and isinstance(o.args[0], StrExpr):
            self.services.add(o.args[0].value)
        if fullname.startswith(POWERTOOLS_PARAMETERS_PACKAGE + "."):
            name = fullname.rsplit(".", 1)[-1]
            if name in POWERTOOLS_PARAMETERS:
                action = POWERTOOLS_PARAMETERS[name]
                self.scan.calls.append(Call(action, action.split(":")[0], where))
            elif isinstance(callee, RefExpr) and isinstance(callee.node, FuncDef | Decorator):
                self.scan.problems.append(f"{where}: Powertools {name}() calls AWS: map it")
        if isinstance(callee, MemberExpr):
            receiver = self.types.get(callee.expr)
            if isinstance(get_proper_type(receiver), AnyType):
                self.untyped.append((callee.name, where))
            for info in _classes(receiver):
                if info.module_name.startswith("mypy_boto3_"):
                    self._boto3_call(info.module_name, callee.name, o, where)

    def _operations(self, service: str) -> dict[str, str]:
        model = self._botocore.get_service_model(service)
        return {xform_name(name): name for name in model.operation_names}

    def _boto3_call(self, stub_module: str, method: str, call: CallExpr, where: str) -> None:
        package = stub_module.split(".")[0].removeprefix("mypy_boto3_")
        service = package.replace("_", "-")
        operations = self._operations(service)
        if method in ("get_paginator", "get_waiter") and call.args:
            first = call.args[0]
            method = first.value if isinstance(first, StrExpr) else ""
        if method in operations:
            self._record(service, operations[method], call, where)
        elif method not in CLIENT_HELPERS:
            self.scan.problems.append(f"{where}: {service} client .{method}(): map it")

    def _record(self, service: str, operation: str, call: CallExpr | None, where: str) -> None:
        prefix = self._botocore.get_service_model(service).signing_name
        if operation in UNMAPPED_OPERATIONS.get(service, ()):
            self.scan.problems.append(f"{where}: {service} {operation}: map it")
            return
        index = None
        if service == "dynamodb" and operation in INDEX_READS:
            index = self._index_name(call, where)
        if service == "sqs" and operation in SQS_BATCHES:
            actions = {SQS_BATCHES[operation]}
        elif operation == "TransactGetItems":
            actions = {TRANSACT_GET}
        elif operation == "TransactWriteItems":
            keys = {
                key.value
                for arg in (call.args if call is not None else [])
                for dictionary in [arg, *get_subexpressions(arg)]
                if isinstance(dictionary, DictExpr)
                for key, _ in dictionary.items
                if isinstance(key, StrExpr)
            }
            actions = {TRANSACTION_PARTS[key] for key in keys & set(TRANSACTION_PARTS)}
            if not actions:
                self.scan.problems.append(
                    f"{where}: TransactWriteItems: write its TransactItems in the call, so"
                    " that its Put/Update/Delete/ConditionCheck parts can be seen"
                )
        else:
            actions = {f"{prefix}:{operation}"}
        self.scan.calls += [Call(action, service, where, index) for action in sorted(actions)]

    def _index_name(self, call: CallExpr | None, where: str) -> str | None:
        """The IndexName a call passes: a string, or a Final constant holding one."""
        if call is None:
            return None
        named = dict(zip(call.arg_names, call.args, strict=True))
        argument = named.get("IndexName")
        if argument is None:
            if ARG_STAR2 in call.arg_kinds:  # IndexName may hide in the ** mapping
                self.scan.problems.append(f"{where}: pass IndexName in the call, not in **")
            return None
        if isinstance(argument, StrExpr):
            return argument.value
        node = argument.node if isinstance(argument, RefExpr) else None
        if node is None and isinstance(argument, MemberExpr):  # self.INDEX, Class.INDEX
            for info in _classes(self.types.get(argument.expr)):
                symbol = info.get(argument.name)
                node = symbol.node if symbol else None
        if isinstance(node, Var) and isinstance(node.final_value, str):
            return node.final_value
        self.scan.problems.append(f"{where}: IndexName: pass a string or a Final one")
        return None


def scan_entry(code: CodeBase, modules: list[str]) -> Scan:
    """The AWS calls of code whose entry modules are `modules` (run whole)."""
    loaded = set().union(*(code.imported(module) for module in modules))
    calls, problems = [], []
    for module in modules:
        walker = _Walker(code, loaded)
        walker.run(module)
        calls += walker.scan.calls
        problems += walker.scan.problems
    return Scan(calls, problems)


def function_modules(function: str) -> list[str]:
    root = code_dir(function)
    return [source.module for source in module_sources(root, root)]


# A check of the scan itself: an adapter behind a protocol, a transaction, Powertools, and a
# method nobody calls (which must not count).
PROBE_LIBRARY = """
from typing import Protocol
import boto3
from aws_lambda_powertools.utilities import parameters

class Port(Protocol):
    def save(self, key: str) -> None: ...

class Adapter:
    def __init__(self) -> None:
        self._db = boto3.client("dynamodb")

    def save(self, key: str) -> None:
        self._db.transact_write_items(TransactItems=[
            {"ConditionCheck": {"TableName": "t", "Key": {}, "ConditionExpression": "c"}},
            {"Update": {"TableName": "t", "Key": {}, "UpdateExpression": "SET a = :a"}},
        ])

    def forget(self, key: str) -> None:
        self._db.delete_item(TableName="t", Key={"pk": {"S": key}})

def token() -> str:
    return parameters.get_secret("name")

def unused() -> None:
    boto3.client("sqs").send_message(QueueUrl="q", MessageBody="b")
"""
PROBE_HANDLER = """
from probe_library import Adapter, Port, token

def work(port: Port, data: dict[str, str]) -> None:
    port.save(data.get("key", token()))

def handler(event: dict[str, str], context: object) -> None:
    work(Adapter(), event)
"""


@pytest.fixture(scope="module")
def code() -> CodeBase:
    return type_check({"probe_library": PROBE_LIBRARY, "probe_handler": PROBE_HANDLER})


def test_scan_finds_the_calls_a_handler_can_reach_and_no_others(code: CodeBase) -> None:
    scan = scan_entry(code, ["probe_handler"])
    assert scan.problems == []
    assert scan.actions() == {
        "dynamodb:ConditionCheckItem",
        "dynamodb:UpdateItem",
        "secretsmanager:GetSecretValue",
    }


# ----------------------------------------------------------------------------- the roles


def sam_transform(template: dict[str, Any]) -> dict[str, Any]:
    """The template as CloudFormation receives it, transformed offline."""
    template = copy.deepcopy(template)
    for res in template["Resources"].values():
        props = res.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str):  # local paths become S3 locations on deploy
                props[key] = f"s3://bucket/{props[key].strip('/')}"
    managed = {
        name: f"arn:aws:iam::aws:policy/{name}" for name in AWS_MANAGED_POLICIES
    }  # names a `Policies` list may use
    sam = Translator(None, Parser(), boto_session=boto3.session.Session(region_name="eu-west-1"))
    result: dict[str, Any] = sam.translate(
        template, parameter_values={}, get_managed_policy_map=lambda: managed
    )
    return result


@pytest.fixture(scope="module")
def transformed() -> dict[str, Any]:
    return sam_transform(TEMPLATE)


def resource_key(value: Any) -> str:
    """A statement's Resource as a short, comparable text: "*", "!GetAtt X.Arn", "!Ref X",
    "!Sub ${X.Arn}/index/Name"."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        target = value["Fn::GetAtt"]
        return "!GetAtt " + (".".join(target) if isinstance(target, list) else target)
    if isinstance(value, dict) and "Ref" in value:
        return f"!Ref {value['Ref']}"
    if isinstance(value, dict) and "Fn::Sub" in value:  # "${X.Arn}", or SAM's ["${v}", {v: ..}]
        sub = value["Fn::Sub"]
        text, variables = (sub, {}) if isinstance(sub, str) else sub
        if text.startswith("${") and text.endswith("}") and text.count("${") == 1:
            name = text[2:-1]
            if name in variables:
                return resource_key(variables[name])
            return f"!GetAtt {name}" if "." in name else f"!Ref {name}"
        if not variables:  # e.g. "${Table.Arn}/index/Name"
            return f"!Sub {text}"
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


@dataclass(frozen=True)
class Grant:
    action: str
    resource: str  # resource_key()
    where: str  # the policy and statement


@dataclass
class Role:
    logical_id: str
    grants: list[Grant] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def role_of(transformed: dict[str, Any], function: str) -> Role:
    """Everything the function's execution role allows, wherever it is attached from."""
    resources = transformed["Resources"]
    role_id = getatt_resource(resources[function]["Properties"]["Role"])
    role = Role(role_id)
    props = resources[role_id]["Properties"]
    documents = [
        (f"{role_id} policy {policy['PolicyName']}", policy["PolicyDocument"])
        for policy in props.get("Policies", [])
    ]
    for arn in props.get("ManagedPolicyArns", []):
        if isinstance(arn, dict) and "Ref" in arn:  # a customer managed policy of the template
            documents.append((arn["Ref"], resources[arn["Ref"]]["Properties"]["PolicyDocument"]))
            continue
        text = arn if isinstance(arn, str) else json.dumps(arn)
        name = text.rsplit("/", 1)[-1].strip('"}')
        if name in AWS_MANAGED_POLICIES:
            documents.append((f"AWS managed policy {name}", AWS_MANAGED_POLICIES[name]))
        else:
            role.problems.append(f"{role_id}: managed policy {text} is unknown to this test")
    for logical_id, res in resources.items():
        attached = [*res["Properties"].get("Roles", []), res["Properties"].get("RoleName")]
        if res["Type"] in POLICY_TYPES and {"Ref": role_id} in attached:
            documents.append((logical_id, res["Properties"]["PolicyDocument"]))
    for label, document in documents:
        for number, statement in enumerate(as_list(document["Statement"])):
            where = f"{label}, statement {statement.get('Sid', number)}"
            if statement["Effect"] != "Allow":
                continue
            if "NotAction" in statement or "NotResource" in statement:
                role.problems.append(f"{where}: NotAction/NotResource allow too much")
                continue
            role.grants += [
                Grant(action, resource_key(resource), where)
                for action in as_list(statement["Action"])
                for resource in as_list(statement["Resource"])
            ]
    return role


def lambda_needs(transformed: dict[str, Any], function: str) -> dict[tuple[str, str], str]:
    """What Lambda does with the function's role: (action, resource) -> why."""
    resources = transformed["Resources"]
    props = resources[function]["Properties"]
    needs: dict[tuple[str, str], str] = {}
    group = props.get("LoggingConfig", {}).get("LogGroup")
    group_key = (
        f"!GetAtt {group['Ref']}.Arn"
        if isinstance(group, dict) and "Ref" in group
        else "its own log group (LoggingConfig.LogGroup)"
    )
    for action in LOG_ACTIONS:
        needs[action, group_key] = "Lambda writes the function's logs"
    if props.get("TracingConfig", {}).get("Mode") == "Active":
        for action in TRACE_ACTIONS:
            needs[action, "*"] = "Lambda sends traces (Tracing: Active)"
    for logical_id, res in resources.items():
        mapping = res["Properties"]
        if res["Type"] == "AWS::Lambda::EventSourceMapping" and mapping.get("FunctionName") == {
            "Ref": function
        }:
            source = getatt_resource(mapping["EventSourceArn"])
            kind = resources[source]["Type"]
            actions = SQS_POLL_ACTIONS if kind == "AWS::SQS::Queue" else (f"<{kind} poller>",)
            for action in actions:
                needs[action, f"!GetAtt {source}.Arn"] = f"event source mapping {logical_id}"
    return needs


def code_needs(
    transformed: dict[str, Any], function: str, scan: Scan
) -> dict[tuple[str, str], str]:
    """What the function's code calls: (action, resource) -> where it calls it."""
    resources = transformed["Resources"]
    env = resources[function]["Properties"].get("Environment", {}).get("Variables", {})
    named = references(list(env.values()))
    needs: dict[tuple[str, str], str] = {}
    for call in sorted(scan.calls, key=lambda c: c.where):
        kind, key = SERVICE_RESOURCES.get(call.service, (None, ""))
        targets = sorted(r for r in named if r in resources and resources[r]["Type"] == kind)
        if call.index is not None:
            key = "!Sub ${{{}.Arn}}/index/" + call.index
        for target in targets or [f"<a {call.service} resource its environment names>"]:
            needs.setdefault((call.action, key.format(target) if targets else target), call.where)
    return needs


@pytest.fixture(scope="module")
def needs(code: CodeBase, transformed: dict[str, Any]) -> dict[str, dict[tuple[str, str], str]]:
    return {
        function: lambda_needs(transformed, function)
        | code_needs(transformed, function, scan_entry(code, function_modules(function)))
        for function in FUNCTIONS
    }


def excess_grants(role: Role, needed: dict[tuple[str, str], str], function: str) -> list[str]:
    wanted = {(action.lower(), resource) for action, resource in needed}
    excess = []
    for grant in role.grants:
        if (grant.action.lower(), grant.resource) in wanted:
            continue
        only_on = sorted(r for a, r in needed if a.lower() == grant.action.lower())
        why = (
            f"it needs that only on {', '.join(only_on)}"
            if only_on
            else "neither its code nor Lambda needs it"
        )
        excess.append(f"{function} may {grant.action} on {grant.resource} ({grant.where}): {why}")
    return excess + role.problems


@pytest.mark.parametrize("function", FUNCTIONS)
def test_code_scan_understands_every_aws_call(code: CodeBase, function: str) -> None:
    scan = scan_entry(code, function_modules(function))
    assert scan.problems == []
    assert scan.calls, f"no AWS call found for {function}: the scan is broken"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_role_allows_nothing_the_function_does_not_need(
    transformed: dict[str, Any], needs: dict[str, dict[tuple[str, str], str]], function: str
) -> None:
    excess = excess_grants(role_of(transformed, function), needs[function], function)
    assert excess == [], "\n".join(excess)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_role_allows_everything_the_function_needs(
    transformed: dict[str, Any], needs: dict[str, dict[tuple[str, str], str]], function: str
) -> None:
    grants = role_of(transformed, function).grants
    missing = [
        f"{function} needs {action} on {resource} ({why}), but its role does not allow it"
        for (action, resource), why in sorted(needs[function].items())
        if not any(
            fnmatchcase(action.lower(), grant.action.lower()) and grant.resource in (resource, "*")
            for grant in grants
        )
    ]
    assert missing == [], "\n".join(missing)


def test_sam_generated_roles_would_be_refused(code: CodeBase) -> None:
    """What SAM adds by itself is judged too: its default role for the SQS consumer allows
    polling any queue and logging anywhere."""
    template = copy.deepcopy(TEMPLATE)
    role = template["Resources"]["ResumeFunction"]["Properties"].pop("Role")
    del template["Resources"][getatt_resource(role)]
    generated = sam_transform(template)
    scan = scan_entry(code, function_modules("ResumeFunction"))
    needed = lambda_needs(generated, "ResumeFunction") | code_needs(
        generated, "ResumeFunction", scan
    )
    excess = "\n".join(
        excess_grants(role_of(generated, "ResumeFunction"), needed, "ResumeFunction")
    )
    for action in ("sqs:ReceiveMessage", "logs:CreateLogGroup", "xray:GetSamplingRules"):
        assert f"ResumeFunction may {action} on * (AWS managed policy" in excess


def test_each_function_has_a_role_of_its_own_that_only_lambda_assumes(
    transformed: dict[str, Any],
) -> None:
    roles = {f: role_of(transformed, f).logical_id for f in FUNCTIONS}
    assert len(set(roles.values())) == len(roles), roles
    for role in roles.values():
        (statement,) = transformed["Resources"][role]["Properties"]["AssumeRolePolicyDocument"][
            "Statement"
        ]
        assert statement["Effect"] == "Allow"
        assert as_list(statement["Principal"]["Service"]) == ["lambda.amazonaws.com"]
        assert as_list(statement["Action"]) == ["sts:AssumeRole"]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_function_logs_to_a_log_group_of_its_own_with_retention(function: str) -> None:
    groups = {f: function_property(f, "LoggingConfig", {}).get("LogGroup") for f in FUNCTIONS}
    group = groups[function]
    assert isinstance(group, dict) and set(group) == {"Ref"}, f"{function}: no LogGroup"
    assert [f for f, g in groups.items() if g == group] == [function]
    log_group = resources_of_type("AWS::Logs::LogGroup")[group["Ref"]]["Properties"]
    assert log_group.get("RetentionInDays")
    # The role names this group, so its name must not depend on the function (a cycle).
    assert function not in references(log_group.get("LogGroupName"))


# ----------------------------------------------------------------------------- at rest, at the door


@pytest.mark.parametrize("queue", sorted(resources_of_type("AWS::SQS::Queue")))
def test_queue_is_encrypted_at_rest(queue: str) -> None:
    props = resources_of_type("AWS::SQS::Queue")[queue]["Properties"]
    assert props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props


@pytest.mark.parametrize("table", sorted(resources_of_type("AWS::DynamoDB::Table")))
def test_table_is_encrypted_at_rest(table: str) -> None:
    props = resources_of_type("AWS::DynamoDB::Table")[table]["Properties"]
    assert props["SSESpecification"]["SSEEnabled"] is True


def test_http_api_stage_throttles_every_route(transformed: dict[str, Any]) -> None:
    stages = [
        res["Properties"]
        for res in transformed["Resources"].values()
        if res["Type"] == "AWS::ApiGatewayV2::Stage"
    ]
    assert len(stages) == len(resources_of_type("AWS::Serverless::HttpApi")) == 1
    for stage in stages:
        assert stage["DefaultRouteSettings"] == {
            "ThrottlingBurstLimit": 50,
            "ThrottlingRateLimit": 25,
        }
        for route, settings in stage.get("RouteSettings", {}).items():
            limits = (settings.get("ThrottlingBurstLimit"), settings.get("ThrottlingRateLimit"))
            assert all(limits), f"route {route} is not throttled"
