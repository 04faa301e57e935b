"""The deploy pipeline (.github/workflows, pipeline/bootstrap.yaml): the workflows lint clean
(actionlint, with shellcheck on every `run:` script, and GitHub's workflow schema), every
action is pinned to a commit, AWS access is OIDC only, and the workflows, samconfig.toml
and the bootstrap template agree on the environments, the stacks and what a deploy may do.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest
import yaml
from cfnlint.data import AdditionalSpecs
from cfnlint.helpers import load_resource
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from devstack.template import ROOT, load_template
from tests.template.test_least_privilege import sam_transform
from tests.template.test_template import TEMPLATE, as_list

WORKFLOWS_DIR = ROOT / ".github" / "workflows"
WORKFLOWS = sorted(WORKFLOWS_DIR.glob("*.yml"))
PIPELINE = WORKFLOWS_DIR / "pipeline.yml"
DEPLOY = WORKFLOWS_DIR / "deploy.yml"
BOOTSTRAP = load_template(ROOT / "pipeline" / "bootstrap.yaml")
SAMCONFIG: dict[str, Any] = tomllib.loads((ROOT / "samconfig.toml").read_text(encoding="utf-8"))
OIDC = "token.actions.githubusercontent.com"
# `uses: owner/repo@<commit> # vX.Y.Z`: the commit is what runs, the comment what it is.
PINNED = re.compile(r"uses: ([\w.-]+/[\w./-]+)@([0-9a-f]{40}) # (v\d+(?:\.\d+)*)$")
SHELLCHECK_MISSING = (
    "shellcheck is not installed, and actionlint skips the run: scripts without it:"
    " apt-get install shellcheck (bash .ci/run installs it)"
)
# Permissions a resource type's CloudFormation handlers list (cfn-lint's copy of the
# registry schemas) for features the template does not use, so the execution role leaves
# them out; each with the reason.
UNUSED_FEATURES: dict[str, dict[str, str]] = {
    "AWS::DynamoDB::Table": {
        "dynamodb:ImportTable": "no import from S3",
        "dynamodb:CreateTableReplica": "no global table",
        "dynamodb:AssociateTableReplica": "no global table",
        "dynamodb:EnableKinesisStreamingDestination": "no Kinesis stream",
        "dynamodb:DisableKinesisStreamingDestination": "no Kinesis stream",
        "dynamodb:PutResourcePolicy": "no resource policy",
        "dynamodb:DeleteResourcePolicy": "no resource policy",
        # Items are the functions' business, never CloudFormation's.
        "dynamodb:BatchWriteItem": "no items written by CloudFormation",
        "dynamodb:PutItem": "no items written by CloudFormation",
        "dynamodb:UpdateItem": "no items written by CloudFormation",
        "dynamodb:DeleteItem": "no items written by CloudFormation",
        "dynamodb:GetItem": "no items read by CloudFormation",
        "dynamodb:Query": "no items read by CloudFormation",
        "dynamodb:Scan": "no items read by CloudFormation",
    },
    "AWS::Logs::LogGroup": {
        "logs:AssociateKmsKey": "no KMS key (CloudWatch Logs encrypts them anyway)",
        "logs:DisassociateKmsKey": "no KMS key",
        "logs:PutDataProtectionPolicy": "no data protection policy",
        "logs:PutIndexPolicy": "no field index policy",
        "logs:DeleteIndexPolicy": "no field index policy",
        "logs:PutBearerTokenAuthentication": "no bearer token authentication",
        "logs:PutLogGroupDeletionProtection": "no deletion protection",
        "logs:DeleteResourcePolicy": "the access log delivery's policy is the region's, kept",
    },
    "AWS::Lambda::Function": {
        "lambda:PassCapacityProvider": "no capacity provider",
        "lambda:AssociateRuntimeAlias": "no runtime alias",
    },
}
# What a type needs from other services, with the template as it is.
CROSS_SERVICE: dict[str, set[str]] = {
    "AWS::Lambda::Function": {"iam:PassRole", "s3:GetObject"},  # its role; its code
    "AWS::Lambda::LayerVersion": {"s3:GetObject"},
    "AWS::ApiGatewayV2::Stage": {"logs:CreateLogDelivery", "logs:PutResourcePolicy"},
}


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not on PATH: run make install")
    return path


def shellcheck() -> str:
    path = shutil.which("shellcheck")
    if path is None:
        pytest.fail(SHELLCHECK_MISSING)
    return path


def run(*args: str | Path, cwd: Path = ROOT) -> tuple[int, str]:
    result = subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def workflow(path: Path) -> dict[str, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in loaded:  # YAML 1.1 reads the key `on` as true
        loaded["on"] = loaded.pop(True)
    return loaded


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        statement
        for policy in role["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def allowed_actions(role: dict[str, Any]) -> list[str]:
    return [
        action.lower()
        for statement in statements(role)
        if statement["Effect"] == "Allow"
        for action in as_list(statement["Action"])
    ]


def allows(patterns: list[str], action: str) -> bool:
    return any(fnmatchcase(action.lower(), pattern) for pattern in patterns)


def environments() -> dict[str, str]:
    """GitHub environment -> samconfig.toml config env, from the pipeline's deploy jobs."""
    return {
        job["with"]["environment"]: job["with"]["config-env"]
        for job in workflow(PIPELINE)["jobs"].values()
        if job.get("uses") == "./.github/workflows/deploy.yml"
    }


# ----------------------------------------------------------------------------- lint


def test_there_are_workflows() -> None:
    assert {path.name for path in WORKFLOWS} == {"pipeline.yml", "deploy.yml"}


def test_the_workflows_pass_actionlint_with_shellcheck() -> None:
    code, output = run(tool("actionlint"), "-shellcheck", shellcheck(), *WORKFLOWS)
    assert code == 0, output


def test_actionlint_reports_what_shellcheck_finds_in_a_run_script(tmp_path: Path) -> None:
    """The lint above would pass without shellcheck: here it must speak."""
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: rm $1\n",
        encoding="utf-8",
    )
    code, output = run(tool("actionlint"), "-shellcheck", shellcheck(), bad, cwd=tmp_path)
    assert code == 1
    assert "SC2086" in output, output


def test_the_workflows_match_githubs_workflow_schema() -> None:
    command = tool("check-jsonschema")
    code, output = run(command, "--builtin-schema", "vendor.github-workflows", *WORKFLOWS)
    assert code == 0, output


def test_the_ci_script_passes_shellcheck() -> None:
    code, output = run(shellcheck(), ROOT / ".ci" / "run")
    assert code == 0, output


def test_every_action_is_pinned_to_a_commit_and_names_its_version() -> None:
    pins: dict[str, set[tuple[str, str]]] = {}
    for path in WORKFLOWS:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if "uses:" not in line or "uses: ./" in line:
                continue
            match = PINNED.search(line.strip().removeprefix("- "))
            assert match, f"{path.name}:{number}: not pinned to a commit: {line.strip()}"
            action, commit, version = match.groups()
            pins.setdefault(action, set()).add((commit, version))
    assert set(pins) == {
        "actions/checkout",
        "actions/setup-python",
        "aws-actions/configure-aws-credentials",
    }
    one_pin_each = {action: len(found) for action, found in pins.items()}
    assert set(one_pin_each.values()) == {1}, f"an action pinned twice: {pins}"


# ----------------------------------------------------------------------------- the flow


def test_pull_requests_run_every_check_and_main_deploys_staging_then_production() -> None:
    pipeline = workflow(PIPELINE)
    assert set(pipeline["on"]) == {"pull_request", "push"}
    assert pipeline["on"]["push"]["branches"] == ["main"]
    jobs = pipeline["jobs"]
    assert [step.get("run") for step in jobs["test"]["steps"] if "run" in step] == ["bash .ci/run"]
    assert "if" not in jobs["test"]  # pull requests and main alike
    assert jobs["staging"]["needs"] == "test"
    assert "refs/heads/main" in jobs["staging"]["if"]
    assert jobs["production"]["needs"] == "staging"
    assert environments() == {"staging": "staging", "production": "prod"}


def test_aws_access_is_through_oidc_only() -> None:
    for path in WORKFLOWS:
        text = path.read_text(encoding="utf-8")
        assert "secrets." not in text, f"{path.name} reads a stored secret"
        assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text
    deploy = workflow(DEPLOY)
    assert deploy["permissions"] == {"contents": "read", "id-token": "write"}
    (job,) = deploy["jobs"].values()
    assert job["environment"] == "${{ inputs.environment }}"
    (credentials,) = [
        step
        for step in job["steps"]
        if step.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
    ]
    assert set(credentials["with"]) == {"role-to-assume", "aws-region", "role-session-name"}
    # The callers grant the OIDC token; everything else may only read.
    pipeline = workflow(PIPELINE)
    assert pipeline["permissions"] == {"contents": "read"}
    for name in environments():
        assert pipeline["jobs"][name]["permissions"] == {"contents": "read", "id-token": "write"}


def test_each_environment_deploys_the_stack_the_bootstrap_lets_it_deploy() -> None:
    parameters = BOOTSTRAP["Parameters"]
    stack_of = {
        "staging": parameters["StagingStackName"]["Default"],
        "production": parameters["ProductionStackName"]["Default"],
    }
    for environment, config_env in environments().items():
        assert SAMCONFIG[config_env]["global"]["parameters"]["stack_name"] == stack_of[environment]


def test_the_deploy_role_trusts_only_the_repositorys_deployment_environments() -> None:
    (trust,) = BOOTSTRAP["Resources"]["DeployRole"]["Properties"]["AssumeRolePolicyDocument"][
        "Statement"
    ]
    assert trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert set(trust["Principal"]) == {"Federated"}
    condition = trust["Condition"]
    assert set(condition) == {"StringEquals"}  # exact subjects, no wildcard
    assert condition["StringEquals"][f"{OIDC}:aud"] == "sts.amazonaws.com"
    subjects = [subject["Fn::Sub"] for subject in condition["StringEquals"][f"{OIDC}:sub"]]
    assert subjects == [f"repo:${{GitHubRepository}}:environment:{name}" for name in environments()]
    provider = BOOTSTRAP["Resources"]["GitHubOidcProvider"]["Properties"]
    assert provider["Url"] == f"https://{OIDC}"
    assert provider["ClientIdList"] == ["sts.amazonaws.com"]


def test_the_deploy_role_can_deploy_the_two_stacks_and_nothing_else() -> None:
    role = BOOTSTRAP["Resources"]["DeployRole"]
    for statement in statements(role):
        assert statement["Resource"] != "*", statement["Sid"]
        services = {action.split(":")[0] for action in as_list(statement["Action"])}
        assert services <= {"s3", "cloudformation", "iam"}, statement["Sid"]
    (passing,) = [s for s in statements(role) if s["Action"] == "iam:PassRole"]
    assert passing["Resource"] == {"Fn::GetAtt": ["CloudFormationExecutionRole", "Arn"]}
    assert passing["Condition"] == {
        "StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}
    }
    (stacks,) = [s for s in statements(role) if s["Sid"] == "DeployTheStacks"]
    assert [resource["Fn::Sub"].rsplit(":", 1)[1] for resource in stacks["Resource"]] == [
        "stack/${StagingStackName}/*",
        "stack/${ProductionStackName}/*",
    ]


def test_no_pipeline_role_allows_every_action_of_a_service() -> None:
    for name in ("DeployRole", "CloudFormationExecutionRole"):
        for action in allowed_actions(BOOTSTRAP["Resources"][name]):
            assert not action.endswith(":*") and action != "*", f"{name}: {action}"


def needed_permissions(resource_type: str) -> set[str]:
    """What CloudFormation's handlers of a type call in its own service (that IAM knows),
    less the features the template does not use, plus what it needs elsewhere."""
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema
    handlers = schema["handlers"]
    listed = [
        permission
        for handler in ("create", "read", "update", "delete")
        for permission in handlers.get(handler, {}).get("permissions", [])
    ]
    service = handlers["create"]["permissions"][0].split(":")[0]
    known = load_resource(AdditionalSpecs, "Policies.json")[service]["Actions"]
    own = {p for p in listed if p.split(":")[0] == service and p.split(":")[1].lower() in known}
    unused = set(UNUSED_FEATURES.get(resource_type, {}))
    return (own - unused) | CROSS_SERVICE.get(resource_type, set())


def test_the_execution_role_allows_what_each_resource_type_of_the_template_needs() -> None:
    types = {resource["Type"] for resource in sam_transform(TEMPLATE)["Resources"].values()}
    granted = allowed_actions(BOOTSTRAP["Resources"]["CloudFormationExecutionRole"])
    missing = {
        resource_type: sorted(
            p for p in needed_permissions(resource_type) if not allows(granted, p)
        )
        for resource_type in sorted(types)
    }
    assert {t: m for t, m in missing.items() if m} == {}, (
        "pipeline/bootstrap.yaml CloudFormationExecutionRole lacks these"
    )


def test_the_execution_role_serves_cloudformation_of_this_account_only() -> None:
    role = BOOTSTRAP["Resources"]["CloudFormationExecutionRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "cloudformation.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
