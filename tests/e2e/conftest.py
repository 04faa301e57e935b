"""End-to-end tests: the local stack as a user starts it."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.cfn import ROOT


def run_stack_command(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """`python -m tests.stack ...` in a process of its own, as `make` runs it: its stack must
    not share this process' environment (which points at the session's stack)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    return subprocess.run(
        [sys.executable, "-m", "tests.stack", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
