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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.report import Table, median
from tests.cfn import ROOT, load_template

FUNCTIONS = ("WebhookFunction", "ResumeFunction")
LAYER = "SharedLayer"
# What the Lambda Python runtime puts on the path after the layer (not bundled by us).
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")
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
# The layer modules a cold start imports: the layer ships their bytecode (precompile.py).
MODULE_LIST = ROOT / "layers" / "shared" / "cold-start-modules.txt"
MAX_RATIO = 1.5
MAX_LAYER_MIB = 15.0
_TIMER = (
    "import sys, time; start = time.perf_counter(); __import__(sys.argv[1]);"
    " print(time.perf_counter() - start)"
)


def build(work: Path) -> Path:
    """`sam build` into `work`, offline: the layer's wheels come from the wheelhouse."""
    bin_dir = Path(sys.executable).parent
    sam = shutil.which("sam", path=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    if sam is None:
        raise RuntimeError("sam (aws-sam-cli) is not installed: run `make install`")
    wheelhouse = Path(os.environ.get("WHEELHOUSE", ROOT / ".cache" / "wheels")).resolve()
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "SAM_CLI_TELEMETRY": "0",
        "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "eu-west-1"),
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheelhouse),
    }
    command = [
        sam,
        "build",
        "--template-file",
        str(ROOT / "template.yaml"),
        "--build-dir",
        str(work / "build"),
        "--cache-dir",
        str(work / "cache"),
        "--no-cached",
    ]
    # A fixed command line: nothing in it comes from outside this script.
    result = subprocess.run(  # noqa: S603
        command, cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"sam build failed:\n{result.stdout}{result.stderr}")
    return work / "build"


def size_mib(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1024 / 1024


def bundled_runtime_packages(layer: Path) -> list[str]:
    names = ("boto3", "botocore", "s3transfer")
    return sorted(p.name for p in (layer / "python").iterdir() if p.name.startswith(names))


def runtime_dir(work: Path) -> Path:
    """The Python runtime's own packages, linked from this environment's site-packages."""
    import boto3

    site = Path(boto3.__file__).parent.parent
    runtime = work / "runtime"
    runtime.mkdir()
    for name in RUNTIME_PACKAGES:
        for candidate in (site / name, site / f"{name}.py"):
            if candidate.exists():
                (runtime / candidate.name).symlink_to(candidate)
    return runtime


def _resolve(value: Any, parameters: dict[str, Any]) -> str:
    """Template values for the environment: parameter defaults, placeholders for resources."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        name = value["Ref"]
        return str(parameters[name]["Default"]) if name in parameters else f"bench-{name}"
    return str(value)


def lambda_environment(function: str, code: Path, work: Path) -> dict[str, str]:
    """What Lambda sets, plus the function's variables from the template (if it has any)."""
    template = load_template()
    parameters = template["Parameters"]
    own = template["Resources"].get(function, {}).get("Properties", {})
    variables = {
        **template["Globals"]["Function"]["Environment"]["Variables"],
        **own.get("Environment", {}).get("Variables", {}),
    }
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(code),
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        # Lambda hands the role's credentials over in the environment; no ~/.aws is read.
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
        "AWS_CONFIG_FILE": str(work / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(work / "no-aws-credentials"),
        **{name: _resolve(value, parameters) for name, value in variables.items()},
    }


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


REQUIREMENTS = ROOT / "layers" / "shared" / "requirements.txt"


def pinned_requirements() -> dict[str, str]:
    """The layer's requirements: lower-case name -> pinned version."""
    pins: dict[str, str] = {}
    for line in REQUIREMENTS.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            if not (sep and version):
                raise ValueError(f"not pinned: {line!r}")
            pins[name.strip().lower()] = version.strip()
    return pins


def _distribution(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _layer_packages() -> set[str]:
    """Top-level import names of the layer: landbot_resume and its pinned requirements."""
    from importlib.metadata import packages_distributions

    pinned = {_distribution(name) for name in pinned_requirements()}
    return {"landbot_resume"} | {
        name
        for name, distributions in packages_distributions().items()
        if any(_distribution(d) in pinned for d in distributions)
    }


@dataclass(frozen=True)
class Loaded:
    """A module a handler's import loaded: its name, file and loader class."""

    name: str
    file: Path
    loader: str


_LISTER = (
    "import importlib, sys; importlib.import_module(sys.argv[1]);"
    " print('\\n'.join(f'{name} {type(m.__loader__).__name__} {m.__file__}'"
    " for name, m in list(sys.modules.items())"
    " if getattr(m, '__file__', None) and m.__name__ == name))"  # not requests.packages' aliases
)


def loaded_modules(function: str, path: list[Path], work: Path) -> list[Loaded]:
    """The modules importing `function`'s handler loads, in a fresh `python -S` with a
    Lambda-like environment, `path` as its PYTHONPATH and no bytecode written (as in Lambda)."""
    properties = load_template()["Resources"][function]["Properties"]
    module = properties["Handler"].rpartition(".")[0]
    env = {
        **lambda_environment(function, path[0], work),
        "PYTHONPATH": os.pathsep.join(str(p) for p in path),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    # A fixed command line: this interpreter and a constant program.
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-S", "-c", _LISTER, module],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"importing {module} failed:\n{result.stderr}")
    loaded = []
    for line in result.stdout.splitlines():
        name, loader, file = line.split(" ", 2)
        loaded.append(Loaded(name, Path(file), loader))
    return loaded


def cold_start_modules() -> list[str]:
    """The layer's Python modules that importing either handler imports, from the sources
    (no build needed): what MODULE_LIST must hold."""
    import boto3

    site = Path(boto3.__file__).parent.parent
    template = load_template()["Resources"]
    packages = _layer_packages()
    found: set[str] = set()
    work = Path(tempfile.mkdtemp(prefix="landbot-resume-modules-"))
    try:
        for function in FUNCTIONS:
            code = ROOT / template[function]["Properties"]["CodeUri"]
            for module in loaded_modules(function, [code, ROOT / "layers" / "shared", site], work):
                if module.file.suffix == ".py" and module.name.split(".")[0] in packages:
                    found.add(module.name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return sorted(found)


def module_list_text() -> str:
    header = (
        "# The layer's modules importing a handler imports: the layer ships their bytecode\n"
        "# (precompile.py). Generated: python -m bench.cold_start --write-modules\n"
    )
    return header + "".join(f"{name}\n" for name in cold_start_modules())


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
    parser.add_argument(
        "--write-modules",
        action="store_true",
        help=f"rewrite {MODULE_LIST.relative_to(ROOT)} from the handlers' imports, and stop",
    )
    args = parser.parse_args(argv)
    if args.write_modules:
        MODULE_LIST.write_text(module_list_text())
        print(f"wrote {MODULE_LIST.relative_to(ROOT)}")
        return 0
    table = measure(args.runs, args.top)
    print(table.render(), flush=True)
    return 0 if table.ok else 1


if __name__ == "__main__":
    sys.exit(main())
