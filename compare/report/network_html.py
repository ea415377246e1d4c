"""report.html of ``autograd-compare check --out``: any network.

Self-contained like the main job's (`report.html`, whose public helpers build it): the pictures
already in the folder embedded as data URIs, the CSS inline, no script at all (so it reads the
same with JavaScript off), nothing fetched. Every text that comes from the user (the data CSV's
header names, file and folder paths, the preset's label) is HTML-escaped: `html.table` escapes
its header, every cell is escaped here, and `html.page` escapes the title and the verdict.

Built from the named results (`harness.optim_check.Sweep`), not from report.json's dict.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from autograd_compare.network import Data, Network, param_names
from autograd_compare.report import drawing, html, landscape, plots
from autograd_compare.report.network_output import DataColumns

if TYPE_CHECKING:
    from autograd_compare.harness.network_check import GradCheck, GradRow

FILE = html.FILE
MAX_GRAD_ROWS = 400  # gradient-check rows shown (every parameter first, then node rows)
MAX_EXAMPLES = 10  # data rows shown
CAPTIONS = {
    drawing.PNG_FILE: "The network at the first and the last step (reference backend): every "
                      "weight with ∂E/∂w, every neuron with its values and gradients "
                      "(first example).",
    drawing.SVG_FILE: "The network (SVG).",
    plots.ALL_LRS_FILE: "The loss after k updates, every learning rate (colour) and backend "
                        "(line style).",
    plots.DIFF_FILE: "Per update: each backend's largest difference from the reference (loss, "
                     "gradients, optimizer state, parameters), and that difference over its "
                     "tolerance (fail above 1).",
    landscape.FILE: "E over the plane through the start and the ends of training; every "
                    "path projected onto it.",
}
LOSS_LR_CAPTION = "The loss after k updates at this learning rate, every backend."


def _num(x: float, digits: int = 12) -> str:
    x = float(x)
    return f"{x:.{digits}g}" if math.isfinite(x) else str(x)


def _short(x: float) -> str:
    return _num(x, 3)


def figures(folder: Path, names: Sequence[str]) -> str:
    """Every picture of ``names`` in ``folder``, embedded, with this report's captions."""
    return html.figures(folder, names, lambda name: CAPTIONS.get(
        name, LOSS_LR_CAPTION if name.startswith("loss-lr-") else name),
        '<p class="note">No pictures (--no-plots, or matplotlib is not installed).</p>')


def _grad_rows(net: Network, rows: Sequence[GradRow]) -> list[GradRow]:
    """Every parameter row, then the node rows (both in backward order), at most
    `MAX_GRAD_ROWS`."""
    names = {f"dE/d{n}" for n in param_names(net)}
    params = [r for r in rows if r.quantity in names]
    nodes = [r for r in rows if r.quantity not in names]
    return (params + nodes)[:MAX_GRAD_ROWS]


def gradcheck_section(net: Network, g: GradCheck) -> str:
    names = list(g.largest)
    shown = _grad_rows(net, g.rows)
    rows = []
    for r in shown:
        ok = r.fd_ok and all(e <= r.tolerance for e in r.errors.values())
        rows.append([escape(r.quantity), _num(r.complex_step),
                     _short(abs(r.finite_difference - r.complex_step)), _short(r.tolerance)]
                    + [_short(r.errors[n]) for n in names] + ["ok" if ok else "WRONG"])
    rest = len(g.rows) - len(shown)
    note = (f'<p class="note">{len(shown)} of {len(g.rows)} rows shown (every parameter first); '
            "report.json has the largest error of every backend.</p>" if rest else "")
    largest = ", ".join(f"{escape(n)} {_short(v)}" for n, v in g.largest.items())
    body = (f"<p>{len(g.rows)} gradients (every parameter, every node of every example) against "
            "the complex step; the central difference checks that reference. Largest "
            f"|error|/tolerance: {largest}.</p>" + note
            + html.table(["gradient", "complex step", "|FD - CS|", "tolerance",
                          *(f"{n} |error|" for n in names), "verdict"], rows,
                         table_id="gradcheck-table"))
    return html.section("Gradient check at the start", body, "gradcheck")


def data_section(data: Data, columns: DataColumns) -> str:
    x, t = np.asarray(data.inputs, np.float64), np.asarray(data.targets, np.float64)
    rows = [[str(b + 1), *(_num(v) for v in x[b]), *(_num(v) for v in t[b])]
            for b in range(min(MAX_EXAMPLES, x.shape[0]))]
    more = x.shape[0] - len(rows)
    where = (f"from <code>{escape(columns.file)}</code>" if columns.file is not None
             else "the preset's own")
    body = (f"<p>{x.shape[0]} example{'s' if x.shape[0] != 1 else ''}, {where}: inputs "
            f"{escape(', '.join(columns.inputs))}; targets {escape(', '.join(columns.targets))}."
            + (f" The first {len(rows)} are shown." if more else "") + "</p>"
            + html.table(["example", *columns.inputs, *columns.targets], rows,
                         table_id="data-table"))
    return html.section("Data", body, "data")


def frozen_biases(values: Sequence[Sequence[float]]) -> str:
    """Mazur's notation: ``b1 = 0.35, b2 = 0.6`` (one shared per layer), else per neuron."""
    return ", ".join(f"b{l + 1} = {v[0]:g}" if len(set(v)) == 1
                     else f"b{l + 1} = ({', '.join(f'{x:g}' for x in v)})"
                     for l, v in enumerate(values))
