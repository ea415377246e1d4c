"""naming.py is the one module that spells quantity names, one name per meaning."""

from __future__ import annotations

import ast
from pathlib import Path

from autograd_compare import naming

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [p for folder in ("compare", "manual", "torch_impl", "jax_impl")
           for p in sorted((ROOT / folder).rglob("*.py")) if p.name != "naming.py"]
QUANTITIES = set(naming.FORWARD_NAMES + naming.WEIGHT_GRAD_NAMES + naming.WEIGHT_NAMES
                 + naming.INPUT_NAMES + naming.TARGET_NAMES)


def _name_tuples(tree: ast.Module) -> list[int]:
    """Lines of module constants that spell out two or more quantity names (``NODES = (...)``).

    Equations (a node and its operands) name quantities too, but as structure, not as a list.
    """
    lines = []
    for stmt in tree.body:
        value = stmt.value if isinstance(stmt, (ast.Assign, ast.AnnAssign)) else None
        if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) >= 2 and all(
                isinstance(e, ast.Constant) and e.value in QUANTITIES for e in value.elts):
            lines.append(stmt.lineno)
    return lines


def test_only_naming_spells_lists_of_quantity_names():
    found = {str(p.relative_to(ROOT)): lines for p in SOURCES
             if (lines := _name_tuples(ast.parse(p.read_text(encoding="utf-8"))))}
    assert found == {}


def test_the_check_finds_a_spelled_out_tuple():
    assert _name_tuples(ast.parse('NODES = ("h1", "h2", "a_h1")')) == [1]
    assert _name_tuples(ast.parse('x = ("h1", "something else")')) == []


def test_one_name_per_meaning():
    tuples = {n: v for n, v in vars(naming).items() if n.isupper() and isinstance(v, tuple)}
    assert not {"NODES", "GRADS", "WEIGHTS", "QUANTITIES"} & set(tuples)
    assert naming.NODE_NAMES == naming.FORWARD_NAMES[:8]
    assert sorted(naming.NODE_NAMES_BACKWARD) == sorted(naming.NODE_NAMES)
    assert sorted(naming.FORWARD_NAMES_BY_NEURON) == sorted(naming.FORWARD_NAMES)
    assert len(QUANTITIES) == 27 + 4  # 11 forward values, 8 gradients, 8 weights; i1..t2
    assert naming.WEIGHT_GRAD_NAMES[4] == "dw5"
