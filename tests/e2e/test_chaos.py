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
        timeout=300,
    )
    rows = dict(re.findall(r"^(\S.*?)\s{2,}(\S.*)$", done.stdout, re.MULTILINE))
    assert rows.get("processes created") == "40", done.stdout + done.stderr
    assert rows["lost (must be 0)"] == "0"
    assert rows["double-resumed (must be 0)"] == "0"
    assert rows["customers parked with nobody told (must be 0)"] == "0"
    landed, never = rows["FAILED unconfirmed: jump landed / never landed"].split(" / ")
    reasons = re.findall(r"^  failed: (.*?)\s{2,}(\d+)$", done.stdout, re.MULTILINE)
    unconfirmed = sum(int(n) for reason, n in reasons if reason.startswith("assign_bot unconf"))
    assert int(landed) + int(never) == unconfirmed
    assert rows["in DLQ (unknown process)"].endswith("(3)")
    finished = int(rows["resumed"]) + int(rows["failed"])
    dead_lettered = int(rows["in DLQ (unknown process)"].split()[0]) - 3
    assert finished + dead_lettered == 40
    calls, share = rows["Landbot calls / faults injected"].split(" / ")
    assert int(calls) >= 80 and int(share.rstrip("%")) > 0
    assert int(rows["peak Landbot requests/s (<= 10)"]) <= 10
    assert done.returncode == 0, done.stdout + done.stderr
