"""The report folder of ``autograd-compare check --out``: report.json, trace.csv, nodes.csv.

trace.csv: one row per (backend, step k = 0..steps): E at the parameters entering step k, the
parameters (flat order, `network.param_names`), and the gradient used by update k (empty in
the last row). Its size is backends × steps × 2P, whatever the number of examples.
nodes.csv: every z and a of every example, one row per (backend, step, example), kept for the
first and the last step only, so it grows with backends × 2 × B, not with steps × B.
"""

from __future__ import annotations

import csv
import io

from autograd_compare.harness.network_check import NetworkCheck
from autograd_compare.network import node_names, param_names

TRACE_CSV, NODES_CSV = "trace.csv", "nodes.csv"


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


def nodes_csv(result: NetworkCheck, batch: int) -> str:
    net = result.network
    cols = [n for l in range(1, net.layers + 1) for kind in ("z", "a")
            for n in node_names(net, kind, l)]
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\n")
    out.writerow(["backend", "step", "example", *cols])
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
                out.writerow([backend, k, b + 1, *map(repr, values)])
    return buf.getvalue()
