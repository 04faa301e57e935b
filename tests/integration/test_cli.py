"""`landbot-resume processes list|show`, and how the CLI finds a stack or says why it cannot,
against a moto server of its own holding the template's table in CloudFormation stacks."""

from __future__ import annotations

import itertools
import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.client import BaseClient

from devstack.aws import REGION
from devstack.template import ROOT
from landbot_resume.cli import main
from landbot_resume.cli.stack import LOCAL_STACK, TABLE_OUTPUT
from landbot_resume.models import (
    HistoryEntry,
    LateOutcome,
    Process,
    ProcessView,
    Source,
    Status,
    iso,
)
from landbot_resume.store import DynamoDBProcessStore
from tests.integration.cli_stacks import client, deployed, moto_server, stack_template

NOW = 1_795_000_000
_names = itertools.count(1)
# Creation order (a minute apart) and the status each process is moved to.
STORY = [
    Status.RESUMED,
    Status.FAILED,
    Status.PENDING,
    Status.RESUMING,
    Status.CANCELLED,
    Status.FAILED,
    Status.PENDING,
    Status.RESUMED,
]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def outputs(endpoint: str) -> Iterator[dict[str, str]]:
    """The outputs of the stack `--endpoint-url` alone finds: the local stack's."""
    with deployed(endpoint, LOCAL_STACK, stack_template()) as found:
        yield found


@pytest.fixture
def store(endpoint: str, outputs: dict[str, str]) -> DynamoDBProcessStore:
    return DynamoDBProcessStore(outputs[TABLE_OUTPUT], client=client("dynamodb", endpoint))


def start(store: DynamoDBProcessStore, created: int) -> Process:
    process = Process(
        process_id=f"pr_{uuid.uuid4().hex}",
        status=Status.PENDING,
        bot_id=11,
        node_id="Nkqgn6xkf",
        customer_id=700_000_001,
        field="data",
        reference=f"order-{created}",
        context={"email": "someone@example.com"},
        created_at=iso(created),
        updated_at=iso(created),
        expires_at=created + 3600,
        history=[HistoryEntry.of(created, Status.PENDING, Source.BOT)],
    )
    stored, was_created = store.create(
        process, fingerprint=uuid.uuid4().hex, retry_window=120, now=created
    )
    assert was_created
    return stored


def move(store: DynamoDBProcessStore, process: Process, status: Status, now: int) -> None:
    """Through the store's own transitions, as the resume function (or the bot) moves it."""
    if status is Status.PENDING:
        return
    if status is Status.CANCELLED:
        assert store.cancel(process.process_id, now=now, source=Source.BOT).moved
        return
    claim = f"claim-{process.process_id}"
    store.claim(
        process.process_id,
        outcome="paid",
        result={"amount": 100},
        event_id="evt_1",
        source=Source.STRIPE,
        claim_id=claim,
        now=now,
        lease_seconds=60,
    )
    if status is Status.RESUMED:
        store.mark_resumed(process.process_id, claim, now)
    elif status is Status.FAILED:
        store.mark_failed(process.process_id, claim, now, "customer not found")
    elif status is Status.CANCELLED:
        raise AssertionError("a claimed process cannot be cancelled: cancel a PENDING one")


@pytest.fixture
def stories(store: DynamoDBProcessStore) -> list[tuple[str, Status]]:
    """(process id, status) of the STORY's processes, oldest first."""
    made = []
    for minute, status in enumerate(STORY):
        process = start(store, NOW + 60 * minute)
        move(store, process, status, NOW + 60 * minute + 5)
        made.append((process.process_id, status))
    return made


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def deployed_at(name: str, region: str, endpoint: str) -> list[str]:
    """The options naming a deployed stack (reached at the test's moto server)."""
    return ["--stack", name, "--region", region, "--endpoint-url", endpoint]


def listed(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


@pytest.fixture
def aws_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """Every AWS operation any boto3 client makes, with its parameters."""
    calls: list[tuple[str, dict[str, Any]]] = []
    real = BaseClient._make_api_call

    def recording(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        calls.append((operation, params))
        return real(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    return calls


# ----------------------------------------------------------------------------- list


def test_list_prints_every_process_newest_first(
    endpoint: str, stories: list[tuple[str, Status]], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "processes", "list", "--endpoint-url", endpoint)

    assert code == 0
    lines = listed(out)
    assert [(line["process_id"], line["status"]) for line in lines] == stories[::-1]
    # The public view only: no customer id, no context.
    assert all(set(line) == set(ProcessView.model_fields) for line in lines)
    failed = next(line for line in lines if line["status"] == Status.FAILED)
    assert (failed["outcome"], failed["failure_reason"]) == ("paid", "customer not found")


def test_list_by_status(
    endpoint: str, stories: list[tuple[str, Status]], capsys: pytest.CaptureFixture[str]
) -> None:
    for status in Status:
        code, out, _ = run(
            capsys, "processes", "list", "--status", status, "--endpoint-url", endpoint
        )

        assert code == 0
        expected = [process_id for process_id, made in stories[::-1] if made is status]
        assert [line["process_id"] for line in listed(out)] == expected


def test_limit_keeps_the_newest(
    endpoint: str, stories: list[tuple[str, Status]], capsys: pytest.CaptureFixture[str]
) -> None:
    command = ["processes", "list", "--endpoint-url", endpoint]

    _, out, _ = run(capsys, *command, "--limit", "3")
    assert [line["process_id"] for line in listed(out)] == [pid for pid, _ in stories[:-4:-1]]

    _, out, _ = run(capsys, *command, "--status", "FAILED", "--limit", "1")
    assert [line["process_id"] for line in listed(out)] == [stories[5][0]]


def test_list_queries_the_status_index_and_never_scans(
    endpoint: str,
    store: DynamoDBProcessStore,
    stories: list[tuple[str, Status]],
    aws_calls: list[tuple[str, dict[str, Any]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "processes", "list", "--endpoint-url", endpoint)

    assert code == 0 and len(listed(out)) == len(stories)
    table_calls = [(op, params) for op, params in aws_calls if "TableName" in params]
    assert {op for op, _ in table_calls} == {"Query"}
    assert {params["IndexName"] for _, params in table_calls} == {DynamoDBProcessStore.STATUS_INDEX}
    # The table holds more than processes (each request's fingerprint): the index does not.
    items = client("dynamodb", endpoint).scan(TableName=store.table_name)["Count"]
    assert items == 2 * len(stories)


def test_list_of_an_empty_table_prints_nothing(
    endpoint: str, store: DynamoDBProcessStore, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "processes", "list", "--endpoint-url", endpoint) == (0, "", "")


@pytest.mark.parametrize(
    ("option", "value"), [("--status", "DONE"), ("--limit", "0"), ("--limit", "many")]
)
def test_list_refuses_bad_options(
    option: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as refused:
        main(["processes", "list", option, value, "--endpoint-url", "http://127.0.0.1:1"])

    assert refused.value.code == 2
    assert option in capsys.readouterr().err


# ----------------------------------------------------------------------------- show


def test_show_prints_the_stored_process(
    endpoint: str,
    store: DynamoDBProcessStore,
    stories: list[tuple[str, Status]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    process_id = stories[1][0]

    code, out, _ = run(capsys, "processes", "show", process_id, "--endpoint-url", endpoint)

    assert code == 0
    stored = store.get(process_id)
    assert stored is not None and stored.status is Status.FAILED
    assert json.loads(out) == stored.model_dump(mode="json")


def test_show_an_unknown_process_exits_1(
    endpoint: str, store: DynamoDBProcessStore, capsys: pytest.CaptureFixture[str]
) -> None:
    unknown = f"pr_{uuid.uuid4().hex}"

    code, out, err = run(capsys, "processes", "show", unknown, "--endpoint-url", endpoint)

    assert (code, out) == (1, "")
    assert err.startswith(f"landbot-resume: no process {unknown} in table {store.table_name}")


def test_show_refuses_what_is_no_process_id(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        main(["processes", "show", "../x", "--endpoint-url", "http://127.0.0.1:1"])

    assert refused.value.code == 2
    err = capsys.readouterr().err
    assert "ID: must be pr_ followed by 32 lowercase hex digits" in err
    assert "../x" not in err


def test_show_prints_the_history_of_every_move(
    endpoint: str,
    stories: list[tuple[str, Status]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "processes", "show", stories[1][0], "--endpoint-url", endpoint)

    assert code == 0
    moves = [
        (entry["status"], entry["cause"], entry.get("reason"))
        for entry in json.loads(out)["history"]
    ]
    assert moves == [
        ("PENDING", "bot", None),
        ("RESUMING", "stripe evt_1", None),
        ("FAILED", "resume", "customer not found"),
    ]


def test_list_late_shows_the_outcomes_that_came_after_a_wait_ended(
    endpoint: str,
    store: DynamoDBProcessStore,
    stories: list[tuple[str, Status]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    cancelled = stories[4][0]
    late = LateOutcome(outcome="paid", event_id="evt_9", source=Source.STRIPE, at=iso(NOW + 900))
    assert store.record_late_outcome(cancelled, late, status=Status.CANCELLED, now=NOW + 900)

    code, out, _ = run(capsys, "processes", "list", "--late", "--endpoint-url", endpoint)

    assert code == 0
    (line,) = listed(out)
    assert (line["process_id"], line["status"]) == (cancelled, "CANCELLED")
    assert line["late_outcome"] == late.model_dump(mode="json")


# ----------------------------------------------------------------------------- retry, cancel


def queued(endpoint: str, outputs: dict[str, str]) -> list[dict[str, Any]]:
    """The messages on the completion queue (taken off it)."""
    sqs = client("sqs", endpoint)
    bodies = []
    while messages := sqs.receive_message(
        QueueUrl=outputs["CompletionQueueUrl"], MaxNumberOfMessages=10
    ).get("Messages", []):
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(
                QueueUrl=outputs["CompletionQueueUrl"], ReceiptHandle=message["ReceiptHandle"]
            )
    return bodies


def failed_with(store: DynamoDBProcessStore, reason: str) -> str:
    process = start(store, NOW)
    move(store, process, Status.RESUMING, NOW + 1)
    store.mark_failed(process.process_id, f"claim-{process.process_id}", NOW + 2, reason)
    return process.process_id


def test_retry_sends_a_failed_process_its_recorded_outcome_again(
    endpoint: str,
    outputs: dict[str, str],
    store: DynamoDBProcessStore,
    capsys: pytest.CaptureFixture[str],
) -> None:
    process_id = failed_with(store, "assign_bot answered 412: customer blocked")

    code, out, _ = run(capsys, "processes", "retry", process_id, "--endpoint-url", endpoint)

    assert code == 0
    assert out.startswith(f"{process_id}: PENDING again, its outcome paid sent")
    assert queued(endpoint, outputs) == [
        {
            "process_id": process_id,
            "status": "paid",
            "event_id": "evt_1",
            "data": {},
            "sent_by": "operator",
        }
    ]
    stored = store.get(process_id)
    assert stored is not None and stored.status is Status.PENDING
    last = stored.history[-1]
    assert (last.cause, last.reason) == (
        "operator",
        "retry after: assign_bot answered 412: customer blocked",
    )


def test_retry_refuses_an_unconfirmed_jump_unless_forced(
    endpoint: str,
    outputs: dict[str, str],
    store: DynamoDBProcessStore,
    capsys: pytest.CaptureFixture[str],
) -> None:
    process_id = failed_with(store, "assign_bot unconfirmed: assign_bot timed out")

    code, out, err = run(capsys, "processes", "retry", process_id, "--endpoint-url", endpoint)

    assert (code, out) == (1, "")
    assert err.startswith(f"landbot-resume: {process_id} not retried: assign_bot unconfirmed")
    assert "--force" in err
    assert queued(endpoint, outputs) == []
    command = ["processes", "retry", process_id, "--force", "--endpoint-url", endpoint]
    assert run(capsys, *command)[0] == 0
    assert [body["status"] for body in queued(endpoint, outputs)] == ["paid"]


def test_retry_and_cancel_say_why_they_refuse(
    endpoint: str,
    stories: list[tuple[str, Status]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    pending, resumed = stories[2][0], stories[0][0]
    unknown = f"pr_{uuid.uuid4().hex}"
    for command, expected in [
        (["retry", pending], f"{pending} not retried: only a FAILED process can be retried;"),
        (["cancel", resumed], f"{resumed} not cancelled: the process already ended RESUMED"),
        (["retry", unknown], f"no process {unknown}"),
        (["cancel", unknown], f"no process {unknown}"),
    ]:
        code, out, err = run(capsys, "processes", *command, "--endpoint-url", endpoint)

        assert (code, out) == (1, "")
        assert err.startswith(f"landbot-resume: {expected}"), err


def test_cancel_ends_a_waiting_process(
    endpoint: str,
    outputs: dict[str, str],
    store: DynamoDBProcessStore,
    capsys: pytest.CaptureFixture[str],
) -> None:
    process_id = start(store, NOW).process_id
    command = ["processes", "cancel", process_id, "--endpoint-url", endpoint]

    assert run(capsys, *command, "--reason", "the customer called") == (
        0,
        f"{process_id}: CANCELLED\n",
        "",
    )
    assert run(capsys, *command) == (0, f"{process_id}: already CANCELLED\n", "")
    stored = store.get(process_id)
    assert stored is not None and stored.status is Status.CANCELLED
    assert (stored.history[-1].cause, stored.history[-1].reason) == (
        "operator",
        "the customer called",
    )
    assert queued(endpoint, outputs) == []
    code, out, _ = run(
        capsys, "processes", "list", "--status", "CANCELLED", "--endpoint-url", endpoint
    )
    assert code == 0
    assert [line["process_id"] for line in listed(out)] == [process_id]


def test_cancel_can_resume_the_customer_at_a_block_of_ones_choice(
    endpoint: str,
    outputs: dict[str, str],
    store: DynamoDBProcessStore,
    capsys: pytest.CaptureFixture[str],
) -> None:
    process_id = start(store, NOW).process_id

    code, out, _ = run(
        capsys,
        *("processes", "cancel", process_id, "--resume-at", "Nsorry", "--status", "closed"),
        *("--endpoint-url", endpoint),
    )

    assert code == 0
    assert out == (
        f"{process_id}: called off; resuming at Nsorry with status closed"
        " (through the completion queue)\n"
    )
    assert queued(endpoint, outputs) == [
        {"process_id": process_id, "status": "closed", "data": {}, "sent_by": "operator"}
    ]
    stored = store.get(process_id)
    assert stored is not None and stored.status is Status.PENDING
    assert (stored.outcome, stored.jump_node()) == ("closed", "Nsorry")


@pytest.mark.parametrize(
    ("options", "named"),
    [
        (["--resume-at", "../x"], "--resume-at"),
        (["--resume-at", "N1", "--status", "Paid!"], "--status"),
        (["--reason", "x" * 201], "--reason"),
    ],
)
def test_cancel_refuses_bad_options(
    options: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as refused:
        main(
            [
                "processes",
                "cancel",
                f"pr_{'0' * 32}",
                *options,
                "--endpoint-url",
                "http://127.0.0.1:1",
            ]
        )

    assert refused.value.code == 2
    err = capsys.readouterr().err
    assert named in err and "../x" not in err and "Paid!" not in err


def test_status_goes_with_resume_at(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as refused:
        main(["processes", "cancel", f"pr_{'0' * 32}", "--status", "x", "--endpoint-url", "x"])

    assert refused.value.code == 2
    err = capsys.readouterr().err
    assert err.endswith(
        "error: --status goes with --resume-at (the field is set only on a resume)\n"
    )


# ----------------------------------------------------------------------------- finding the stack


@pytest.mark.usefixtures("aws_env")
def test_a_deployed_stack_is_found_by_name_and_region(
    endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    name, region = f"landbot-resume-{next(_names)}", "eu-central-1"
    with deployed(endpoint, name, stack_template(), region) as outputs:
        dynamodb = client("dynamodb", endpoint, region)
        process = start(DynamoDBProcessStore(outputs[TABLE_OUTPUT], client=dynamodb), NOW)

        code, out, _ = run(capsys, "processes", "list", *deployed_at(name, region, endpoint))

    assert code == 0
    assert [line["process_id"] for line in listed(out)] == [process.process_id]


def test_the_local_stack_in_another_region(
    endpoint: str, store: DynamoDBProcessStore, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, "processes", "list", "--endpoint-url", endpoint, "--region", "eu-central-1"
    )

    assert (code, out) == (2, "")
    assert err == f"landbot-resume: no stack named {LOCAL_STACK} in eu-central-1 at {endpoint}\n"


@pytest.mark.usefixtures("aws_env")
def test_an_unknown_stack_is_named_with_its_region(
    endpoint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in (["processes", "list"], ["processes", "show", f"pr_{'0' * 32}"], ["redrive"]):
        code, out, err = run(capsys, *command, *deployed_at("no-such-stack", REGION, endpoint))

        assert (code, out) == (2, "")
        assert err == f"landbot-resume: no stack named no-such-stack in {REGION} at {endpoint}\n"


@pytest.mark.usefixtures("aws_env")
def test_a_stack_without_the_outputs(endpoint: str, capsys: pytest.CaptureFixture[str]) -> None:
    name = f"no-outputs-{next(_names)}"
    with deployed(endpoint, name, stack_template(outputs=("CompletionQueueUrl",))):
        code, _, err = run(capsys, "processes", "list", *deployed_at(name, REGION, endpoint))

    assert code == 2
    assert err == f"landbot-resume: stack {name} has no output {TABLE_OUTPUT}\n"


def test_neither_stack_nor_endpoint(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "processes", "list")

    assert code == 2
    assert "--stack NAME" in err and "--endpoint-url URL" in err


def test_no_credentials_says_how_to_give_them(
    endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    (tmp_path / "empty").write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "empty"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "empty"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    code, out, err = run(
        capsys, "processes", "list", *deployed_at("landbot-resume", REGION, endpoint)
    )

    assert (code, out) == (2, "")
    assert err.startswith("landbot-resume: no AWS credentials: set AWS_PROFILE")
    assert err.count("\n") == 1


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_endpoint_that_does_not_answer(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    code, out, err = run(capsys, "processes", "list", "--endpoint-url", url)

    assert (code, out) == (2, "")
    assert err.startswith(f'landbot-resume: Could not connect to the endpoint URL: "{url}/"')
    assert err.endswith(" (is `make run` running?)\n")


# ----------------------------------------------------------------------------- the installed CLI


def cli_environment() -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    return env | {"PYTHONPATH": str(ROOT / "layers" / "shared")}


def test_the_console_script_is_installed(endpoint: str, stories: list[tuple[str, Status]]) -> None:
    script = Path(sys.executable).with_name("landbot-resume")
    assert script.is_file(), "no landbot-resume next to this Python: run make install"

    helped = subprocess.run(
        [script, "--help"], capture_output=True, text=True, timeout=60, check=True
    )
    assert "redrive" in helped.stdout and "processes" in helped.stdout
    listed_out = subprocess.run(
        [script, "processes", "list", "--limit", "2", "--endpoint-url", endpoint],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=cli_environment(),
    ).stdout
    assert [line["process_id"] for line in listed(listed_out)] == [
        pid for pid, _ in stories[:-3:-1]
    ]


# Run in a fresh interpreter: every module of the CLI, then a command that reaches AWS.
_IMPORTS = """
import json, pkgutil, sys
import landbot_resume.cli
for module in pkgutil.walk_packages(landbot_resume.cli.__path__, "landbot_resume.cli."):
    __import__(module.name)
code = landbot_resume.cli.main(["processes", "list", "--endpoint-url", sys.argv[1]])
print(json.dumps(sorted({name.partition(".")[0] for name in sys.modules})))
sys.exit(code)
"""


def test_the_cli_needs_only_boto3_and_the_layers_store(
    endpoint: str, store: DynamoDBProcessStore
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _IMPORTS, endpoint],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        cwd=ROOT,
        env=cli_environment(),
    )

    loaded = set(json.loads(result.stdout.splitlines()[-1]))
    assert {"landbot_resume", "boto3", "pydantic"} <= loaded
    assert loaded & {"devstack", "tests", "bench", "aws_lambda_powertools", "requests"} == set()
