"""The functions as `sam build` makes them and as Lambda loads them: the build, the runtime's
own packages, a Lambda-like environment, and the layer modules a cold start imports (the
layer ships their bytecode: layers/shared/precompile.py and cold-start-modules.txt)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devstack.aws import ACCOUNT, REGION
from devstack.template import ROOT, load_template

FUNCTIONS = ("WebhookFunction", "ResumeFunction", "TimeoutsFunction")


LAYER = "SharedLayer"


# What the Lambda Python runtime puts on the path after the layer (not bundled by us).
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six", "urllib3")


# The layer modules a cold start imports: the layer ships their bytecode (precompile.py).
MODULE_LIST = ROOT / "layers" / "shared" / "cold-start-modules.txt"


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


def _resolve(value: Any, template: dict[str, Any]) -> str:
    """Template values for the environment: parameter defaults, placeholders for resources
    (shaped as what Ref returns for them: a queue's is its URL)."""
    if isinstance(value, dict) and set(value) == {"Ref"}:
        name = value["Ref"]
        parameters = template["Parameters"]
        if name in parameters:
            return str(parameters[name]["Default"])
        if template["Resources"].get(name, {}).get("Type") == "AWS::SQS::Queue":
            return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/local-{name}"
        return f"local-{name}"
    return str(value)


def template_variables(function: str) -> dict[str, str]:
    """The function's environment variables from the template (Globals and its own), with
    parameter defaults and placeholder names for the resources."""
    template = load_template()
    own = template["Resources"].get(function, {}).get("Properties", {})
    variables = {
        **template["Globals"]["Function"]["Environment"]["Variables"],
        **own.get("Environment", {}).get("Variables", {}),
    }
    return {name: _resolve(value, template) for name, value in variables.items()}


def lambda_environment(function: str, code: Path, work: Path) -> dict[str, str]:
    """What Lambda sets, plus the function's variables from the template (if it has any)."""
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
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_SESSION_TOKEN": "local",
        "AWS_CONFIG_FILE": str(work / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(work / "no-aws-credentials"),
        **template_variables(function),
    }


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
        "# (precompile.py). Generated: make generated\n"
    )
    return header + "".join(f"{name}\n" for name in cold_start_modules())
