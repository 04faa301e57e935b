"""template.yaml: it lints clean, builds offline, and agrees with the code it deploys."""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devstack import (
    loaded_modules,
    pinned_requirements,
    runtime_dir,
)
from devstack.generated import stale
from devstack.template import ROOT, load_template
from landbot_resume.models import Process, ProcessView
from landbot_resume.resume import held_seconds
from landbot_resume.settings import (
    ConfigurationError,
    FunctionSettings,
    ResumeSettings,
    TimeoutsSettings,
    WebhookSettings,
)
from landbot_resume.store import DynamoDBProcessStore

TEMPLATE_PATH = ROOT / "template.yaml"
TEMPLATE = load_template(TEMPLATE_PATH)
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
PARAMETERS: dict[str, Any] = TEMPLATE.get("Parameters", {})
GLOBAL_FUNCTION: dict[str, Any] = TEMPLATE.get("Globals", {}).get("Function", {})
FUNCTIONS = sorted(
    name for name, res in RESOURCES.items() if res["Type"] == "AWS::Serverless::Function"
)
SHARED_PACKAGE = ROOT / "layers" / "shared" / "landbot_resume"

EXPECTED_OUTPUTS = {
    "WebhookUrl",
    "ProcessesTableName",
    "CompletionQueueUrl",
    "CompletionQueueArn",
    "DeadLetterQueueUrl",
    "WebhookTokenSecretArn",
    "LandbotTokenSecretArn",
    "EventBusName",
    "AlarmTopicArn",
}
# Provided by the Lambda Python runtime: never bundled.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer")
LAYER_SIZE_LIMIT = 15 * 1024 * 1024
# Each function's settings: the variables its code reads (from its environment, once).
SETTINGS_OF: dict[str, type[FunctionSettings]] = {
    "WebhookFunction": WebhookSettings,
    "ResumeFunction": ResumeSettings,
    "TimeoutsFunction": TimeoutsSettings,
}
SETTINGS_MODULE = SHARED_PACKAGE / "settings.py"
# Powertools' own variables, which Powertools reads (the settings may read one too).
POWERTOOLS_PREFIX = "POWERTOOLS_"
# A parameter's constraint -> the JSON schema keyword of the same bound.
PARAMETER_CONSTRAINTS = {
    "MinValue": "minimum",
    "MaxValue": "maximum",
    "AllowedPattern": "pattern",
    "MinLength": "minLength",
    "MaxLength": "maxLength",
    "AllowedValues": "enum",
}
WHEELS_HELP = (
    "python -m pip download --only-binary=:all: --platform manylinux2014_x86_64"
    " --python-version 3.13 --implementation cp --no-deps"
    " -r layers/shared/requirements.txt -d .cache/wheels"
)


# ----------------------------------------------------------------------------- helpers


def sam_env() -> dict[str, str]:
    env = dict(os.environ)
    env["SAM_CLI_TELEMETRY"] = "0"
    env.setdefault("AWS_DEFAULT_REGION", "eu-west-1")
    return env


def sam_or_skip() -> str:
    sam = shutil.which("sam")
    if sam is None:
        pytest.skip("sam (aws-sam-cli) is not on PATH")
    return sam


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def param_default(value: Any) -> Any:
    """A literal, or the default of the parameter it refers to."""
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in PARAMETERS:
        default = PARAMETERS[value["Ref"]]["Default"]
        return int(default) if PARAMETERS[value["Ref"]]["Type"] == "Number" else default
    return value


def function_property(function: str, name: str, default: Any = None) -> Any:
    props = RESOURCES[function]["Properties"]
    return param_default(props.get(name, GLOBAL_FUNCTION.get(name, default)))


def function_env(function: str) -> dict[str, Any]:
    env: dict[str, Any] = dict(GLOBAL_FUNCTION.get("Environment", {}).get("Variables", {}))
    props = RESOURCES[function]["Properties"]
    env.update(props.get("Environment", {}).get("Variables", {}))
    return env


def code_dir(function: str) -> Path:
    return ROOT / str(function_property(function, "CodeUri"))


def handler_file(function: str) -> tuple[Path, str]:
    module, _, attribute = function_property(function, "Handler").rpartition(".")
    return code_dir(function) / (module.replace(".", "/") + ".py"), attribute


def getatt_resource(value: Any) -> str:
    assert isinstance(value, dict) and "Fn::GetAtt" in value, f"not a GetAtt: {value!r}"
    target = value["Fn::GetAtt"]
    return str(target[0] if isinstance(target, list) else target.split(".")[0])


def resources_of_type(kind: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in RESOURCES.items() if res["Type"] == kind}


def sqs_events() -> Iterator[tuple[str, dict[str, Any]]]:
    for function in FUNCTIONS:
        for event in RESOURCES[function]["Properties"].get("Events", {}).values():
            if event["Type"] == "SQS":
                yield function, event["Properties"]


_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


def references(value: Any) -> set[str]:
    """Logical ids and parameters an intrinsic expression refers to (pseudo parameters too)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref":
                found.add(item)
            elif key == "Fn::GetAtt":
                found.add(getatt_resource(value))
            elif key == "Fn::Sub":
                text, variables = (item, {}) if isinstance(item, str) else item
                local = set(variables)
                found |= {v.split(".")[0] for v in _SUB_VARIABLE.findall(text)} - local
                found |= references(list(variables.values()))
            else:
                found |= references(item)
    return found


# ----------------------------------------------------------------------------- environment


def settings_fields(function: str) -> dict[str, dict[str, Any]]:
    """Variable name -> its field's JSON schema (type, default, bounds) in the function's
    settings."""
    schema = SETTINGS_OF[function].model_json_schema(by_alias=True)
    return dict(schema["properties"])


def powertools_own(name: str) -> bool:
    return name.startswith(POWERTOOLS_PREFIX)


_ENVIRONMENT_NAMES = {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"}


def environment_uses_in_source(source: str) -> list[str]:
    """Where the source touches the process environment through the os module."""
    uses: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Attribute)
            and node.attr in _ENVIRONMENT_NAMES
            and isinstance(node.value, ast.Name)
            and node.value.id == "os"
        ):
            uses.append((node.lineno, f"os.{node.attr}"))
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            names = {alias.name for alias in node.names} & _ENVIRONMENT_NAMES
            uses += [(node.lineno, f"from os import {name}") for name in names]
    return [f"line {line}: {use}" for line, use in sorted(uses)]


def python_files(*roots: Path) -> Iterator[Path]:
    for root in roots:
        yield from (p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def test_environment_scan_finds_every_form() -> None:
    source = (
        "import os\nfrom os import environ, getenv, path\n"
        "a = os.environ['A']\nb = os.environ.get('B', '1')\nc = os.getenv('C')\n"
        "def f(env=os.environ): ...\nos.environ['WRITTEN'] = 'x'\n"
        "p = os.path.join('a', 'b')\nh = {}.get('NOT_ENV')\n"
    )
    assert environment_uses_in_source(source) == [
        "line 2: from os import environ",
        "line 2: from os import getenv",
        "line 3: os.environ",
        "line 4: os.environ",
        "line 5: os.getenv",
        "line 6: os.environ",
        "line 7: os.environ",
    ]


# ----------------------------------------------------------------------------- sam cli


def test_sam_validate_lint_is_clean() -> None:
    sam = sam_or_skip()
    result = subprocess.run(
        [sam, "validate", "--lint", "--template-file", str(TEMPLATE_PATH)],
        cwd=ROOT,
        env=sam_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert not re.search(r"\[[EWI]\d{4}:", output), output
    assert "is a valid SAM Template" in output


@pytest.fixture(scope="module")
def build_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`sam build` once, offline: the layer's wheels come from WHEELHOUSE."""
    sam = sam_or_skip()
    wheelhouse = Path(os.environ.get("WHEELHOUSE", ROOT / ".cache" / "wheels")).resolve()
    if not any(wheelhouse.glob("*.whl")):
        pytest.fail(f"no wheels in {wheelhouse}: fill it first with `{WHEELS_HELP}`")
    work = tmp_path_factory.mktemp("sam")
    env = sam_env() | {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse)}
    result = subprocess.run(
        [
            sam,
            "build",
            "--template-file",
            str(TEMPLATE_PATH),
            "--build-dir",
            str(work / "build"),
            "--cache-dir",
            str(work / "cache"),
            "--no-cached",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return work / "build"


def test_layer_has_the_package_and_every_pinned_dependency(build_dir: Path) -> None:
    site = build_dir / "SharedLayer" / "python"
    assert (site / "landbot_resume" / "__init__.py").is_file()
    assert (site / "aws_lambda_powertools" / "__init__.pyc").is_file()  # precompile.py
    # Our own code ships its sources; only bytecode precompile.py wrote sits beside them.
    assert {p.suffix for p in (site / "landbot_resume").rglob("*") if p.is_file()} <= {
        ".py",
        ".pyc",
    }
    installed = {p.name.lower() for p in site.glob("*.dist-info")}
    for name, version in pinned_requirements().items():
        dist = f"{re.sub(r'[-_.]+', '_', name)}-{version}.dist-info".lower()
        assert dist in installed, f"{name}=={version} is not in the layer"


def test_layer_leaves_boto3_to_the_runtime(build_dir: Path) -> None:
    site = build_dir / "SharedLayer" / "python"
    bundled = [p.name for p in site.iterdir() if p.name.lower().startswith(RUNTIME_PROVIDED)]
    assert bundled == []


def test_layer_leaves_the_operators_cli_out(build_dir: Path) -> None:
    package = build_dir / "SharedLayer" / "python" / "landbot_resume"
    assert (package / "store.py").is_file()
    assert not (package / "cli").exists()
    assert (SHARED_PACKAGE / "cli" / "__init__.py").is_file()  # it is left out, not missing


def test_layer_is_small(build_dir: Path) -> None:
    layer = build_dir / "SharedLayer"
    size = sum(p.stat().st_size for p in layer.rglob("*") if p.is_file())
    print(f"SharedLayer unzipped: {size / 1024 / 1024:.1f} MiB ({size} bytes)")
    assert size < LAYER_SIZE_LIMIT, f"the layer has grown to {size} bytes"


def test_the_list_of_modules_to_precompile_is_current() -> None:
    assert stale(["cold-start-modules"]) == [], (
        "the handlers import other modules now: run make generated"
    )


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_cold_start_compiles_nothing_from_the_layer(
    build_dir: Path, function: str, tmp_path: Path
) -> None:
    """Imported as Lambda does (code, layer, the runtime's boto3; /opt read-only, so no
    bytecode written): every layer module comes from shipped bytecode."""
    layer = build_dir / "SharedLayer" / "python"
    path = [build_dir / function, layer, runtime_dir(tmp_path)]
    loaded = {
        m.name: m for m in loaded_modules(function, path, tmp_path) if m.file.is_relative_to(layer)
    }
    assert "pydantic" in loaded and "aws_lambda_powertools" in loaded
    for name, module in loaded.items():
        if module.loader == "ExtensionFileLoader":
            continue
        if name.split(".")[0] == "landbot_resume":
            # Sources kept, with unchecked-hash bytecode beside them (used as is).
            flags = Path(importlib.util.cache_from_source(str(module.file))).read_bytes()[4:8]
            assert int.from_bytes(flags, "little") == 0b01, f"{name}: not unchecked-hash"
        else:
            assert module.loader == "SourcelessFileLoader", f"{name} is compiled at each cold start"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_built_function_contains_its_handler(build_dir: Path, function: str) -> None:
    module, _, _ = function_property(function, "Handler").rpartition(".")
    assert (build_dir / function / (module.replace(".", "/") + ".py")).is_file()


# ----------------------------------------------------------------------------- functions


def test_functions_are_the_expected_ones() -> None:
    assert FUNCTIONS == ["ResumeFunction", "TimeoutsFunction", "WebhookFunction"]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_handler_exists_and_is_defined(function: str) -> None:
    path, attribute = handler_file(function)
    assert path.is_file(), f"{function}: {path.relative_to(ROOT)} does not exist"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    defined: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            defined.add(node.name)
        elif isinstance(node, ast.Assign):
            defined |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            defined.add(node.target.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            defined |= {alias.asname or alias.name for alias in node.names}
    assert attribute in defined, f"{path.relative_to(ROOT)} defines no `{attribute}`"


def settings_read_at_import(path: Path) -> list[str]:
    """The classes whose from_environ() the module's top level calls."""
    read = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        call = node.value if isinstance(node, ast.Assign) else None
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "from_environ"
            and isinstance(call.func.value, ast.Name)
        ):
            read.append(call.func.value.id)
    return read


@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_function_reads_its_settings_once_at_init(function: str) -> None:
    path, _ = handler_file(function)
    settings = SETTINGS_OF[function].__name__
    assert settings_read_at_import(path) == [settings], (
        f"{path.relative_to(ROOT)} must read {settings}.from_environ() once, at import"
    )


def test_only_the_settings_read_the_environment() -> None:
    roots = [SHARED_PACKAGE, *(code_dir(function) for function in FUNCTIONS)]
    uses = {
        str(path.relative_to(ROOT)): found
        for path in python_files(*roots)
        if path != SETTINGS_MODULE
        and (found := environment_uses_in_source(path.read_text(encoding="utf-8")))
    }
    assert uses == {}, "read the environment in landbot_resume/settings.py only"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_env_var_the_code_reads_is_defined(function: str) -> None:
    read = {name for name in settings_fields(function) if not powertools_own(name)}
    assert read - set(function_env(function)) == set(), f"{function} lacks them in template.yaml"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_function_env_var_is_read(function: str) -> None:
    """A variable set on a function but read by no code is a typo or dead configuration.
    Powertools reads its own (POWERTOOLS_*)."""
    defined = {name for name in function_env(function) if not powertools_own(name)}
    assert defined - set(settings_fields(function)) == set()


def parameter_fed_settings(function: str) -> dict[str, Any]:
    """Variable name -> the parameter reference feeding it, for the function's settings."""
    fields = settings_fields(function)
    return {
        name: value
        for name, value in function_env(function).items()
        if name in fields and isinstance(value, dict) and value.get("Ref") in PARAMETERS
    }


def test_parameters_feed_the_settings() -> None:
    fed = {function: sorted(parameter_fed_settings(function)) for function in FUNCTIONS}
    assert fed["WebhookFunction"] and fed["ResumeFunction"], fed


@pytest.mark.parametrize("function", FUNCTIONS)
def test_parameters_and_settings_agree_on_defaults_and_bounds(function: str) -> None:
    fields = settings_fields(function)
    for name, ref in parameter_fed_settings(function).items():
        field, parameter = fields[name], PARAMETERS[ref["Ref"]]
        kinds = ["string"] if parameter["Type"] == "String" else ["integer", "number"]
        assert field["type"] in kinds, f"{name}: a {field['type']}, its parameter a {kinds}"
        assert field.get("default") == param_default(ref), f"{name}: not the parameter's default"
        for constraint, keyword in PARAMETER_CONSTRAINTS.items():
            assert field.get(keyword) == parameter.get(constraint), f"{name}: {constraint} differs"


def test_timeouts_leave_room_for_landbot() -> None:
    assert function_property("WebhookFunction", "Timeout") == 10
    assert function_property("ResumeFunction", "Timeout") == 30


def test_the_timeouts_function_sweeps_once_a_minute_and_within_it() -> None:
    (event,) = RESOURCES["TimeoutsFunction"]["Properties"]["Events"].values()
    assert (event["Type"], event["Properties"]["Schedule"]) == ("Schedule", "rate(1 minute)")
    assert function_property("TimeoutsFunction", "Timeout") < 60
    # A failed sweep is not retried beside the next one.
    invoke = RESOURCES["TimeoutsFunction"]["Properties"]["EventInvokeConfig"]
    assert invoke["MaximumRetryAttempts"] == 0
    running = RESOURCES["TimeoutsNotRunningAlarm"]["Properties"]
    assert (running["MetricName"], running["ComparisonOperator"]) == (
        "Invocations",
        "LessThanThreshold",
    )
    assert running["TreatMissingData"] == "breaching"
    assert running["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": "TimeoutsFunction"}}]


@pytest.mark.parametrize("metric", ["ProcessesFailed", "LateOutcomes"])
def test_outcomes_someone_must_look_at_are_alarmed(metric: str) -> None:
    alarms = [
        res["Properties"]
        for res in resources_of_type("AWS::CloudWatch::Alarm").values()
        if res["Properties"]["Namespace"] == "LandbotResume"
        and res["Properties"]["MetricName"] == metric
    ]
    assert len(alarms) == 1
    assert alarms[0]["Dimensions"] == [{"Name": "service", "Value": "landbot-resume"}]
    assert (alarms[0]["Threshold"], alarms[0]["Statistic"]) == (1, "Sum")
    assert alarms[0]["TreatMissingData"] == "notBreaching"


@pytest.mark.parametrize("function", FUNCTIONS)
def test_function_errors_are_alarmed(function: str) -> None:
    alarms = [
        res["Properties"]
        for res in resources_of_type("AWS::CloudWatch::Alarm").values()
        if res["Properties"]["Namespace"] == "AWS/Lambda"
        and res["Properties"]["MetricName"] == "Errors"
        and {"Name": "FunctionName", "Value": {"Ref": function}} in res["Properties"]["Dimensions"]
    ]
    assert len(alarms) == 1
    assert alarms[0]["Threshold"] == 1
    assert alarms[0]["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarms[0]["TreatMissingData"] == "notBreaching"


# ----------------------------------------------------------------------------- queues and events


def test_sqs_event_reports_partial_failures_and_queue_outlasts_the_function() -> None:
    events = list(sqs_events())
    assert [function for function, _ in events] == ["ResumeFunction"]
    for function, props in events:
        assert "ReportBatchItemFailures" in props.get("FunctionResponseTypes", [])
        assert getatt_resource(props["Queue"]) == "CompletionQueue"
        concurrency = props["ScalingConfig"]["MaximumConcurrency"]
        assert param_default(concurrency) >= 2
        assert PARAMETERS[concurrency["Ref"]]["MinValue"] >= 2  # Lambda rejects 1
        queue = RESOURCES[getatt_resource(props["Queue"])]["Properties"]
        timeout = function_property(function, "Timeout", 3)
        assert queue["VisibilityTimeout"] >= 6 * timeout


def test_completion_queue_redrives_to_the_dead_letter_queue() -> None:
    queue = RESOURCES["CompletionQueue"]["Properties"]
    redrive = queue["RedrivePolicy"]
    dlq = getatt_resource(redrive["deadLetterTargetArn"])
    assert dlq == "CompletionDeadLetterQueue"
    assert RESOURCES[dlq]["Type"] == "AWS::SQS::Queue"
    assert 1 <= int(redrive["maxReceiveCount"]) <= 10
    # SQS keeps a message's original enqueue time: the DLQ must keep messages longer.
    source_retention = queue.get("MessageRetentionPeriod", 345600)
    assert RESOURCES[dlq]["Properties"]["MessageRetentionPeriod"] > source_retention


def test_dead_letter_queue_is_alarmed() -> None:
    alarms = [
        res["Properties"]
        for res in resources_of_type("AWS::CloudWatch::Alarm").values()
        if res["Properties"]["Namespace"] == "AWS/SQS"
        and {
            "Name": "QueueName",
            "Value": {"Fn::GetAtt": ["CompletionDeadLetterQueue", "QueueName"]},
        }
        in res["Properties"]["Dimensions"]
    ]
    assert len(alarms) == 1
    assert alarms[0]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarms[0]["Threshold"] == 1 and alarms[0]["Period"] == 300
    assert alarms[0]["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarms[0]["TreatMissingData"] == "notBreaching"


def test_payment_rule_targets_the_completion_queue_with_a_dlq() -> None:
    rule = RESOURCES["PaymentEventsRule"]["Properties"]
    assert rule["EventBusName"] == {"Ref": "EventBusName"}
    assert rule["EventPattern"]["source"] == [{"prefix": "aws.partner/stripe.com"}]
    assert set(rule["EventPattern"]["detail-type"]) == {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
        "checkout.session.expired",
    }
    (target,) = rule["Targets"]
    assert getatt_resource(target["Arn"]) == "CompletionQueue"
    assert getatt_resource(target["DeadLetterConfig"]["Arn"]) == "CompletionDeadLetterQueue"
    assert target["RetryPolicy"]


def test_eventbridge_may_send_to_the_target_and_its_dlq_for_this_rule_only() -> None:
    (policy,) = resources_of_type("AWS::SQS::QueuePolicy").values()
    props = policy["Properties"]
    assert {getatt_or_ref(q) for q in props["Queues"]} == {
        "CompletionQueue",
        "CompletionDeadLetterQueue",
    }
    statements = [
        s
        for s in as_list(props["PolicyDocument"]["Statement"])
        if s["Effect"] == "Allow" and s.get("Principal") == {"Service": "events.amazonaws.com"}
    ]
    assert statements, "no statement lets EventBridge send messages"
    for statement in statements:
        assert as_list(statement["Action"]) == ["sqs:SendMessage"]
        assert {getatt_resource(r) for r in as_list(statement["Resource"])} == {
            "CompletionQueue",
            "CompletionDeadLetterQueue",
        }
        condition = statement["Condition"]["ArnEquals"]["aws:SourceArn"]
        assert condition == {"Fn::GetAtt": ["PaymentEventsRule", "Arn"]}


def getatt_or_ref(value: Any) -> str:
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    return getatt_resource(value)


# ----------------------------------------------------------------------------- table, secrets


def test_processes_table() -> None:
    table = RESOURCES["ProcessesTable"]
    props = table["Properties"]
    assert table["DeletionPolicy"] == "Retain" and table["UpdateReplacePolicy"] == "Retain"
    assert props["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
    assert {"AttributeName": "pk", "AttributeType": "S"} in props["AttributeDefinitions"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def table_indexes() -> dict[str, dict[str, Any]]:
    props = RESOURCES["ProcessesTable"]["Properties"]
    return {index["IndexName"]: index for index in props["GlobalSecondaryIndexes"]}


def test_the_table_defines_only_the_keys_of_its_indexes() -> None:
    props = RESOURCES["ProcessesTable"]["Properties"]
    assert set(table_indexes()) == {
        DynamoDBProcessStore.STATUS_INDEX,
        DynamoDBProcessStore.DEADLINE_INDEX,
    }
    # ISO 8601 UTC times sort as strings; due_at is epoch seconds.
    assert props["AttributeDefinitions"] == [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "status", "AttributeType": "S"},
        {"AttributeName": "created_at", "AttributeType": "S"},
        {"AttributeName": "due_at", "AttributeType": "N"},
    ]


def test_the_deadline_index_holds_only_the_keys_the_sweeper_reads() -> None:
    """Sparse: only a waiting process with a deadline has due_at (the store removes it on
    every move out of PENDING)."""
    index = table_indexes()[DynamoDBProcessStore.DEADLINE_INDEX]
    assert index["KeySchema"] == [
        {"AttributeName": "status", "KeyType": "HASH"},
        {"AttributeName": "due_at", "KeyType": "RANGE"},
    ]
    assert index["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    assert not Process.model_fields["due_at"].is_required()


def test_the_status_index_holds_what_the_listing_shows() -> None:
    """`landbot-resume processes list` queries it for ProcessViews, newest first."""
    index = table_indexes()[DynamoDBProcessStore.STATUS_INDEX]
    assert index["KeySchema"] == [
        {"AttributeName": "status", "KeyType": "HASH"},
        {"AttributeName": "created_at", "KeyType": "RANGE"},
    ]
    # Keys every process has, and nothing else.
    assert all(Process.model_fields[name].is_required() for name in ("status", "created_at"))
    # Projected: the table's key (the process id), the index's keys and what a view shows.
    assert index["Projection"]["ProjectionType"] == "INCLUDE"
    projected = {"process_id", "status", "created_at", *index["Projection"]["NonKeyAttributes"]}
    assert projected == set(ProcessView.model_fields)


@pytest.mark.parametrize("secret", sorted(resources_of_type("AWS::SecretsManager::Secret")))
def test_secret_value_is_never_in_the_template(secret: str) -> None:
    props = RESOURCES[secret]["Properties"]
    assert "SecretString" not in props
    assert props["GenerateSecretString"]["PasswordLength"] >= 32


# ----------------------------------------------------------------------------- API, parameters


def test_webhook_routes() -> None:
    events = RESOURCES["WebhookFunction"]["Properties"]["Events"].values()
    routes = {(e["Properties"]["Method"], e["Properties"]["Path"]) for e in events}
    assert routes == {
        ("POST", "/processes"),
        ("GET", "/processes/{process_id}"),
        ("POST", "/processes/{process_id}/cancel"),
    }
    assert all(e["Type"] == "HttpApi" for e in events)
    assert all(e["Properties"]["ApiId"] == {"Ref": "HttpApi"} for e in events)


def test_outputs() -> None:
    outputs = TEMPLATE["Outputs"]
    assert set(outputs) >= EXPECTED_OUTPUTS
    url = outputs["WebhookUrl"]["Value"]["Fn::Sub"]
    assert url == "https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/processes"


def test_every_parameter_is_used() -> None:
    used = references({k: v for k, v in TEMPLATE.items() if k != "Parameters"})
    assert set(PARAMETERS) - used == set()


def test_parameter_defaults() -> None:
    defaults = {name: str(p.get("Default")) for name, p in PARAMETERS.items()}
    assert defaults == {
        "EventBusName": "default",
        "LandbotApiUrl": "https://api.landbot.io/v1/",
        "LandbotRateLimit": "10",
        "LandbotTimeoutSeconds": "10",
        "ProcessTtlSeconds": "604800",
        "RetryWindowSeconds": "120",
        "DefaultTimeoutSeconds": "0",
        "ResumeMaxConcurrency": "2",
        "LogLevel": "INFO",
        "UnconfirmedJumps": "fail",
        "AlarmEmail": "",
        "AlarmTopicArn": "",
    }
    assert "INFO" in PARAMETERS["LogLevel"]["AllowedValues"]
    assert PARAMETERS["UnconfirmedJumps"]["AllowedValues"] == ["fail", "resend"]


def allowed(parameter: str, value: str) -> bool:
    """Whether CloudFormation accepts the value (AllowedPattern must match all of it)."""
    return re.fullmatch(PARAMETERS[parameter]["AllowedPattern"], value) is not None


@pytest.mark.parametrize(
    "url",
    [
        "https://api.landbot.io/v1/",
        "https://landbot-proxy.example.com/landbot/v1/",
        "http://127.0.0.1:8081/v1/",
        "http://localhost:49152/v1/",
    ],
)
def test_a_landbot_url_that_can_be_right_is_accepted_at_deploy_time(url: str) -> None:
    assert allowed("LandbotApiUrl", url)


@pytest.mark.parametrize(
    "url",
    [
        "https://api.landbot.io/",  # no version: every call would answer 404
        "https://api.landbot.io/v1",
        "https://api.landbot.io/v2/",
        "http://api.landbot.io/v1/",  # the token in clear text
        "http://10.0.0.7:8081/v1/",
        "http://127.0.0.1/v1/",
        "https://api.landbot.io/v1/?token=x",
        "api.landbot.io/v1/",
        "",
    ],
)
def test_a_landbot_url_that_cannot_be_right_is_refused_at_deploy_time(url: str) -> None:
    assert not allowed("LandbotApiUrl", url)
    with pytest.raises(ConfigurationError, match="LANDBOT_API_URL"):
        ResumeSettings.from_environ(
            {
                "PROCESSES_TABLE": "processes",
                "LANDBOT_TOKEN_SECRET": "secret",
                "COMPLETION_QUEUE_URL": "queue",
                "LANDBOT_API_URL": url,
            }
        )


def test_a_held_completion_reaches_the_dead_letter_queue_in_bounded_time() -> None:
    """While Landbot refuses the token, each delivery of a completion waits longer; after
    maxReceiveCount deliveries it is in the DLQ (alarmed, redriven once the token is right),
    about 12.5 minutes after its first, as template.yaml's CompletionQueue says."""
    receives = int(RESOURCES["CompletionQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"])
    first = int(function_env("ResumeFunction")["LANDBOT_AUTH_RETRY_SECONDS"])
    waits = [held_seconds(n, first) for n in range(1, receives + 1)]
    assert waits == [30, 60, 120, 240, 300]
    assert sum(waits) == 750  # the template's comment and README say 12.5 minutes
    assert ResumeSettings.model_fields["landbot_auth_retry_seconds"].default == first


# ----------------------------------------------------------------------------- alarms


def evaluate(value: Any, parameters: dict[str, str]) -> Any:
    """A template value with these parameter values: Ref of a parameter, Fn::Equals,
    Fn::Not, Fn::If and Condition resolved; a resource's Ref stays {"Ref": name}."""
    if isinstance(value, list):
        return [evaluate(item, parameters) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"} and value["Ref"] in parameters:
        return parameters[value["Ref"]]
    if set(value) == {"Condition"}:
        return evaluate(TEMPLATE["Conditions"][value["Condition"]], parameters)
    if set(value) == {"Fn::Equals"}:
        left, right = evaluate(value["Fn::Equals"], parameters)
        return left == right
    if set(value) == {"Fn::Not"}:
        return not evaluate(value["Fn::Not"][0], parameters)
    if set(value) == {"Fn::If"}:
        condition, then, otherwise = value["Fn::If"]
        holds = evaluate(TEMPLATE["Conditions"][condition], parameters)
        return evaluate(then if holds else otherwise, parameters)
    return {key: evaluate(item, parameters) for key, item in value.items()}


def deployed_with(**values: str) -> dict[str, dict[str, Any]]:
    """The resources a stack gets with these parameter values (the rest at their defaults)."""
    parameters = {name: str(spec.get("Default", "")) for name, spec in PARAMETERS.items()}
    parameters.update(values)
    return {
        name: evaluate(resource, parameters)
        for name, resource in RESOURCES.items()
        if "Condition" not in resource or evaluate({"Condition": resource["Condition"]}, parameters)
    }


ALARMS = sorted(resources_of_type("AWS::CloudWatch::Alarm"))
EXISTING_TOPIC = "arn:aws:sns:eu-west-1:123456789012:on-call"
OWN_TOPIC = {"Ref": "AlarmTopic"}


@pytest.mark.parametrize(
    ("values", "topic", "subscribed"),
    [
        ({}, OWN_TOPIC, None),
        ({"AlarmEmail": "ops@example.com"}, OWN_TOPIC, "ops@example.com"),
        ({"AlarmTopicArn": EXISTING_TOPIC}, EXISTING_TOPIC, None),
        (
            {"AlarmTopicArn": EXISTING_TOPIC, "AlarmEmail": "ops@example.com"},
            EXISTING_TOPIC,
            "ops@example.com",
        ),
    ],
)
def test_every_alarm_tells_the_topic_in_use_when_it_fires_and_when_it_is_over(
    values: dict[str, str], topic: Any, subscribed: str | None
) -> None:
    resources = deployed_with(**values)
    assert ("AlarmTopic" in resources) == (topic == OWN_TOPIC)
    assert ALARMS and set(ALARMS) <= set(resources)
    for alarm in ALARMS:
        props = resources[alarm]["Properties"]
        assert props.get("AlarmActions") == [topic], f"{alarm}: AlarmActions"
        assert props.get("OKActions") == [topic], f"{alarm}: OKActions"
    subscriptions = [
        res["Properties"] for res in resources.values() if res["Type"] == "AWS::SNS::Subscription"
    ]
    if subscribed is None:
        assert subscriptions == []
    else:
        assert subscriptions == [{"Protocol": "email", "Endpoint": subscribed, "TopicArn": topic}]
    parameters = {name: str(spec.get("Default", "")) for name, spec in PARAMETERS.items()}
    output = evaluate(TEMPLATE["Outputs"]["AlarmTopicArn"]["Value"], parameters | values)
    assert output == topic


@pytest.mark.parametrize(
    ("parameter", "value", "accepted"),
    [
        ("AlarmEmail", "", True),
        ("AlarmEmail", "ops@example.com", True),
        ("AlarmEmail", "ops", False),
        ("AlarmEmail", "ops@example.com, cto@example.com", False),
        ("AlarmTopicArn", "", True),
        ("AlarmTopicArn", EXISTING_TOPIC, True),
        ("AlarmTopicArn", "on-call", False),
        ("AlarmTopicArn", "arn:aws:sqs:eu-west-1:123456789012:on-call", False),
    ],
)
def test_the_alarm_parameters_take_an_address_or_a_topic_arn_or_nothing(
    parameter: str, value: str, accepted: bool
) -> None:
    assert allowed(parameter, value) == accepted


def test_every_alarm_on_the_services_metrics_watches_one_the_code_emits() -> None:
    code = "".join(
        path.read_text(encoding="utf-8")
        for path in python_files(SHARED_PACKAGE, *(code_dir(function) for function in FUNCTIONS))
    )
    watched = {
        res["Properties"]["MetricName"]
        for res in resources_of_type("AWS::CloudWatch::Alarm").values()
        if res["Properties"]["Namespace"] == "LandbotResume"
    }
    assert {"ProcessesFailed", "LandbotAuthFailures"} <= watched
    for metric in watched:
        assert f'"{metric}"' in code, f"no code emits {metric}"


# ----------------------------------------------------------------------------- build inputs


def test_layer_requirements_are_pinned_without_boto3() -> None:
    pins = pinned_requirements()
    assert "aws-lambda-powertools" in pins
    assert set(pins) & set(RUNTIME_PROVIDED) == set()


def test_samconfig_environments() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
    assert config["version"] == 0.1
    for env, stack in (
        ("default", "landbot-resume"),
        ("staging", "landbot-resume-staging"),
        ("prod", "landbot-resume-prod"),
    ):
        assert config[env]["global"]["parameters"]["stack_name"] == stack
        deploy = config[env]["deploy"]["parameters"]
        assert deploy["capabilities"] == "CAPABILITY_IAM"
        assert deploy["confirm_changeset"] is True
        assert "region" not in deploy and "region" not in config[env]["global"]["parameters"]
        overrides = deploy.get("parameter_overrides", "")
        names = {item.split("=", 1)[0] for item in str(overrides).split()}
        assert names <= set(PARAMETERS), f"{env}: unknown parameters {names - set(PARAMETERS)}"
    assert "EventBusName" in config["prod"]["deploy"]["parameters"]["parameter_overrides"]
