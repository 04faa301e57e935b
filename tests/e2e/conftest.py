"""End-to-end tests: the local stack as a user starts it."""

from __future__ import annotations

import os
import subprocess
import sys

from devstack import ROOT


def stack_command_env() -> dict[str, str]:
    """This environment without AWS settings: a stack started by a command must not share
    this process' environment (which points at the session's stack)."""
    return {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}


def run_stack_command(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """`python -m devstack ...` in a process of its own, as `make` runs it."""
    return subprocess.run(
        [sys.executable, "-m", "devstack", *args],
        cwd=ROOT,
        env=stack_command_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
