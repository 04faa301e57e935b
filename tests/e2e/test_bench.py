"""The benchmarks (`make bench`) as a person runs them, without judging any timing: each
table shows the baseline, the measurement and their ratio, and the verdict at the end
follows the targets."""

from __future__ import annotations

import re
import subprocess
import sys

from devstack import ROOT


def test_a_quick_webhook_intake_run_prints_floor_measurement_ratio_and_verdict() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "webhook_intake"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode in (0, 1), run.stderr
    rows = {
        cells[0]: cells[1:]
        for line in run.stdout.splitlines()
        if line.startswith("| ") and not line.startswith("| --")
        for cells in [[cell.strip() for cell in line.strip("|").split("|")]]
    }
    floor = rows["floor: bare PutItem of a process"]
    handler = rows["POST /processes through the handler"]
    assert floor[3] == "1.00x"
    ratio = float(handler[3].removesuffix("x"))
    assert abs(ratio - float(handler[1]) / float(floor[1])) < 0.01 * ratio + 0.01
    verdicts = re.findall(r"^target .*: ([0-9.]+) <= ([0-9.]+) (met|MISSED)$", run.stdout, re.M)
    assert verdicts, run.stdout
    for measured, target, verdict in verdicts:
        assert (float(measured) <= float(target)) == (verdict == "met")
    missed = any(verdict == "MISSED" for *_, verdict in verdicts)
    assert run.returncode == int(missed)
    assert ("Targets missed: webhook_intake" in run.stdout) == missed
