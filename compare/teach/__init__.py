"""Teaching tools: the explanation, the SymPy proof, the errata, the spreadsheet.

The public API for notebooks and scripts (the command line's ``explain`` and ``sheet`` use the
same functions)::

    from autograd_compare import teach
    print(teach.render_text(teach.explanation(w, example, lr=0.5, only="w5")))
    print(teach.render_proof(teach.proof()))
    print(teach.list_errata()[0].right)
    teach.write_sheet("backprop.xlsx", w, example, lr=0.5, steps=100)
    print(teach.explain_text(preset="mazur", only="w1"))       # any network, as the CLI does
    print(teach.explain_text(preset="iris", example=3))
    print(teach.explain_text(optimizer="adam", only="w5", steps=3))
    curves = teach.loss_curves("xor", steps=500)                 # kind -> E per update
"""

from __future__ import annotations

import os
from pathlib import Path

from autograd_compare.teach.curves import Curves, loss_curves
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


def explain_text(preset: str | None = None, *, only: str | None = None, example: int = 1,
                 optimizer: str | None = None, steps: int = 3, lr: float | None = None,
                 **settings) -> str:
    """What ``autograd-compare explain`` prints for a preset (default the tutorial): the
    tutorial's notation for the 2-2-2 presets, the δ recursion for the others, or with
    ``optimizer`` one weight's updates (``settings``: momentum, weight_decay, betas, ...)."""
    from autograd_compare import network
    from autograd_compare import optimizers as optim
    from autograd_compare.interface import Example
    from autograd_compare.teach import layers, updates
    from autograd_compare.teach.explain import explain_network, is_two_two_two

    p = network.preset(preset or "tutorial")
    rate = p.lr if lr is None else lr
    if optimizer is not None:
        if p.name != "tutorial":
            from autograd_compare.errors import InputError

            raise InputError("explain_text(optimizer=...) shows the tutorial network")
        ex = Example(p.data.inputs[0], p.data.targets[0])
        opt = optim.make(optimizer, lr=rate, **settings)
        return updates.render_updates(updates.explain_updates(p.weights, ex, opt, only or "w5",
                                                              steps))
    if is_two_two_two(p.network) and p.data.inputs.shape[0] == 1:
        ex = Example(p.data.inputs[0], p.data.targets[0])
        return render_text(explain_network(p.network, p.weights, ex, rate, only))
    return layers.render_layers(layers.explain_layers(p.network, p.weights, p.data, example,
                                                      source=f"preset {p.name}"))


__all__ = ["TARGETS", "Curves", "Erratum", "Explanation", "explain_text", "explanation",
           "list_errata", "loss_curves", "proof", "render_json", "render_markdown",
           "render_proof", "render_text", "write_sheet"]
