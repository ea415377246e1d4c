"""report.html of ``autograd-compare optimizers --out``: one self-contained page.

Built from the report.json dict and the trace rows of the first learning rate, plus the
pictures already in the folder (embedded as data URIs by `report.html.data_uri`), with the
page builders of `report.html` (`page`, `table`); nothing here changes html.py. Static HTML,
no script: every text from the user or the data (paths, backend names, quantity names) is
escaped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

from autograd_compare.report import html, optim_plots
from autograd_compare.report.html import data_uri, page, table
from autograd_compare.report.output import write_text

FILE = html.FILE  # report.html
CAPTIONS = {
    optim_plots.LOSS_FILE: "The loss before each update, every learning rate (colour) and "
                           "backend (line style).",
    optim_plots.DIFF_FILE: "Largest difference from the reference per update, over the loss, "
                           "gradients, optimizer state and parameters; and over the tolerance.",
}


def _section(title: str, body: str, section_id: str) -> str:
    return f'<section id="{escape(section_id)}"><h2>{escape(title)}</h2>\n{body}\n</section>'


def _g(x: float | None) -> str:
    return "-" if x is None else escape(f"{x:.3g}")


def render(report: dict[str, Any], header: Sequence[str], rows: Sequence[Sequence[object]],
           folder: Path) -> str:
    """The page: verdict, settings, one row per (lr, backend), the first and last update of
    every backend at the first learning rate (``header``/``rows``: trace.csv's), pictures."""
    opt = report["optimizer"]
    ok = bool(report["ok"])
    bad = [r for r in report["per_lr"] if not r["ok"]]
    verdict = ("OK: every backend agrees at every step, optimizer state included" if ok else
               f"FAIL: a backend DIVERGES at {len(bad)} of {len(report['per_lr'])} learning "
               f"rates (first: {bad[0]['first_divergence']['label']})")
    settings = [["optimizer", opt["describe"]], ["learning rates", report["lrs"]],
                ["steps", report["steps"]], ["dtype", report["dtype"]],
                ["network", report["source"]], ["examples", report["examples"]],
                ["backends (first: reference)", report["backends"]],
                *[[k, opt[k]] for k in ("momentum", "dampening", "weight_decay", "l2", "betas",
                                        "eps", "lr_change")],
                ["report folder", report.get("report_dir")]]
    config = table(["setting", "value"],
                   [[escape(str(k)), escape(v if isinstance(v, str) else json.dumps(v))]
                    for k, v in settings], left=2, table_id="config-table")
    per_lr = []
    for r in report["per_lr"]:
        for name, b in r["backends"].items():
            first = b["first_divergence"]
            per_lr.append([escape(f"{r['lr']:g}"), escape(name), _g(b["largest"]["abs"]),
                           _g(b["largest"]["ratio"]), escape(b["largest"]["where"]),
                           "agrees" if first is None else
                           escape(f"DIVERGES at {first['label']}: {first['value']:.17g} vs "
                                  f"{first['reference']:.17g}")])
    runs = table(["lr", "backend", "largest |diff|", "/tolerance", "where", "verdict"], per_lr,
                 left=2, table_id="backends-table")
    steps = _steps_table(header, rows, report["backends"], report["steps"])
    pictures = "\n".join(
        f'<figure><img src="{data_uri(folder / name)}" alt="{escape(name)}">'
        f"<figcaption>{escape(name)}: {escape(CAPTIONS[name])}</figcaption></figure>"
        for name in optim_plots.FILES if (folder / name).is_file())
    sections = [
        _section("Settings", config, "config"),
        _section("Every backend against the reference", runs, "backends"),
        _section(f"Update 1 and update {report['steps']} at lr {report['lrs'][0]:g}", steps,
                 "steps"),
    ]
    if pictures:
        sections.append(_section("Plots", pictures, "plots"))
    return page("autograd-compare optimizers report", ok, verdict, sections)


def _steps_table(header: Sequence[str], rows: Sequence[Sequence[object]],
                 backends: Sequence[str], last: int) -> str:
    """One row per quantity: its value in every backend after update 1 and the last one."""
    lr0 = rows[0][0] if rows else None
    pick = {(str(r[1]), int(str(r[2]))): r for r in rows
            if r[0] == lr0 and str(r[2]) in ("1", str(last))}
    cols = [(b, k) for k in (1, last) for b in backends]
    out = []
    for j, name in enumerate(header[3:], start=3):
        cells = [pick[c][j] if c in pick else "" for c in cols]
        if all(c == "" for c in cells):
            continue
        out.append([escape(name), *(escape(str(c)) if c != "" else "-" for c in cells)])
    return table(["quantity", *(f"{b}, update {k}" for b, k in cols)], out,
                 table_id="steps-table")


def write(folder: Path, report: dict[str, Any], header: Sequence[str],
          rows: Sequence[Sequence[object]]) -> str:
    write_text(folder / FILE, render(report, header, rows, folder))
    return FILE
