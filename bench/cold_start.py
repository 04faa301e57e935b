"""1. Cold start: importing each function's handler in a fresh interpreter, against a handler
that imports only boto3 and requests; the built artifacts' sizes; the slowest imports.

The artifacts are the ones `sam build` makes (offline, from .cache/wheels), laid out as Lambda
loads them: the function's code first, then the layer, then what the Python runtime provides
(boto3, botocore and their own dependencies, taken from this virtual environment; nothing
else of it is visible). Each import runs in a fresh `python -S` with a Lambda-like
environment. Two columns:

- as deployed (the target): Lambda's /opt is read-only, so a cold start compiles whatever
  the layer ships no bytecode for (PYTHONDONTWRITEBYTECODE on a fresh build reproduces
  that); the layer ships it for the modules a cold start imports (precompile.py);
- bytecode cached: every module's bytecode at hand, the usual case for Python elsewhere.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bench.report import Table, median
from devstack import (
    FUNCTIONS,
    LAYER,
    build,
    lambda_environment,
    load_template,
    runtime_dir,
)

FLOOR_MODULE = "floor_app"
FLOOR_SOURCE = '''"""The floor: a handler that imports only boto3 and requests."""

import boto3
import requests


def handler(event, context):
    return None
'''
# For reference, not a target: the floor plus the one client each function makes at import.
CLIENT_MODULE = "floor_client_app"
CLIENT_SOURCE = FLOOR_SOURCE.replace(
    "import requests\n", 'import requests\n\ndynamodb = boto3.client("dynamodb")\n'
)
MAX_RATIO = 1.5
MAX_LAYER_MIB = 15.0
_TIMER = (
    "import sys, time; start = time.perf_counter(); __import__(sys.argv[1]);"
    " print(time.perf_counter() - start)"
)


def size_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1024 / 1024


def bundled_runtime_packages(layer: Path) -> list[str]:
    names = ("boto3", "botocore", "s3transfer")
    return sorted(p.name for p in (layer / "python").iterdir() if p.name.startswith(names))


class Subject:
    """One handler module as Lambda would import it."""

    def __init__(self, name: str, module: str, code: Path, layer: Path, runtime: Path) -> None:
        self.name = name
        self.module = module
        self.code = code
        self.path = os.pathsep.join(str(p) for p in (code, layer / "python", runtime))

    def _run(self, env: dict[str, str], *options: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-S", *options, "-c", _TIMER, self.module]
        # A fixed command line: the interpreter running this script and a constant program.
        result = subprocess.run(  # noqa: S603
            command, env=env, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"importing {self.module} failed:\n{result.stderr}")
        return result

    def import_seconds(self, env: dict[str, str], *, bytecode: bool) -> float:
        env = {**env, "PYTHONPATH": self.path}
        if not bytecode:
            env["PYTHONDONTWRITEBYTECODE"] = "1"
        return float(self._run(env).stdout.strip())

    def import_times(self, env: dict[str, str]) -> Counter[str]:
        """Microseconds spent in each top-level package's own module code (-X importtime)."""
        stderr = self._run({**env, "PYTHONPATH": self.path}, "-X", "importtime").stderr
        spent: Counter[str] = Counter()
        for line in stderr.splitlines():
            found = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
            if found:
                spent[found.group(2).split(".")[0]] += int(found.group(1))
        return spent


def measure(runs: int, top: int) -> Table:
    work = Path(tempfile.mkdtemp(prefix="landbot-resume-bench-"))
    try:
        return _measure(work, runs, top)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _measure(work: Path, runs: int, top: int) -> Table:
    built = build(work)
    layer = built / LAYER
    # Sizes as built, before any import writes bytecode next to the sources.
    sizes = {name: size_mib(built / name) for name in (*FUNCTIONS, LAYER)}
    bundled = bundled_runtime_packages(layer)
    runtime = runtime_dir(work)
    floor_code = work / "floor"
    floor_code.mkdir()
    (floor_code / f"{FLOOR_MODULE}.py").write_text(FLOOR_SOURCE)
    (floor_code / f"{CLIENT_MODULE}.py").write_text(CLIENT_SOURCE)
    template = load_template()["Resources"]
    subjects = [
        Subject("floor: boto3 + requests", FLOOR_MODULE, floor_code, layer, runtime),
        Subject(
            "  reference: floor + a DynamoDB client", CLIENT_MODULE, floor_code, layer, runtime
        ),
    ]
    for function in FUNCTIONS:
        module = template[function]["Properties"]["Handler"].rpartition(".")[0]
        subjects.append(Subject(function, module, built / function, layer, runtime))
    envs = {s.name: lambda_environment(s.name, s.code, work) for s in subjects}

    # Rounds go through every subject in turn, so a busy moment slows them all alike.
    deployed: dict[str, list[float]] = {s.name: [] for s in subjects}
    for _ in range(runs):
        for subject in subjects:
            seconds = subject.import_seconds(envs[subject.name], bytecode=False)
            deployed[subject.name].append(seconds)
    for subject in subjects:  # writes the .pyc files
        subject.import_seconds(envs[subject.name], bytecode=True)
    cached: dict[str, list[float]] = {s.name: [] for s in subjects}
    for _ in range(runs):
        for subject in subjects:
            seconds = subject.import_seconds(envs[subject.name], bytecode=True)
            cached[subject.name].append(seconds)

    floor = subjects[0].name
    table = Table(
        f"1. Cold start: handler import in a fresh interpreter (median of {runs})",
        [
            "handler module",
            "bytecode cached",
            "ratio",
            "as deployed",
            "ratio",
            "artifact unzipped",
        ],
    )
    for subject in subjects:
        size = f"{sizes[subject.name] * 1024:.0f} KiB" if subject.name in sizes else "-"
        table.add(
            subject.name,
            f"{median(cached[subject.name]) * 1000:.0f} ms",
            f"{median(cached[subject.name]) / median(cached[floor]):.2f}x",
            f"{median(deployed[subject.name]) * 1000:.0f} ms",
            f"{median(deployed[subject.name]) / median(deployed[floor]):.2f}x",
            size,
        )
    layer_mib = sizes[LAYER]
    table.add(LAYER, "", "", "", "", f"{layer_mib:.1f} MiB")
    for subject in subjects[2:]:
        table.check(
            f"{subject.name} import ratio (as deployed)",
            median(deployed[subject.name]) / median(deployed[floor]),
            MAX_RATIO,
        )
    table.check("layer unzipped MiB", layer_mib, MAX_LAYER_MIB)
    table.check("boto3/botocore/s3transfer bundled in the layer", len(bundled), 0)
    table.notes.append(
        "Lambda-like path: function code, layer, then the runtime's boto3/botocore;"
        " `python -S` (nothing else of the virtual environment); tracing on."
    )
    table.notes.append(_top_imports([subjects[0], *subjects[2:]], envs, top))
    return table


def _top_imports(subjects: list[Subject], envs: dict[str, dict[str, str]], top: int) -> str:
    """The packages whose own module code takes longest to import, for each subject."""
    lines = [f"Top {top} imports by own time (-X importtime, summed per top-level package):"]
    for subject in subjects:
        spent = subject.import_times(envs[subject.name])
        total = sum(spent.values()) / 1000
        listed = ", ".join(f"{name} {us / 1000:.0f}" for name, us in spent.most_common(top))
        lines.append(f"  {subject.name} ({total:.0f} ms): {listed}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cold_start", description=__doc__)
    parser.add_argument("--runs", type=int, default=15, help="imports per subject and column")
    parser.add_argument("--top", type=int, default=8, help="packages listed per subject")
    args = parser.parse_args(argv)
    table = measure(args.runs, args.top)
    print(table.render(), flush=True)
    return 0 if table.ok else 1


if __name__ == "__main__":
    sys.exit(main())
