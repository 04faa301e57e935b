"""The repository's layout holds: who may import whom, and every make target says what it
does (`make help`)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from devstack import ROOT

PACKAGES = ("bench", "devstack", "functions", "layers", "tests")


def python_files(folder: str) -> Iterator[Path]:
    yield from sorted((ROOT / folder).rglob("*.py"))


def imports(path: Path) -> Iterator[tuple[str, str | None]]:
    """(module, name) for each `import module` (name None) and `from module import name`."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                yield node.module, alias.name


def top(module: str) -> str:
    return module.split(".")[0]


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


@pytest.mark.parametrize("folder", PACKAGES)
def test_nothing_imports_tests_or_bench_from_outside(folder: str) -> None:
    forbidden = {"tests", "bench"} - {folder}
    found = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in python_files(folder)
        for module, _ in imports(path)
        if top(module) in forbidden
    ]
    assert found == []


@pytest.mark.parametrize("folder", ["bench", "functions", "layers", "tests"])
def test_no_private_name_of_devstack_is_imported_from_outside(folder: str) -> None:
    found = [
        f"{path.relative_to(ROOT)}: {module} {name}"
        for path in python_files(folder)
        for module, name in imports(path)
        if top(module) == "devstack" and any(map(is_private, [*module.split("."), name or ""]))
    ]
    assert found == []


def test_bench_uses_only_the_public_api_of_devstack() -> None:
    found = [
        f"{path.relative_to(ROOT)}: {module}"
        for path in python_files("bench")
        for module, _ in imports(path)
        if top(module) == "devstack" and module != "devstack"
    ]
    assert found == []


def test_the_product_imports_no_development_code() -> None:
    found = [
        f"{path.relative_to(ROOT)}: {module}"
        for folder in ("functions", "layers")
        for path in python_files(folder)
        for module, _ in imports(path)
        if top(module) in {"devstack", "moto", "pytest"}
    ]
    assert found == []


def test_the_local_stack_lives_in_devstack_only() -> None:
    assert not (ROOT / "tests" / "stack").exists()
    assert (ROOT / "devstack" / "__main__.py").is_file()


def test_every_make_target_says_what_it_does() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = re.findall(r"^([a-z][a-z-]*):(?!=)(.*)$", makefile, re.MULTILINE)
    assert targets
    undocumented = [name for name, rest in targets if "## " not in rest]
    assert undocumented == []
    phony = re.search(r"^\.PHONY: (.*)$", makefile, re.MULTILINE)
    assert phony is not None
    assert {name for name, _ in targets} == set(phony[1].split())
