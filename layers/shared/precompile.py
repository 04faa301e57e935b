"""Ship bytecode for the modules a cold start imports (cold-start-modules.txt).

Lambda's /opt is read-only, so Python cannot cache what it compiles there: without bytecode
every cold start compiles each module it imports from the layer, which takes about as long
as importing them. Run by the Makefile with the runtime's Python version:

    python3.13 precompile.py LAYER_PYTHON_DIR MODULE_LIST

- The dependencies' modules are replaced by their bytecode (a sourceless .pyc where the .py
  was, which Python imports as it would the source), so that the layer does not grow: a
  traceback through them names the file and line, without the line's text.
- Our own package keeps its sources, so that its tracebacks show the code; its bytecode goes
  next to them as unchecked-hash .pyc (PEP 552), used whatever mtime the zip gives a file.
"""

from __future__ import annotations

import importlib.util
import py_compile
import sys
from pathlib import Path

RUNTIME = (3, 13)
OWN_PACKAGE = "landbot_resume"


def source_of(root: Path, module: str) -> Path:
    parts = module.split(".")
    for candidate in (
        root.joinpath(*parts, "__init__.py"),
        root.joinpath(*parts[:-1], f"{parts[-1]}.py"),
    ):
        if candidate.is_file():
            return candidate
    raise SystemExit(f"{module}: not in the layer (is cold-start-modules.txt stale?)")


def compile_module(root: Path, module: str) -> None:
    source = source_of(root, module)
    if module.split(".")[0] == OWN_PACKAGE:
        py_compile.compile(
            str(source),
            cfile=importlib.util.cache_from_source(str(source)),
            doraise=True,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
        return
    # dfile: the name tracebacks show is where the module lives in Lambda's /opt/python.
    py_compile.compile(
        str(source),
        cfile=str(source.with_suffix(".pyc")),
        dfile=str(Path("/opt/python") / source.relative_to(root)),
        doraise=True,
    )
    source.unlink()


def main(root: Path, listing: Path) -> int:
    if sys.version_info[:2] != RUNTIME:
        raise SystemExit(
            f"bytecode must be compiled by Python {RUNTIME[0]}.{RUNTIME[1]} (the function"
            f" runtime), not {sys.version.split()[0]}"
        )
    modules = [
        line.strip()
        for line in listing.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for module in modules:
        compile_module(root, module)
    print(f"compiled {len(modules)} modules")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
