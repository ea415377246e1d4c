"""The report folder of the main job on any network with any optimizer
(`harness.optim_check.Sweep`): the tutorial main job's files, plus nodes.csv.

* trace.csv, one row per (lr, backend, step k = 0..steps): the state after k updates. The
  parameters w[k]; the loss at w[k] (E_total in the tutorial's notation, else E: the last row
  is the loss after the last update); the gradient at w[k] (what update k+1 uses: empty on the
  last row); the optimizer's state after k updates (empty on row 0; Adam adds m_hat, v_hat
  in float64). A backend without a quantity (PyTorch's v beside textbook momentum's u) leaves
  it empty. Names from `naming` (w5, dw5, v5; W2[0,1], dW2[0,1], v_W2[0,1]).
* nodes.csv: every z and a of every example at step 0 and after the last update, per rate and
  backend (each backend's own forward pass; a ``mistake:`` update rule's is manual's).
* loss-lr-<lr>.png per rate (up to `budget.MAX_LR_PLOTS`), loss-all-lrs.png, differences.png
  (`plots.draw`, as the main job's), network.svg/.png (`drawing.panel`) and landscape.png
  (`landscape.network_figure`), report.html (`html`: self-contained, every text escaped).
"""

from __future__ import annotations

import csv
import json
import textwrap
from collections.abc import Iterator, Sequence
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from autograd_compare import budget, naming, registry
from autograd_compare.backend import is_plain
from autograd_compare.harness.optim_check import (
    Comparison,
    Divergence,
    Largest,
    Separation,
    Sweep,
    TrajectoryCheck,
    counterpart,
)
from autograd_compare.network import TUTORIAL, describe, loss_name, node_names, param_names
from autograd_compare.network import to_dict as network_dict
from autograd_compare.optimizers import ADAM_KINDS, Optimizer
from autograd_compare.report import claims as claims_mod
from autograd_compare.report import drawing, extras, html, landscape, plots
from autograd_compare.report.network_output import DataColumns, cell, default_columns
from autograd_compare.report.output import CSV_NAME, JSON_NAME, csv_text, head
from autograd_compare.types import Trajectory

NODES_CSV = "nodes.csv"


# --- report.json -----------------------------------------------------------------------------
def optimizer_dict(opt: Optimizer) -> dict[str, Any]:
    """Every setting of ``opt`` (the learning rate is per rate of the sweep: not here)."""
    return {"kind": opt.kind, "describe": describe_optimizer(opt), "momentum": opt.momentum,
            "dampening": opt.dampening, "weight_decay": opt.weight_decay, "l2": opt.l2,
            "betas": list(opt.betas), "eps": opt.eps, "lr_change": None if opt.lr_change is None
            else {"after_update": opt.lr_change[0], "lr": opt.lr_change[1]},
            **({"frozen": list(opt.frozen)} if opt.frozen else {}),
            **({"decay_biases": opt.decay_biases} if opt.decay_biases is not None else {})}


def describe_optimizer(opt: Optimizer) -> str:
    """``opt.describe()`` without its learning rate: "adam(betas=(0.9, 0.999), eps=1e-08)"."""
    return opt.describe().replace(f"lr={opt.lr:g}, ", "", 1).replace(f"(lr={opt.lr:g})", "")


def _divergence(d: Divergence | None) -> dict[str, Any] | None:
    return None if d is None else d._asdict()


def _largest(d: Largest) -> dict[str, Any]:
    return {"backend": d.backend, "abs": d.abs, "ratio": d.ratio, "where": d.label}


def _comparison(c: Comparison | None) -> dict[str, Any] | None:
    return None if c is None else {"largest": _largest(c.largest),
                                   "first_divergence": _divergence(c.first_divergence)}


def _separation(s: Separation | None) -> dict[str, Any] | None:
    return None if s is None else {"step": s.step, "label": s.label, "explained": s.explained,
                                   "growth": s.growth, "own_steps": _comparison(s.own_steps)}


def claims(sw: Sweep) -> tuple[claims_mod.Claim, ...]:
    """The tutorial's claims about its sweep, checked on the reference's E_total at steps
    0..S (the tutorial's network and one example, plain gradient descent), else none."""
    if sw.network != TUTORIAL or sw.data.inputs.shape[0] != 1 or not is_plain(sw.optimizer):
        return ()
    return tuple(claims_mod.check(r.optimizer.lr, np.append(
        r.runs[r.reference].loss.astype(np.float64), r.final_loss[r.reference]))
        for r in sw.rates)


def backend_verdict(r: TrajectoryCheck, name: str) -> str:
    """What one backend's checks at one rate say, in one line (the text table, report.json,
    report.html)."""
    if name == r.reference:
        return "(reference)"
    first, sep = r.failed(name), r.separations.get(name)
    if first is None and sep is not None:
        return (f"agrees at every step; the whole runs separate from step {sep.step} by "
                f"amplified rounding (x{sep.growth:.3g} per step)")
    if first is None:
        return "agrees"
    text = f"DIVERGES at {first.label}: {first.value:.17g} vs {first.reference:.17g}"
    if first.check == "step":
        return text + " (one update from the reference's state)"
    if first.check == "own-step" and sep is not None:
        return (text + f" (its own run, one update from its own state; the whole runs "
                f"separate from step {sep.step}, and every update from the reference's state "
                "agrees: what is carried from step to step differs)")
    return text


def as_dict(sw: Sweep, columns: DataColumns | None = None, report_dir: str | None = None,
            files: Sequence[str] = ()) -> dict[str, Any]:
    """report.json (and the --json output); ``columns`` default to the notation's names."""
    columns = default_columns(sw.network) if columns is None else columns
    g = sw.gradcheck
    return {
        **head(sw.ok), "source": sw.source,
        "network": network_dict(sw.network), "examples": int(sw.data.inputs.shape[0]),
        "data": {"file": columns.file, "inputs": list(columns.inputs),
                 "targets": list(columns.targets)},
        "start": np.asarray(sw.start, np.float64).tolist(),
        "parameters": list(param_names(sw.network)), "optimizer": optimizer_dict(sw.optimizer),
        "lrs": [r.optimizer.lr for r in sw.rates], "steps": sw.steps,
        "dtype": sw.data.inputs.dtype.name, "backends": list(sw.backends),
        "reference": sw.rates[0].reference, "first_divergence": sw.first_divergence,
        "undetected_mistakes": list(sw.undetected),
        "gradcheck": {"ok": g.ok, "rows": len(g.rows), "first_failure": g.first_failure,
                      "largest_error_over_tolerance": g.largest},
        "per_lr": [{"lr": r.optimizer.lr, "ok": r.ok,
                    "first_divergence": _divergence(r.first_divergence),
                    "largest": _largest(r.largest),
                    "backends": {name: {"verdict": backend_verdict(r, name),
                                        "largest": _largest(r.decisive(name).largest),
                                        "first_divergence": _divergence(r.failed(name)),
                                        "compared": len(c.columns),
                                        "step_check": _comparison(r.steps.get(name)),
                                        "trajectory": _comparison(c),
                                        "separation": _separation(r.separations.get(name))}
                                 for name, c in r.comparisons.items()},
                    "final_loss": r.final_loss}  # E after the last update
                   for r in sw.rates],
        **({"notes": list(sw.notes)} if sw.notes else {}),
        **({"diagnosis": [{"backend": d.backend, "seen": d.seen,
                           "mistakes": [s._asdict() for s in d.suspects]}
                          for d in sw.diagnoses]} if sw.diagnoses else {}),
        "report_dir": report_dir, "files": list(files),
        **({"claims": [claims_mod.as_dict(c) for c in found]} if (found := claims(sw)) else {})}


# --- trace.csv -------------------------------------------------------------------------------
def _state_columns(opt: Optimizer, params: tuple[str, ...]) -> tuple[str, ...]:
    names = naming.optimizer_state_names(opt.kind, params)
    if opt.kind in ADAM_KINDS:
        names = (*names, *naming.bias_corrected_names(params))
    return names


def _state_values(opt: Optimizer, run: Trajectory, P: int) -> np.ndarray:
    """(steps, S) float64: the state after each update, m_hat and v_hat appended for Adam."""
    s = np.asarray(run.state, np.float64)
    if opt.kind not in ADAM_KINDS:
        return s
    b1, b2 = opt.betas
    t = s[:, 2 * P:2 * P + 1]
    return np.concatenate([s, s[:, :P] / (1 - b1**t), s[:, P:2 * P] / (1 - b2**t)], axis=1)


def trace_header(sw: Sweep) -> tuple[str, ...]:
    """trace.csv's columns (see the module docstring)."""
    params = param_names(sw.network)
    state: list[str] = []
    for name in sw.backends:
        state += [s for s in _state_columns(counterpart(name, sw.optimizer), params)
                  if s not in state]
    return ("lr", "backend", "step", *params, loss_name(sw.network),
            *naming.grad_names(params), *state)


def trace_rows(sw: Sweep, header: Sequence[str]) -> Iterator[list[object]]:
    """trace.csv's rows, one at a time (never the whole table in memory)."""
    params = param_names(sw.network)
    P = len(params)
    for r in sw.rates:
        lr = repr(r.optimizer.lr)
        for name, run in r.runs.items():
            opt = counterpart(name, r.optimizer)
            where = [header.index(c) for c in _state_columns(opt, params)]
            values = _state_values(opt, run, P)
            steps = run.grads.shape[0]
            weights = np.asarray(run.weights, np.float64)
            for k in range(steps + 1):
                row: list[object] = [""] * len(header)
                row[:3] = [lr, name, k]
                row[3:3 + P] = map(repr, weights[k].tolist())
                E = float(run.loss[k]) if k < steps else r.final_loss[name]
                row[3 + P] = repr(E)
                if k < steps:
                    row[4 + P:4 + 2 * P] = map(repr, np.asarray(run.grads[k], np.float64).tolist())
                if k:
                    for j, value in zip(where, values[k - 1].tolist(), strict=True):
                        row[j] = repr(value)
                yield row


def write_trace(path: Path, sw: Sweep) -> None:
    """Stream trace.csv to ``path`` row by row (`trace_rows`)."""
    header = trace_header(sw)
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(trace_rows(sw, header))


# --- nodes.csv -------------------------------------------------------------------------------
def nodes_csv(sw: Sweep, columns: DataColumns) -> str:
    """Every z, a of every example at step 0 and after the last update (module docstring)."""
    net, data = sw.network, sw.data
    names = [n for l in range(1, net.layers + 1) for kind in ("z", "a")
             for n in node_names(net, kind, l)]
    header = ["lr", "backend", "step", "example", *map(cell, columns.inputs + columns.targets),
              *names]
    given = [[repr(float(x)) for x in (*xs, *ts)]
             for xs, ts in zip(data.inputs, data.targets, strict=True)]
    dt = data.inputs.dtype
    starts = {name: registry.get_network_backend(name, dt).forward(net, sw.start, data)
              for name in sw.backends}  # every rate starts from the same parameters
    rows: list[list[object]] = []
    for r in sw.rates:
        for name, run in r.runs.items():
            last = run.weights.shape[0] - 1
            for k, f in ((0, starts[name]), (last, r.finals[name])):
                if f is None:
                    continue  # a diverged training: no values after the last update
                for b in range(data.inputs.shape[0]):
                    values = [float(x) for z, a in zip(f.z, f.a, strict=True)
                              for x in (*z[b], *a[b])]
                    rows.append([repr(r.optimizer.lr), name, k, b + 1, *given[b],
                                 *map(repr, values)])
    return csv_text(header, rows)


# --- pictures --------------------------------------------------------------------------------
def picture_files(lrs: Sequence[float]) -> list[str]:
    """loss-lr-*.png (up to `budget.MAX_LR_PLOTS` rates), loss-all-lrs.png, differences.png,
    then the network and the landscape."""
    return [*plots.files(lrs, len(lrs) <= budget.MAX_LR_PLOTS), *extras.PICTURES]


def curves(r: Any) -> plots.Curves:
    """Rate ``r`` of a sweep: the loss at w[0..steps] (the last after the last update), and
    each backend's deciding comparison (`TrajectoryCheck.decisive`: one update from the
    reference's state, where the per-step check runs)."""
    return plots.Curves(r.optimizer.lr, r.ok, r.reference,
                        {name: np.append(np.asarray(run.loss, np.float64), r.final_loss[name])
                         for name, run in r.runs.items()},
                        {name: (r.decisive(name).diff, r.decisive(name).tolerance)
                         for name in r.comparisons})


def words(sw: Sweep, title: str) -> plots.Words:
    """The figures' words: the network's loss name, updates k on the x axis, ``title`` below."""
    loss = loss_name(sw.network)
    return plots.Words(loss, "update k", "Learning rate {lr:g}: do all backends train alike? "
                       "{verdict}", f"Does {loss} fall at every learning rate? {{answer}}",
                       "Does every backend agree with {reference} within its tolerance at "
                       "every update?\n{answer}", 1, textwrap.fill(title, 64), log=True)


def write_pictures(folder: Path, sw: Sweep, title: str,
                   slice_: landscape.Slice = landscape.THE_PLANE) -> list[str]:
    """Every picture of `picture_files` into ``folder``; returns their names."""
    names = picture_files([r.optimizer.lr for r in sw.rates])
    reference = sw.rates[0].reference
    backend = registry.get_network_backend(reference, sw.data.inputs.dtype)
    paths = {r.optimizer.lr: np.asarray(r.runs[reference].weights) for r in sw.rates}
    lr, path = next(iter(paths.items()))
    # a diverging run (inf, NaN weights) is drawn as far as it is finite, without warnings
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        plots.draw(folder, [curves(r) for r in sw.rates], words(sw, title),
                   per_lr=len(sw.rates) <= budget.MAX_LR_PLOTS)
        drawing.save(folder, drawing.network_panels(backend, sw.network, sw.data, path, lr,
                                                    reference), drawing.QUESTION)
        landscape.save(landscape.network_figure(sw.network, paths, reference, sw.data, slice_),
                       folder)
    return names


# --- report.html -----------------------------------------------------------------------------
def verdict(sw: Sweep) -> str:
    """One sentence: every check agrees, the first divergence, or a mistake not caught."""
    f = sw.first_divergence
    if f is None and sw.undetected:
        return (f"FAIL: {', '.join(sw.undetected)} agreed with the reference: a mistake "
                "backend is never a pass; with these settings its wrong line changes nothing "
                "(e.g. a weight-decay mistake with --weight-decay 0)")
    if f is None:
        return ("OK: every backend agrees: the gradient check at the start and every step at "
                "every learning rate, optimizer state included" + _separations(sw))
    if f["check"] == "gradient":
        return (f"FAIL: gradient check: {f['backend']} on {f['quantity']}: {f['value']!r} vs "
                f"reference {f['reference']!r}")
    how = {"step": " (one update from the reference's state)",
           "own-step": " (its own run, one update from its own state)"}.get(f["check"], "")
    return (f"FAIL: {f['backend']} DIVERGES at lr {f['lr']:g}: {f['label']}: "
            f"{f['value']:.17g} vs {f['reference']:.17g}{how}")


def _separations(sw: Sweep) -> str:
    """"; the whole runs separate ..." for the rates where they do (every step agreeing)."""
    parts = []
    for r in sw.rates:
        seps = [s for s in r.separations.values() if s.explained]
        if seps:
            first = min(seps, key=lambda s: s.step)
            growth = max(s.growth for s in seps)
            parts.append(f"at lr {r.optimizer.lr:g} from step {first.step} (x{growth:.3g} "
                         "per step)")
    if not parts:
        return ""
    return ("; the whole runs separate by amplified rounding " + ", ".join(parts)
            + ": every single step agrees")


def render(sw: Sweep, report: dict[str, Any], columns: DataColumns, folder: Path) -> str:
    """The page: verdict, settings, data, gradient check, every (lr, backend), the first and
    last rows of every backend at the first rate, the pictures, the files."""
    opt = report["optimizer"]
    settings = [["network", f"{report['source']}: {describe(sw.network)}"],
                ["optimizer", opt["describe"]], ["learning rates", report["lrs"]],
                ["steps", report["steps"]], ["dtype", report["dtype"]],
                ["examples", report["examples"]],
                ["backends (first: reference)", report["backends"]],
                ["report folder", report.get("report_dir")]]
    if sw.network.bias_values is not None:
        settings.insert(1, ["frozen biases", html.frozen_biases(sw.network.bias_values)])
    config = html.table(["setting", "value"],
                        [[escape(str(k)), escape(v if isinstance(v, str) else json.dumps(v))]
                         for k, v in settings], left=2, table_id="config-table")
    per_lr = []
    for r in report["per_lr"]:
        for name, b in r["backends"].items():
            per_lr.append([escape(f"{r['lr']:g}"), escape(name), html.short(b["largest"]["abs"]),
                           html.short(b["largest"]["ratio"]), escape(b["largest"]["where"]),
                           escape(b["verdict"])])
    runs = html.table(["lr", "backend", "largest |diff|", "/tolerance", "where", "verdict"],
                      per_lr, left=2, table_id="backends-table")
    pictures = [n for n in report["files"] if n.endswith(".png") and n != drawing.PNG_FILE]
    sections = [
        html.section("Settings", config, "config"),
        html.data_section(sw.data, columns),
        html.gradcheck_section(sw.network, sw.gradcheck),
        *([html.section("What the failing backends most likely did", "".join(
            f"<p>{escape(line)}</p>" for d in sw.diagnoses for line in d.sentences()),
            "diagnosis")] if sw.diagnoses else []),
        *([html.claims_section(report["claims"])] if report.get("claims") else []),
        html.section("Every backend against the reference, every learning rate", runs,
                     "backends"),
        html.section(f"Step 0 and step {report['steps']} at lr {report['lrs'][0]:g}",
                     _steps_table(sw, report["steps"]), "steps"),
        *html.picture_sections(folder, pictures, report["files"], html.network_figures),
    ]
    return html.page("autograd-compare report", sw.ok, verdict(sw), sections)


def _steps_table(sw: Sweep, last: int) -> str:
    """One row per quantity: its value in every backend at step 0 and after the last update
    (the first rate's rows of trace.csv)."""
    header = trace_header(sw)
    first = sw._replace(rates=sw.rates[:1])
    pick = {(str(r[1]), int(str(r[2]))): r for r in trace_rows(first, header)
            if str(r[2]) in ("0", str(last))}
    cols = [(b, k) for k in (0, last) for b in sw.backends]
    out = []
    for j, name in enumerate(header[3:], start=3):
        cells = [pick[c][j] if c in pick else "" for c in cols]
        if all(c == "" for c in cells):
            continue
        out.append([escape(name), *(escape(str(c)) if c != "" else "-" for c in cells)])
    return html.table(["quantity", *(f"{b}, step {k}" for b, k in cols)], out,
                      table_id="steps-table")


def file_names(with_plots: bool, lrs: Sequence[float]) -> list[str]:
    """Every file of the folder, in the order report.json lists them."""
    return [JSON_NAME, CSV_NAME, NODES_CSV, *(picture_files(lrs) if with_plots else []),
            html.FILE]
