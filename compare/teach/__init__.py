"""Teaching tools: the explanation, the SymPy proof, the errata, the spreadsheet.

The public API for notebooks and scripts (the command line's ``explain`` and ``sheet`` use the
same functions)::

    from autograd_compare import teach
    print(teach.render_text(teach.explanation(w, example, lr=0.5, only="w5")))
    print(teach.render_proof(teach.proof()))
    print(teach.list_errata()[0].right)
    teach.write_sheet("backprop.xlsx", w, example, lr=0.5, steps=100)
"""

from __future__ import annotations

import os
from pathlib import Path

from autograd_compare.teach.errata import Erratum
from autograd_compare.teach.errata import errata as list_errata
from autograd_compare.teach.explain import TARGETS, Explanation
from autograd_compare.teach.explain import explain as explanation
from autograd_compare.teach.render import render_json, render_markdown, render_text

# the functions have their own names: the submodules explain, prove, errata, sheet keep theirs


def proof(mistake: str | None = None) -> list:
    """SymPy's verdict on each formula in manual/ (`compare.teach.prove.Verdict` list), or on
    the weight formulas of a deliberate mistake (e.g. "no-sigmoid-derivative")."""
    from autograd_compare.teach import prove as p

    if mistake is None:
        return p.prove()
    from autograd_compare.manual.mistakes import MISTAKES

    if mistake not in MISTAKES:
        from autograd_compare.errors import InputError

        raise InputError(f"unknown mistake {mistake!r}; expected one of {', '.join(MISTAKES)}")
    return p.prove(MISTAKES[mistake].weight_gradients)


def render_proof(verdicts: list) -> str:
    """One line per formula and a summary line."""
    from autograd_compare.teach import prove as p

    return p.render(verdicts)


def write_sheet(path: str | os.PathLike, w, example, lr: float = 0.5, steps: int = 100,
                force: bool = False) -> Path:
    """The course spreadsheet (live formulas with their values) saved to ``path`` (.xlsx)."""
    from autograd_compare.teach import sheet

    return sheet.write(sheet.build(w, example.inputs, example.targets, lr, steps), path, force)


__all__ = ["TARGETS", "Erratum", "Explanation", "explanation", "list_errata", "proof",
           "render_json", "render_markdown", "render_proof", "render_text", "write_sheet"]
