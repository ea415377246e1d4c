"""No product module reaches into another module's private names.

Walks the source of every module of the installed package (compare/, manual/, torch_impl/,
jax_impl/) and finds, for each module of ours it imports, every ``_name`` it takes from it:
``from autograd_compare.x import _name`` and ``x._name`` on a module imported as ``x``.
What the report or the teaching tools need from a backend goes through a public name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"compare": "autograd_compare", "manual": "autograd_compare.manual",
            "torch_impl": "autograd_compare.torch_impl", "jax_impl": "autograd_compare.jax_impl"}


NAMEDTUPLE_API = ("_make", "_replace", "_fields", "_asdict", "_field_defaults")  # public API


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__") and name not in NAMEDTUPLE_API


def private_uses(source: str, own: str) -> list[str]:
    """``module._name`` for every private name of another module of ours used in ``source``
    (the module named ``own``)."""
    tree = ast.parse(source)
    modules: dict[str, str] = {}  # local name -> module of ours it is bound to
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("autograd_compare"):
            for alias in node.names:
                if _private(alias.name) and node.module != own:
                    found.append(f"{node.module}.{alias.name}")
                else:  # `from autograd_compare.x import y` may bind the module y
                    modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("autograd_compare") and alias.asname:
                    modules[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in modules and _private(node.attr)
                and modules[node.value.id] != own):
            found.append(f"{modules[node.value.id]}.{node.attr}")
    return sorted(set(found))


def _modules() -> list[tuple[str, Path]]:
    out = []
    for folder, package in PACKAGES.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            name = ".".join((package, *parts)).removesuffix(".__init__")
            out.append((name, path))
    return out


MODULES = _modules()


def test_the_walk_sees_every_product_module():
    names = {name for name, _ in MODULES}
    assert {"autograd_compare.commands.run", "autograd_compare.manual.mlp",
            "autograd_compare.torch_impl.mlp", "autograd_compare.jax_impl.mlp",
            "autograd_compare.tutorial_view"} <= names
    assert len(MODULES) > 70  # 80 product modules after the tutorial kernels went


def test_the_walk_finds_both_forms():
    src = ("from autograd_compare.manual import mlp\n"
           "from autograd_compare.report.plots import _gap, pyplot\n"
           "import autograd_compare.report.landscape as landscape\n"
           "mlp._forward(1); landscape._range(2); mlp.forward(3)\n")
    assert private_uses(src, "autograd_compare.x") == [
        "autograd_compare.manual.mlp._forward", "autograd_compare.report.landscape._range",
        "autograd_compare.report.plots._gap"]


@pytest.mark.parametrize("name,path", MODULES, ids=[name for name, _ in MODULES])
def test_no_module_uses_another_modules_private_names(name, path):
    assert private_uses(path.read_text(encoding="utf-8"), name) == []
