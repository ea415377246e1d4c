"""One installed import package, autograd_compare: no generic top-level names, no shadowing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Prints the top-level import names the installed distribution puts on sys.path.
LIST_NAMES = r"""
import importlib.metadata as md, json, re
files = md.distribution("autograd-compare").files
names, mapped = set(), []
for f in files:
    top = f.parts[0]
    if top.endswith((".dist-info", ".egg-info")) or top in ("..", "__pycache__"):
        continue  # metadata, bytecode and console scripts (../../bin/autograd-compare)
    names.add(top)
    if top.startswith("__editable___") and top.endswith("_finder.py"):
        text = f.locate().read_text()
        mapped = sorted(eval(re.search(r"MAPPING[^=]*=\s*(\{.*?\})", text).group(1)))
print(json.dumps({"names": sorted(names), "mapped": mapped}))
"""


def test_only_autograd_compare_is_installed(tmp_path):
    out = subprocess.run([sys.executable, "-c", LIST_NAMES], cwd=tmp_path, capture_output=True,
                         text=True, check=True)
    found = json.loads(out.stdout)
    editable = {n for n in found["names"] if n.startswith("__editable__")}
    assert set(found["names"]) - editable <= {"autograd_compare"}, found
    if editable:  # pip install -e: setuptools' finder maps the folders, all under one name
        assert found["mapped"] and all(m == "autograd_compare"
                                       or m.startswith("autograd_compare.")
                                       for m in found["mapped"]), found
    else:
        assert found["names"] == ["autograd_compare"], found


@pytest.mark.parametrize("command", [
    ["autograd-compare"],
    [sys.executable, "-m", "autograd_compare"],
    [sys.executable, "-c", "import sys, autograd_compare.commands.cli as c; sys.exit(c.main())"],
])
def test_a_users_compare_py_does_not_shadow_the_tool(command, tmp_path):
    for name in ("compare", "manual", "torch_impl", "jax_impl"):
        (tmp_path / f"{name}.py").write_text("print('USER FILE'); raise SystemExit(0)\n")
    if command == ["autograd-compare"]:
        command = [os.path.join(os.path.dirname(sys.executable), "autograd-compare")]
    done = subprocess.run(command + ["--backends", "manual", "--lrs", "1", "--steps", "2",
                                     "--out", "rep"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "USER FILE" not in done.stdout + done.stderr
    assert (tmp_path / "rep" / "report.json").is_file()


def test_the_package_comes_from_its_folders():
    import autograd_compare as ac
    import autograd_compare.jax_impl as jx
    import autograd_compare.manual as manual
    import autograd_compare.torch_impl as th

    for module, folder in ((ac, "compare"), (manual, "manual"), (th, "torch_impl"),
                           (jx, "jax_impl")):
        path = Path(module.__file__)
        # editable: the repository's folder; installed: site-packages/autograd_compare/...
        assert path.parent.name in (folder, module.__name__.split(".")[-1]), path
