"""One version: pyproject.toml's. The CLI reports it, the template publishes it, the
changelog's newest release is it."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest

from devstack.template import ROOT, load_template
from landbot_resume.cli import main

PROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))[
    "project"
]
VERSION: str = PROJECT["version"]
APPLICATION: dict[str, Any] = load_template(ROOT / "template.yaml")["Metadata"][
    "AWS::ServerlessRepo::Application"
]
# The Serverless Application Repository's own constraints, checked only when publishing.
SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?")
APPLICATION_NAME = re.compile(r"[a-zA-Z0-9-]{1,140}")
AUTHOR = re.compile(r"[a-z0-9](([a-z0-9]|-(?!-))*[a-z0-9])?")
LABEL = re.compile(r"[a-zA-Z0-9+\-_:/@]{1,127}")
# Keep a Changelog: "## [Unreleased]" first, then "## [1.2.3] - 2026-12-02", newest first.
RELEASE_HEADING = re.compile(r"^## \[([^\]]+)\](?: - (\d{4}-\d{2}-\d{2}))?$", re.MULTILINE)


def test_the_version_is_semantic() -> None:
    assert SEMVER.fullmatch(VERSION), VERSION


def test_the_template_publishes_the_projects_version() -> None:
    assert APPLICATION["SemanticVersion"] == VERSION, (
        "template.yaml Metadata SemanticVersion must be pyproject.toml's version"
    )


def test_the_cli_reports_the_projects_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"landbot-resume {VERSION}\n"


def test_the_changelogs_newest_release_is_the_version() -> None:
    headings = RELEASE_HEADING.findall((ROOT / "CHANGELOG.md").read_text(encoding="utf-8"))
    assert headings, "CHANGELOG.md has no '## [version] - date' headings"
    assert headings[0] == ("Unreleased", "")
    releases = headings[1:]
    assert releases, "CHANGELOG.md has no release"
    assert releases[0][0] == VERSION
    assert all(date for _, date in releases), "every release has its date"
    dates = [date for _, date in releases]
    assert dates == sorted(dates, reverse=True), "releases newest first"


def test_the_application_can_be_published() -> None:
    assert APPLICATION_NAME.fullmatch(APPLICATION["Name"])
    assert APPLICATION["Name"] == PROJECT["name"]
    assert AUTHOR.fullmatch(APPLICATION["Author"])
    assert APPLICATION["Description"] == PROJECT["description"]
    assert 1 <= len(APPLICATION["Description"]) <= 256
    assert APPLICATION["SpdxLicenseId"] == PROJECT["license"]
    assert (ROOT / APPLICATION["LicenseUrl"]).is_file()
    assert (ROOT / APPLICATION["ReadmeUrl"]).is_file()
    labels = APPLICATION.get("Labels", [])
    assert len(labels) <= 10
    assert all(LABEL.fullmatch(label) for label in labels), labels
