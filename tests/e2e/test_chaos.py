"""A small chaos run (`make chaos` at a size for the test suite), in its own process: the
local stack it starts must not share moto's in-process state with the session's stack."""

from __future__ import annotations

import re

from tests.e2e.conftest import run_stack_command


def test_a_small_chaos_run_loses_nothing_and_resumes_nothing_twice() -> None:
    done = run_stack_command(
        "chaos",
        "--processes",
        "40",
        "--unknown",
        "3",
        "--burst",
        "20",
        "--visibility-timeout",
        "1",
        "--timeouts",
        "5",
        "--paid-after-timeout",
        "3",
        "--cancels",
        "4",
        "--timeout-seconds",
        "8",
        "--auth-fault-seconds",
        "8",
        timeout=300,
    )
    rows = dict(re.findall(r"^(\S.*?)\s{2,}(\S.*)$", done.stdout, re.MULTILINE))
    assert rows.get("processes created") == "52", done.stdout + done.stderr
    assert rows["lost (must be 0)"] == "0"
    assert rows["double-resumed (must be 0)"] == "0"
    assert rows["customers parked with nobody told (must be 0)"] == "0"
    landed, never = rows["FAILED unconfirmed: jump landed / never landed"].split(" / ")
    reasons = re.findall(r"^  failed: (.*?)\s{2,}(\d+)$", done.stdout, re.MULTILINE)
    unconfirmed = sum(int(n) for reason, n in reasons if reason.startswith("assign_bot unconf"))
    assert int(landed) + int(never) == unconfirmed
    assert rows["in DLQ (unknown process)"].endswith("(3)")
    finished = int(rows["resumed"]) + int(rows["failed"]) + int(rows["cancelled by the bot"])
    dead_lettered = int(rows["in DLQ (unknown process)"].split()[0]) - 3
    assert finished + dead_lettered == 52
    assert rows["cancelled by the bot"] == "4"
    assert rows["jumped after a cancel (must be 0)"] == "0"
    # Two cancelled waits were paid after all; the three timed-out ones too (unless paid first).
    recorded, sent = rows["late outcomes recorded, not replayed"].split(" of ")
    assert sent == "5" and int(recorded) >= 2
    timed_out, expected = rows["timed out, resumed at the timeout block"].split()[0:3:2]
    assert expected == "8" and int(timed_out) >= 4
    assert int(rows["held during the auth fault, then resumed"]) > 0
    calls, share = rows["Landbot calls / faults injected"].split(" / ")
    assert int(calls) >= 80 and int(share.rstrip("%")) > 0
    assert int(rows["peak Landbot requests/s (<= 10)"]) <= 10
    assert done.returncode == 0, done.stdout + done.stderr
