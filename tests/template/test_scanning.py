"""IaC scanning of the templates (template.yaml, pipeline/bootstrap.yaml): checkov finds
nothing but the checks .checkov.yaml skips, each with its reason, and cfn-lint's
informational checks pass. Both run offline (checkov with --skip-download)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from devstack.template import ROOT

CONFIG_PATH = ROOT / ".checkov.yaml"
CONFIG: dict[str, Any] = yaml.safe_load(CONFIG_PATH.read_text(encoding="utf-8"))
SKIPPED: list[str] = CONFIG["skip-check"]
TEMPLATES = ["template.yaml", "pipeline/bootstrap.yaml"]
# A skipped check and the comment lines just above it, its reason.
SKIP_WITH_REASON = re.compile(r"((?:^  # .+\n)+)^  - (CKV\w+)$", re.MULTILINE)


def checkov(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    command = shutil.which("checkov")
    if command is None:
        pytest.fail("checkov is not on PATH: run make install")
    return subprocess.run(
        [command, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_checkov_scans_both_templates_offline() -> None:
    assert CONFIG["file"] == TEMPLATES
    assert CONFIG["framework"] == ["cloudformation"]
    assert CONFIG["skip-download"] is True


def test_checkov_passes_with_its_config() -> None:
    result = checkov("--config-file", str(CONFIG_PATH))
    assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_finds_nothing_but_the_checks_its_config_skips(tmp_path: Path) -> None:
    """Run without the skips: what fails is exactly the skip list, so no finding is hidden
    by accident and no skip outlives its finding. (Elsewhere than the repository's root,
    where checkov would read .checkov.yaml by itself.)"""
    files = [arg for path in TEMPLATES for arg in ("--file", str(ROOT / path))]
    result = checkov(
        *files,
        *("--framework", "cloudformation", "--skip-download", "--quiet", "--output", "json"),
        cwd=tmp_path,
    )
    reports = json.loads(result.stdout)
    failed = [
        check
        for report in (reports if isinstance(reports, list) else [reports])
        for check in report["results"]["failed_checks"]
    ]
    unexpected = sorted(
        f"{check['check_id']} {check['check_name']}: {check['resource']} ({check['file_path']})"
        for check in failed
        if check["check_id"] not in SKIPPED
    )
    assert unexpected == []
    assert sorted({check["check_id"] for check in failed}) == sorted(SKIPPED), (
        "a skipped check that no longer fails: take it out of .checkov.yaml"
    )


def test_each_skipped_check_gives_its_reason() -> None:
    with_reason = [check for _, check in SKIP_WITH_REASON.findall(CONFIG_PATH.read_text())]
    assert with_reason == SKIPPED, "each `- CKV_...` line under a comment saying why"


def test_cfn_lint_informational_checks_pass() -> None:
    """template.yaml's other rules run in test_sam_validate_lint_is_clean; the bootstrap
    template gets them all here."""
    command = shutil.which("cfn-lint")
    if command is None:
        pytest.fail("cfn-lint is not on PATH: run make install")
    result = subprocess.run(
        [command, "--include-checks", "I", "--", *TEMPLATES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == ""
