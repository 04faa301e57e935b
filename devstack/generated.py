"""The committed files generated from the code: `make generated` rewrites them, and a test
fails while one is stale."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from devstack import artifacts, openapi
from devstack.template import ROOT

# name -> (the file, what it must hold)
FILES: dict[str, tuple[Path, Callable[[], str]]] = {
    "openapi": (openapi.DOCUMENT, openapi.generate),
    "cold-start-modules": (artifacts.MODULE_LIST, artifacts.module_list_text),
}


def stale(names: list[str] | None = None) -> list[str]:
    """The generated files (of `names`, default all) whose committed text is not current."""
    return [
        name
        for name in names or sorted(FILES)
        if not FILES[name][0].is_file() or FILES[name][0].read_text() != FILES[name][1]()
    ]


def main(names: list[str], *, check: bool = False) -> int:
    """Rewrite the files (or with `check`, only list the stale ones: exit 1 if any)."""
    if check:
        outdated = stale(names)
        for name in outdated:
            print(f"stale: {FILES[name][0].relative_to(ROOT)} (make generated)", file=sys.stderr)
        return 1 if outdated else 0
    for name in names:
        path, text = FILES[name]
        path.write_text(text())
        print(f"wrote {path.relative_to(ROOT)}")
    return 0
