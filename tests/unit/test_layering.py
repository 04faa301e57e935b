"""The domain depends on the ports and the models only, never on an adapter or on the
libraries behind them, so that tests (and any other adapter) can stand in for them."""

from __future__ import annotations

import ast

import pytest

from devstack.template import ROOT

PACKAGE = ROOT / "layers" / "shared" / "landbot_resume"
DOMAIN = ("events", "operations", "processes", "resume", "timeouts")
# What the domain and the ports may import of the package: each other, the models, the ports.
ALLOWED = {"landbot_resume.models", "landbot_resume.ports"} | {
    f"landbot_resume.{module}" for module in DOMAIN
}
# The libraries the adapters wrap.
ADAPTED = ("boto3", "botocore", "requests", "urllib3", "aws_lambda_powertools")


def imported_modules(source: str) -> set[str]:
    """Every module the source imports; `from package import name` counts as package.name
    as well, since the name may be a module."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0 and node.module, "the package imports absolutely"
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def real_modules(names: set[str]) -> set[str]:
    """The names that are modules of the package (not classes imported from one)."""
    return {
        name
        for name in names
        if name.startswith("landbot_resume.")
        and (PACKAGE / (name.removeprefix("landbot_resume.").replace(".", "/") + ".py")).is_file()
    }


def test_the_import_scan_sees_both_forms() -> None:
    source = (
        "import boto3\nfrom landbot_resume import store\n"
        "from landbot_resume.ports import ProcessStore\nimport landbot_resume.landbot\n"
    )
    imported = imported_modules(source)
    assert "boto3" in imported
    assert real_modules(imported) == {
        "landbot_resume.store",
        "landbot_resume.ports",
        "landbot_resume.landbot",
    }


@pytest.mark.parametrize("module", [*DOMAIN, "ports"])
def test_the_domain_imports_only_ports_and_models(module: str) -> None:
    imported = imported_modules((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    ours = real_modules(imported) - {f"landbot_resume.{module}"}
    assert ours <= ALLOWED, f"{module}.py imports {sorted(ours - ALLOWED)}"
    libraries = {name for name in imported if name.split(".")[0] in ADAPTED}
    assert libraries == set(), f"{module}.py imports {sorted(libraries)}"


def test_a_cold_start_leaves_the_openapi_builder_out() -> None:
    """Powertools' OpenAPI models take longer to import than the rest of a function, and the
    deployed API never serves the document (the module list is checked fresh elsewhere)."""
    listed = (PACKAGE.parent / "cold-start-modules.txt").read_text(encoding="utf-8").split()
    assert "landbot_resume.openapi" not in listed
    assert "aws_lambda_powertools.event_handler.openapi.models" not in listed
    assert "landbot_resume.http" in listed  # the list is the real one
