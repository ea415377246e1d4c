"""Run mypy on the package as it is installed: ``python tools/typecheck.py [mypy options]``.

The import package ``autograd_compare`` is assembled by setuptools from several repository
folders (``[tool.setuptools.package-dir]`` in pyproject.toml), which mypy cannot map by itself.
This script lays the same package out as symlinks under ``build/typecheck/``, runs
``mypy -p autograd_compare`` there with pyproject's ``[tool.mypy]`` settings, and prints every
message with the repository path (``compare/interface.py``, ``manual/mlp.py``), so the
errors point at the files to edit. Exit code: mypy's (0 clean, 1 errors, 2 usage).
"""

from __future__ import annotations

import os
import shutil
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / "build" / "typecheck"
SKIP = {"__pycache__"}


def package_dirs() -> dict[str, str]:
    """Import package -> repository folder, from pyproject.toml (the one source)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return dict(config["tool"]["setuptools"]["package-dir"])


def build_tree(mapping: dict[str, str]) -> str:
    """Symlink every mapped folder into place under TREE; return the top package's name."""
    if TREE.exists():
        shutil.rmtree(TREE)
    top = min(mapping, key=lambda name: name.count("."))
    for package in sorted(mapping, key=lambda name: name.count(".")):
        target = TREE.joinpath(*package.split("."))
        target.mkdir(parents=True, exist_ok=True)
        for entry in sorted((ROOT / mapping[package]).iterdir()):
            link = target / entry.name
            if entry.name not in SKIP and not link.exists():
                link.symlink_to(entry)
    return top


def to_repository_path(line: str, mapping: dict[str, str]) -> str:
    """``autograd_compare/manual/x.py:3: ...`` -> ``manual/x.py:3: ...`` (longest prefix first)."""
    for package in sorted(mapping, key=lambda name: -name.count(".")):
        prefix = package.replace(".", "/") + "/"
        if line.startswith(prefix):
            return mapping[package].rstrip("/") + "/" + line[len(prefix):]
    return line


def main(argv: list[str]) -> int:
    from mypy import api

    mapping = package_dirs()
    top = build_tree(mapping)
    os.environ["MYPYPATH"] = str(TREE)
    cwd = os.getcwd()
    os.chdir(TREE)  # mypy prints paths relative to the working folder
    try:
        out, err, code = api.run(["--config-file", str(ROOT / "pyproject.toml"),
                                  "--cache-dir", str(ROOT / "build" / "mypy-cache"),
                                  *argv, "-p", top])
    finally:
        os.chdir(cwd)
    for line in out.splitlines():
        print(to_repository_path(line, mapping))
    sys.stderr.write(err)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
