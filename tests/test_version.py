"""The version has one source, pyproject.toml, read at run time from the installed metadata."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

import autograd_compare as ac
from autograd_compare.commands.cli import main

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT_VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))[
    "project"]["version"]
PACKAGE_FOLDERS = ("compare", "manual", "torch_impl", "jax_impl")


def test_package_version_is_pyprojects() -> None:
    assert ac.__version__ == PYPROJECT_VERSION


def test_command_line_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"autograd-compare {PYPROJECT_VERSION}"


def test_no_second_version_literal_in_the_package() -> None:
    literal = re.compile(r"""__version__\s*(:\s*str\s*)?=\s*["']\d+\.\d+""")
    offenders = [str(path.relative_to(ROOT)) for folder in PACKAGE_FOLDERS
                 for path in (ROOT / folder).rglob("*.py")
                 if literal.search(path.read_text(encoding="utf-8"))]
    assert offenders == []


def test_changelog_names_this_version() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    release = re.sub(r"\.dev\d+$", "", PYPROJECT_VERSION)
    assert re.search(rf"^## .*\b{re.escape(release)}\b", changelog, re.MULTILINE), release
