"""The report folder of ``autograd-compare check --out``: report.json, trace.csv, nodes.csv.

trace.csv: one row per (backend, step k = 0..steps): E at the parameters entering step k, the
parameters (flat order, `network.param_names`), and the gradient used by update k (empty in
the last row). Its size is backends × steps × 2P, whatever the number of examples.
nodes.csv: the example's inputs and targets (columns named as in the --data CSV's header) and
every z and a of every example, one row per (backend, step, example), kept for the first and the
last step only, so it grows with backends × 2 × B, not with steps × B.

Text from the user (the CSV header's names) is written so that a spreadsheet shows it as text
and never runs it as a formula (`cell`).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import NamedTuple

from autograd_compare.harness.network_check import NetworkCheck
from autograd_compare.network import Data, Network, is_tutorial_shape, node_names, param_names

TRACE_CSV, NODES_CSV = "trace.csv", "nodes.csv"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")  # a spreadsheet reads these as formulas


class DataColumns(NamedTuple):
    """The names of the data's columns: from the --data CSV's header, else the notation's."""

    inputs: tuple[str, ...]  # n_0 names
    targets: tuple[str, ...]  # n_L names
    file: str | None  # the --data file as given, None for a preset's own data


def default_columns(net: Network) -> DataColumns:
    """i1, i2 and t1, t2 for the 2-2-2 presets (the tutorial's notation); x[i], t[j] else
    (as the drawing names them)."""
    if is_tutorial_shape(net):
        return DataColumns(("i1", "i2"), ("t1", "t2"), None)
    return DataColumns(tuple(f"x[{i}]" for i in range(net.sizes[0])),
                       tuple(f"t[{j}]" for j in range(net.sizes[-1])), None)


def header_columns(net: Network, text: str, file: str | None) -> DataColumns:
    """The header row of a data CSV already read by `network.parse_csv` (its first row with a
    non-blank cell); an empty name falls back to the default one."""
    rows = (r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r))
    header = [c.strip() for c in next(rows, [])]
    default = default_columns(net)
    names = [h or d for h, d in zip(header, default.inputs + default.targets, strict=False)]
    if len(names) != len(default.inputs) + len(default.targets):
        return default._replace(file=file)
    n = net.sizes[0]
    return DataColumns(tuple(names[:n]), tuple(names[n:]), file)


def read_columns(net: Network, path: str) -> DataColumns:
    return header_columns(net, Path(path).read_text(encoding="utf-8"), path)


def cell(text: str) -> str:
    """User text for a CSV cell: a leading ``'`` where a spreadsheet would start a formula
    (``=HYPERLINK(...)``, ``+``, ``-``, ``@``, a tab or a line break)."""
    return "'" + text if text.startswith(FORMULA_START) else text


def trace_csv(result: NetworkCheck) -> str:
    names = param_names(result.network)
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["backend", "step", "E", *names, *(f"dE/d{n}" for n in names)])
    for backend, r in result.trajectory.runs.items():
        for k in range(r.weights.shape[0]):
            grads = map(repr, r.grads[k].tolist()) if k < r.grads.shape[0] else [""] * len(names)
            out.writerow([backend, k, repr(float(r.loss[k])), *map(repr, r.weights[k].tolist()),
                          *grads])
    return buf.getvalue()


def nodes_csv(result: NetworkCheck, data: Data, columns: DataColumns | None = None) -> str:
    net = result.network
    batch = data.inputs.shape[0]
    columns = columns or default_columns(net)
    cols = [n for l in range(1, net.layers + 1) for kind in ("z", "a")
            for n in node_names(net, kind, l)]
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["backend", "step", "example", *map(cell, columns.inputs + columns.targets),
                  *cols])
    given = [[repr(float(x)) for x in row] + [repr(float(x)) for x in t]
             for row, t in zip(data.inputs, data.targets, strict=True)]
    for backend, r in result.trajectory.runs.items():
        last = r.nodes.shape[0] - 1
        for k in sorted({0, last}):
            rows = r.nodes[k].reshape(-1)
            # r.nodes[k] is z_1 (B·n_1), a_1, z_2, ... each example-major: regroup per example
            per_layer, at = [], 0
            for n in net.sizes[1:]:
                for _ in ("z", "a"):
                    per_layer.append(rows[at:at + batch * n].reshape(batch, n))
                    at += batch * n
            for b in range(batch):
                values = [float(x) for block in per_layer for x in block[b]]
                out.writerow([backend, k, b + 1, *given[b], *map(repr, values)])
    return buf.getvalue()
