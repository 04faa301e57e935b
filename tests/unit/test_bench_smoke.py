"""The benchmarks' machinery (`make bench`), without judging any timing: a table shows the
baseline, the measurement and their ratio, and a missed target fails the run."""

from __future__ import annotations

import re

from bench import webhook_intake
from bench.report import Table


def test_a_missed_target_fails_the_table_and_says_which() -> None:
    table = Table("t", ["", "value"])
    table.check("ratio", 1.6, 1.5)
    table.check("fraction", 0.95, 0.9, at_least=True)
    assert not table.ok
    lines = table.render().splitlines()
    assert "target ratio: 1.6 <= 1.5 MISSED" in lines
    assert "target fraction: 0.95 >= 0.9 met" in lines


def test_a_table_with_every_target_met_passes() -> None:
    table = Table("t", ["", "value"])
    table.check("ratio", 1.5, 1.5)
    table.check("fraction", 0.9, 0.9, at_least=True)
    assert table.ok


def test_a_quick_webhook_intake_run_prints_floor_measurement_and_ratio() -> None:
    table = webhook_intake.measure(rounds=1, requests=5)
    rows = {row[0]: row[1:] for row in table.rows}
    floor = float(rows["floor: bare PutItem of a process"][1])
    handler = float(rows["POST /processes through the handler"][1])
    ratio = float(re.sub("x$", "", rows["POST /processes through the handler"][3]))
    assert floor > 0 and handler > 0
    assert abs(ratio - handler / floor) < 0.01 * ratio + 0.01
    assert rows["floor: bare PutItem of a process"][3] == "1.00x"
    assert [check.name for check in table.checks] == ["time per request against the floor"]
