"""The tutorial's errata: each typo, the corrected form, and the check that proves it.

The checks are worked out here at any weights and example (the class example by default), with
the hand formulas of `manual/` (which `explain --prove` proves equal to SymPy's derivatives).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from autograd_compare.interface import CLASS_INPUTS, CLASS_TARGETS, CLASS_WEIGHTS, Example
from autograd_compare.manual.network import forward_values


class Erratum(NamedTuple):
    where: str  # the tutorial's section
    wrong: str  # as the tutorial writes it
    right: str  # the corrected form
    check: str  # what proves the corrected form (numbers at the given weights, or the proof)


def errata(w=CLASS_WEIGHTS, example: Example | None = None) -> list[Erratum]:
    """The list, with the numbers of each check worked out at ``w`` and ``example``."""
    example = example or Example(np.array(CLASS_INPUTS), np.array(CLASS_TARGETS))
    w = np.asarray(w, np.float64)
    v = forward_values(w, example)
    t1, t2 = np.asarray(example.targets, np.float64)
    d1 = float((v["a_o1"] - t1) * v["a_o1"] * (1 - v["a_o1"]))  # ∂E1/∂o1
    d2 = float((v["a_o2"] - t2) * v["a_o2"] * (1 - v["a_o2"]))  # ∂E2/∂o2
    w5, w6, w7 = w[4], w[5], w[6]
    right = d1 * w5 + d2 * w7
    typo = d1 * w5 + d1 * w6
    e1_only = d1 * w5
    f = lambda x: f"{x:.10g}"  # noqa: E731
    return [
        Erratum("Input layer weights, first bullet and 'So the equation ... becomes'",
                "∂E_total/∂a_h1 = ∂E_1/∂a_h1 + ∂E_1/∂a_h2",
                "∂E_total/∂a_h1 = ∂E_1/∂a_h1 + ∂E_2/∂a_h1",
                f"a_h1 reaches E_total through o1 and o2. The corrected sum is {f(right)} at "
                f"these weights, equal to PyTorch's and JAX's ∂E_total/∂a_h1 (explain "
                f"--weight a_h1) and proved by SymPy (explain --prove --weight a_h1); the "
                f"typo's sum is {f(typo)}, off by {abs(typo - right) / abs(right):.0%}. The "
                "tutorial's next formula already uses the corrected form."),
        Erratum("Input layer weights, second bullet",
                "∂E_total/∂a_h1 = ∂E_1/∂a_h1 = ∂E_1/∂a_o1*∂a_o1/∂o_1*∂o_1/∂a_h1",
                "∂E_1/∂a_h1 = ∂E_1/∂a_o1 * ∂a_o1/∂o1 * ∂o1/∂a_h1 (one of the two terms of "
                "∂E_total/∂a_h1; the other is ∂E_2/∂a_h1)",
                f"∂E_1/∂a_h1 = {f(e1_only)} but ∂E_total/∂a_h1 = {f(right)}: they differ by "
                f"∂E_2/∂a_h1 = {f(d2 * w7)}, so 'E_total = E_1' holds for w5..w8 only."),
        Erratum("Hidden weights, 'Bringing all three components together'",
                "∂E_total/∂w_5 = (a_0_1 - t_1) * a_o_1 * (1 - a_o_1) * a_h_1",
                "∂E_total/∂w5 = (a_o1 - t1) * a_o1 * (1 - a_o1) * a_h1 (the letter o, not zero)",
                f"∂E1/∂a_o1 = a_o1 - t1 = {f(v['a_o1'] - example.targets[0])}; the formula "
                "with a_o1 is the one SymPy proves (explain --prove --weight w5)."),
        Erratum("Input layer weights, 'Similary ∂E_2/∂a_h1'",
                "∂E_2/∂a_h1 = (a_0_2 - t_2) * a_o_2 * (1 - a_o_2) * w_7",
                "∂E_2/∂a_h1 = (a_o2 - t2) * a_o2 * (1 - a_o2) * w7",
                f"= {f(d2 * w7)} at these weights, the second term of ∂E_total/∂a_h1 above."),
        Erratum("The equations of the network", "o_1 = w_5*a_h1 + w6*a_h2",
                "o1 = w5*a_h1 + w6*a_h2 (w_6 with its subscript, like the others)",
                f"notation only: o1 = {f(v['o1'])} with w6 = {f(w6)}."),
        Erratum("Heading 'Hidden weights (w5, w6, w7 and w8)'",
                "Hidden weights (w_5, w_6, w_7 and w_8)",
                "Output-layer weights (w5..w8 connect the hidden layer to the outputs); "
                "w1..w4 connect the inputs to the hidden layer",
                "o1 = w5*a_h1 + w6*a_h2 and o2 = w7*a_h1 + w8*a_h2: w5..w8 multiply the "
                "hidden activations into the output neurons."),
        Erratum("Python Notebook, 'The code first initializes the weights ... randomly'",
                "initializes the weights of the network randomly",
                "starts from fixed weights w1..w8 = 0.15, 0.2, 0.25, 0.3, 0.4, 0.45, 0.5, 0.55 "
                "(the sweep keeps 'initial weights etc. constant')",
                "every learning rate's curve starts at the same E_total = "
                f"{f(forward_values(np.array(CLASS_WEIGHTS), example)['E_total'])}; random "
                "starts are what `autograd-compare restarts` studies."),
        Erratum("Effect of Learning rate, last bullet",
                "almost close to 0 after about 25 iterations (lr 2.0), about 60 (lr 1.0), "
                "about 80 (lr 0.8)",
                "below 1 % of the start after 36 (lr 2.0), 72 (lr 1.0) and 91 (lr 0.8) "
                "iterations; below 0.1 % after 53, 108 and 135",
                "measured by the main job (report.json 'claims', class example, float64, every "
                "backend identical); at the stated iterations E_total is still 4.0 %, 2.2 % "
                "and 1.7 % of its start."),
        Erratum("Spelling, throughout",
                "propogation, conencted, exampple, Similariy, Similary, thr, descend (noun), "
                "the the",
                "propagation, connected, example, Similarly, Similarly, the, descent, the",
                "spelling only."),
    ]


def render_text(items: list[Erratum]) -> str:
    return _render(f"Errata: {len(items)} places where the tutorial's text is wrong "
                   "(the formulas in manual/ use the corrected forms)", items,
                   "tutorial:  ", "corrected: ")


def _render(title: str, items: list[Erratum], wrong: str, right: str) -> str:
    """``title``, then each erratum numbered: where, ``wrong`` and ``right`` labels, check."""
    out = [title]
    for n, e in enumerate(items, start=1):
        out += ["", f"{n}. {e.where}", f"   {wrong}{e.wrong}", f"   {right}{e.right}",
                f"   check:     {e.check}"]
    return "\n".join(out)


def render_markdown(items: list[Erratum]) -> str:
    out = ["| # | where | the tutorial writes | corrected | check |", "|---|---|---|---|---|"]
    cell = lambda s: s.replace("|", "\\|")  # noqa: E731
    out += [f"| {n} | {cell(e.where)} | `{cell(e.wrong)}` | `{cell(e.right)}` | {cell(e.check)} |"
            for n, e in enumerate(items, start=1)]
    return "\n".join(out)


# --- Matt Mazur's "A Step by Step Backpropagation Example" (2015), ``--preset mazur`` ----------
MAZUR_PRINTED = {  # his figures, as printed, that differ from the exact values
    "E_total after 1 step": 0.291027924,
    "E_total after 10000 steps": 0.0000351085,
    "out_o1 after 10000 steps": 0.015912196,
    "out_o2 after 10000 steps": 0.984065734,
}


def mazur_errata() -> list[Erratum]:
    """Where Mazur's printed figures differ from the exact values (worked out here in float64
    with the manual backend, which tests/golden_networks.py checks against 50-digit mpmath).
    His one-step figures (E_total, the gradients, w1+ .. w8+) are all right to his digits;
    explain --preset mazur shows them."""
    from autograd_compare import network
    from autograd_compare.manual import mlp

    p = network.preset("mazur")
    one = mlp.train(p.network, p.weights, p.data, lr=p.lr, steps=1)
    e1 = float(mlp.forward(p.network, one.weights[-1], p.data).E)
    # the error at his printed (rounded) new weights: the rounding does not explain it
    printed_w = np.array([0.149780716, 0.19956143, 0.24975114, 0.29950229,
                          0.35891648, 0.408666186, 0.511301270, 0.561370121])
    e_printed = float(mlp.forward(p.network, printed_w, p.data).E)
    long = mlp.train(p.network, p.weights, p.data, lr=p.lr, steps=10_000)
    end = mlp.forward(p.network, long.weights[-1], p.data)
    e_end = float(end.E)
    o1, o2 = (float(x) for x in end.a[-1][0])
    f = lambda x: f"{x:.10g}"  # noqa: E731
    pr = MAZUR_PRINTED
    return [
        Erratum("The Backwards Pass, end: 'the total error is now down to 0.291027924'",
                f"E_total after the first update = {pr['E_total after 1 step']}",
                f"E_total after the first update = {f(e1)}",
                f"his new weights w1+ .. w8+ are all exact to his digits, and E_total at his "
                f"printed (rounded) new weights is {f(e_printed)}, the exact value too: his "
                f"figure is {pr['E_total after 1 step'] - e1:.2g} higher and does not come "
                "from rounding (biases frozen, as his text says, lr 0.5)."),
        Erratum("The Backwards Pass, end: 'after repeating this process 10,000 times ... "
                "the error plummets to 0.0000351085'",
                f"E_total after 10,000 updates = {pr['E_total after 10000 steps']}",
                f"E_total after 10,000 updates = {f(e_end)}",
                f"10,000 updates at lr 0.5 from his start (manual backend, float64; 50-digit "
                f"mpmath agrees); his figure is "
                f"{(pr['E_total after 10000 steps'] - e_end) / e_end:.2%} higher."),
        Erratum("The Backwards Pass, end: 'the two outputs neurons generate 0.015912196 "
                "(vs 0.01 target) and 0.984065734 (vs 0.99 target)'",
                f"out_o1, out_o2 after 10,000 updates = {pr['out_o1 after 10000 steps']}, "
                f"{pr['out_o2 after 10000 steps']}",
                f"out_o1, out_o2 after 10,000 updates = {f(o1)}, {f(o2)}",
                f"the same run; his figures are off by "
                f"{abs(pr['out_o1 after 10000 steps'] - o1):.1e} and "
                f"{abs(pr['out_o2 after 10000 steps'] - o2):.1e}."),
    ]


def render_mazur_text(items: list[Erratum]) -> str:
    return _render(f"Errata: {len(items)} places where Mazur's printed figures differ from the "
                   "exact values (every other figure of his walkthrough agrees to his digits)",
                   items, "printed:   ", "exact:     ")
