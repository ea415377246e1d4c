"""report.html: the whole report in one self-contained file a teacher can open and share.

The main job's and the restart study's pages are built only from JSON-ready data (the same dict
as report.json, plus the per-step trace of `compare.harness.steps.as_json`) and the picture
files already in the report folder; the any-network job's (`sweep.render`) from its named
results with the sections here (data, gradient check, captions). No server, no network: the
pictures are embedded as data URIs, the CSS and the script inline, the trace as JSON in a
``<script type="application/json">`` (every ``<`` written ``\\u003c``, so ``</script>`` cannot
end it). Every piece of text from the user or the data (paths, backend names, labels) is
HTML-escaped. All content is static HTML; the script only adds the step control (without
JavaScript the step table shows step 0 and the last step). The any-network page has no script.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Iterable, Sequence
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from autograd_compare.harness.network_check import NOT_GIVEN, GradCheck, GradRow
from autograd_compare.network import Data, Network, loss_name, param_names
from autograd_compare.report import claims as claims_mod
from autograd_compare.report.network_output import DataColumns
from autograd_compare.report.output import dumps, write_text

FILE = "report.html"
MIME = {".png": "image/png", ".svg": "image/svg+xml"}
CAPTIONS = {
    "network.png": "The network at the first and the last step (reference backend): every "
                   "weight with ∂E_total/∂w, every neuron with its values and ∂E_total/∂node.",
    "final-loss.png": "Final loss of every start.",
    "steps-to-threshold.png": "Steps each start needed to reach the threshold.",
    "gallery.png": "Loss curves of the best, median and worst start, and of a stuck and a "
                   "still-descending one.",
    "outcomes.png": "How the starts end at each learning rate: reached, stuck or still "
                    "descending.",
}

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1200px;
padding:1em 1.5em;color:#1d2733;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #d5dde6}
.verdict{font-size:1.1em;padding:.8em 1em;border-radius:6px;white-space:pre-wrap}
.ok{background:#e6f4ea;border:1px solid #34a853}.fail{background:#fce8e6;border:1px solid #d93025}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
th,td{border:1px solid #d5dde6;padding:.25em .6em;text-align:right}
th{background:#f1f4f8}td.l,th.l{text-align:left}
figure{margin:1em 0}figure img{max-width:100%;border:1px solid #e3e8ee}
figcaption{font-size:.9em;color:#4a5868}
.controls{display:flex;gap:1em;align-items:center;flex-wrap:wrap;margin:.6em 0}
.controls input[type=range]{width:22em}code{background:#f1f4f8;padding:0 .2em}
.note{color:#4a5868;font-size:.9em}
"""

SCRIPT = """
(function () {
  var data = JSON.parse(document.getElementById('trace-data').textContent);
  var runs = data.runs, names = data.names;
  if (!runs.length) { return; }
  var lrs = [];
  runs.forEach(function (r) { if (lrs.indexOf(r.lr) < 0) { lrs.push(r.lr); } });
  var backends = [];
  runs.forEach(function (r) { if (backends.indexOf(r.backend) < 0) { backends.push(r.backend); } });
  var sel = document.getElementById('step-lr'), slider = document.getElementById('step-k');
  var label = document.getElementById('step-label'), body = document.getElementById('step-body');
  lrs.forEach(function (lr, i) {
    var o = document.createElement('option'); o.value = i; o.textContent = 'lr ' + lr;
    sel.appendChild(o);
  });
  function fmt(x) {
    if (typeof x === 'string') { return x; }
    return Number(x.toPrecision(12)).toString();
  }
  function cell(text, left) {
    var td = document.createElement('td'); td.textContent = text;
    if (left) { td.className = 'l'; } return td;
  }
  function show() {
    var lr = lrs[Number(sel.value)];
    var mine = runs.filter(function (r) { return r.lr === lr; });
    var steps = mine[0].steps;
    slider.max = steps.length - 1;
    var row = Math.min(Number(slider.value), steps.length - 1);
    label.textContent = 'lr ' + lr + ', step ' + steps[row] + ' of ' + steps[steps.length - 1];
    body.textContent = '';
    var rows = [];
    names.nodes.forEach(function (n, j) {
      var g = names.node_grads.indexOf(n);
      rows.push([n, function (r) { return r.nodes[row][j]; },
                 g < 0 ? null : function (r) { return r.node_grads[row][g]; }]);
    });
    names.weights.forEach(function (n, j) {
      rows.push([n, function (r) { return r.weights[row][j]; },
                 function (r) { return r.grads[row][j]; }]);
    });
    rows.forEach(function (spec) {
      var tr = document.createElement('tr');
      tr.appendChild(cell(spec[0], true));
      backends.forEach(function (b) {
        var r = mine.filter(function (x) { return x.backend === b; })[0];
        tr.appendChild(cell(r ? fmt(spec[1](r)) : '-'));
        tr.appendChild(cell(r && spec[2] ? fmt(spec[2](r)) : '-'));
      });
      body.appendChild(tr);
    });
  }
  document.getElementById('step-controls').hidden = false;
  document.getElementById('step-static-note').hidden = true;
  sel.addEventListener('change', function () { slider.value = 0; show(); });
  slider.addEventListener('input', show);
  document.getElementById('step-prev').addEventListener('click', function () {
    slider.value = Math.max(0, Number(slider.value) - 1); show(); });
  document.getElementById('step-next').addEventListener('click', function () {
    slider.value = Math.min(Number(slider.max), Number(slider.value) + 1); show(); });
  show();
})();
"""


# --- small builders -----------------------------------------------------------------------------
def num(x: str | float | None) -> str:
    if isinstance(x, str):
        return escape(x)
    if x is None:
        return "-"
    if isinstance(x, bool) or isinstance(x, int):
        return str(x)
    return f"{x:.12g}" if math.isfinite(x) else str(x)


def short(x: str | float | None) -> str:
    if isinstance(x, str) or x is None:
        return num(x)
    return f"{x:.3g}"


def table(header: Sequence[str], rows: Iterable[Sequence[str]], left: int = 1,
          table_id: str = "") -> str:
    """An HTML table; ``header`` is escaped here, ``rows`` cells must be escaped already.
    The first ``left`` columns are left-aligned."""
    attr = f' id="{escape(table_id)}"' if table_id else ""
    head = "".join(f'<th{" class=l" if i < left else ""}>{escape(h)}</th>'
                   for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f'<td{" class=l" if i < left else ""}>{c}</td>'
                                    for i, c in enumerate(row)) + "</tr>\n" for row in rows)
    return f"<table{attr}><thead><tr>{head}</tr></thead><tbody>\n{body}</tbody></table>"


def figures(folder: Path, names: Iterable[str],
            caption: Callable[[str], str] = lambda name: CAPTIONS.get(name, name),
            empty: str = "") -> str:
    """Every picture of ``names`` that exists in ``folder``, embedded (PNG, or the SVG when a
    PNG of the same name is not there), each with ``caption(name)``; ``empty`` if none."""
    out = []
    for name in names:
        path = folder / name
        if path.suffix.lower() not in MIME or not path.is_file():
            continue
        if path.suffix == ".svg" and path.with_suffix(".png").is_file():
            continue  # the PNG is shown; the SVG is in the folder for printing
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        out.append(f'<figure><img src="data:{MIME[path.suffix.lower()]};base64,{data}" '
                   f'alt="{escape(name)}">'
                   f"<figcaption>{escape(name)}: {escape(caption(name))}</figcaption></figure>")
    return "\n".join(out) or empty


def json_script(data: Any, element_id: str) -> str:
    """``data`` as JSON inside a script element, safe against ``</script>`` and ``<!--``."""
    text = dumps(data, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f'<script type="application/json" id="{escape(element_id)}">{text}</script>'


def page(title: str, verdict_ok: bool, verdict: str, sections: Sequence[str]) -> str:
    cls = "ok" if verdict_ok else "fail"
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>\n"
            f"<h1>{escape(title)}</h1>\n"
            f'<p class="verdict {cls}" id="verdict">{escape(verdict)}</p>\n'
            + "\n".join(sections) + "\n</body></html>\n")


def picture_sections(folder: Path, plots: Iterable[str], files: Iterable[str],
                     show: Callable[[Path, Iterable[str]], str] = figures,
                     drawings: bool = True) -> list[str]:
    """Every page's last sections: the network when ``drawings``, the ``plots``, the list of
    ``files``; ``show`` embeds the pictures with their captions."""
    return [*([section("The network", show(folder, ["network.png", "network.svg"]), "network")]
              if drawings else []),
            section("Plots", show(folder, plots), "plots"),
            section("Files", "<ul>" + "".join(f"<li><code>{escape(f)}</code></li>"
                                              for f in files) + "</ul>", "files")]


def section(title: str, body: str, section_id: str) -> str:
    return f'<section id="{escape(section_id)}"><h2>{escape(title)}</h2>\n{body}\n</section>'


# --- the step control ---------------------------------------------------------------------------
def step_section(trace: dict[str, Any], what: str) -> str:
    """The step table: static at step 0 and the last step of the first learning rate, and the
    controls (shown by the script) to move through every recorded step of every rate."""
    runs = trace["runs"]
    if not runs:
        return section("Step by step", "<p>No trace recorded.</p>", "steps")
    backends = list(dict.fromkeys(r["backend"] for r in runs))
    header = ["quantity"]
    for b in backends:
        header += [f"{b}: value", f"{b}: ∂E_total/∂quantity"]
    lr = runs[0]["lr"]
    mine = {r["backend"]: r for r in runs if r["lr"] == lr}

    names = trace["names"]
    # per row: the quantity, where its value is (key, column), where its gradient is (or None)
    quantities = [(n, "nodes", j, "node_grads", names["node_grads"].index(n)
                   if n in names["node_grads"] else None) for j, n in enumerate(names["nodes"])]
    quantities += [(n, "weights", j, "grads", j) for j, n in enumerate(names["weights"])]

    def rows(row: int) -> list[list[str]]:
        return [[escape(n)] + [c for b in backends for c in (
            num(mine[b][value][row][j]) if b in mine else "-",
            num(mine[b][grad][row][g]) if b in mine and g is not None else "-")]
            for n, value, j, grad, g in quantities]

    steps = runs[0]["steps"]
    last = len(steps) - 1
    controls = (
        '<div class="controls" id="step-controls" hidden>'
        '<label>learning rate <select id="step-lr"></select></label>'
        '<button type="button" id="step-prev">◀ previous</button>'
        f'<input type="range" id="step-k" min="0" max="{last}" value="0" step="1" '
        'aria-label="step">'
        '<button type="button" id="step-next">next ▶</button>'
        f'<strong id="step-label">lr {num(lr)}, step {steps[0]} of {steps[last]}</strong></div>')
    note = (f'<p class="note" id="step-static-note">JavaScript is off: the table shows step '
            f"{steps[0]} at lr {num(lr)}; the one below it shows the last step, "
            f"{steps[last]}.</p>")
    thinned = (f'<p class="note">{escape(what)} Long runs are thinned to {len(steps)} evenly '
               "spaced steps (the first and the last always kept).</p>"
               if steps[-1] + 1 > len(steps) else f'<p class="note">{escape(what)}</p>')
    body = (thinned + controls + note
            + table(header, rows(0), table_id="step-table").replace("<tbody>",
                                                                       '<tbody id="step-body">')
            + f'<noscript><p>Last step ({steps[last]}) at lr {num(lr)}:</p>'
            + table(header, rows(last)) + "</noscript>")
    return section("Step by step: every node's value and gradient from every backend", body,
                    "steps")


def claims_section(claims: Sequence[dict[str, Any]]) -> str:
    rows = [[num(c["lr"]), f"about {c['tutorial_iterations']}" if c["tutorial_iterations"]
             else "-"] + [str(b["step"]) if b["step"] is not None
                          else f"not within {c['steps']} steps" for b in c["first_step_below"]]
            for c in claims]
    sentences = "".join(f"<li>{escape(c['sentence'])}</li>" for c in claims
                        if c["tutorial_iterations"])
    body = (f"<p>The tutorial: {escape(claims_mod.QUOTE)}. Measured with the reference backend: "
            "the first step at which E_total is below 1 % and 0.1 % of its start.</p>"
            + table(["lr", "tutorial", "first step < 1 % of start", "first step < 0.1 % of start"],
                    rows, table_id="claims-table")
            + (f"<ul>{sentences}</ul>" if sentences else ""))
    return section("The tutorial's claims checked", body, "claims")


# --- restarts ----------------------------------------------------------------------------------
def render_restarts(result: dict[str, Any], trace: dict[str, Any], folder: Path) -> str:
    """The restart study's report.html, for any network (the step table, the network drawing and
    the island only on the tutorial's, in its notation: ``trace`` has no runs elsewhere)."""
    c = result["config"]
    n_bad = len(result["disagreements"])
    verdict = ("OK: the backends agree on every configuration" if n_bad == 0 else
               f"FAIL: {n_bad} configurations where the backends DISAGREE beyond tolerance")
    config_rows = [[escape(k), escape(json.dumps(v))] for k, v in c.items()]
    config_rows.append(["report folder", escape(str(result.get("report_dir")))])
    rows = []
    for row in result["per_lr"]:
        x = row["cross_backend"]
        for b, s in row["backends"].items():
            e, k = s["final_loss"], (s["steps_to_threshold"] or {}).get("median")
            rows.append([num(row["lr"]), escape(b), short(e["median"]), short(e["p90"]),
                         short(e["max"]), f"{s['reached_fraction']:.1%}", num(s["stuck"]),
                         num(s["still_descending"]), num(k),
                         short(x["worst_difference"]), short(x["worst_ratio_to_tolerance"]),
                         num(x["disagreements"])])
    sections = [
        section("Configuration", table(["setting", "value"], config_rows, left=2), "config"),
        section("Every start at every learning rate", table(
            ["lr", "backend", "median E", "p90 E", "max E", f"reached (E <= {c['threshold']:g})",
             "stuck", "still descending", "median steps", "worst diff", "diff/tol", "disagree"],
            rows, left=2, table_id="restarts-table")
            + f'<p class="note">{escape(result["outcome_rule"]["rule"])}</p>', "restarts"),
        *([step_section(trace, "The median start of the first learning rate (by final "
                               "E_total), re-run with every backend.")]
          if trace.get("runs") else []),
        section("The island", figures(
            folder, ["landscape.png"], lambda name: "The island: the loss over a 2-D slice of "
            "parameter space, every start coloured by how it ends.",
            '<p class="note">Not drawn (--no-plots, or matplotlib is not installed).</p>'),
            "landscape"),
        *picture_sections(folder, ["final-loss.png", "outcomes.png", "steps-to-threshold.png",
                                   "gallery.png"], result["files"],
                          drawings=bool(trace.get("runs"))),
        *([json_script(trace, "trace-data"), f"<script>{SCRIPT}</script>"]
          if trace.get("runs") else []),
    ]
    return page("autograd-compare restarts report", n_bad == 0, verdict, sections)


# --- any network (``check --out``: `sweep.render`) -------------------------------------------
MAX_GRAD_ROWS = 400  # gradient-check rows shown (every parameter first, then node rows)
MAX_EXAMPLES = 10  # data rows shown
NETWORK_CAPTIONS = {  # the any-network job's (its loss is E, its x axis updates k)
    "network.png": "What backpropagation gives every weight and neuron: the network at the first "
                   "and the last step (reference backend), every weight with ∂E/∂w, every "
                   "neuron with its values and gradients (first example).",
    "network.svg": "The network (SVG).",
    "loss-all-lrs.png": "Does the loss fall at every learning rate? The loss after k updates, "
                        "every learning rate (colour) and backend (line style); a log axis "
                        "when it falls by more than a factor of 10.",
    "differences.png": "Does every backend agree with the reference within its tolerance? One "
                       "line per backend: at each update, its largest difference from the "
                       "reference (loss, gradients, optimizer state, parameters; one update "
                       "from the reference's state) over its tolerance, the largest over every "
                       "learning rate; it fails above the dashed line at 1.",
    "landscape.png": "Where does training go? The loss over a 2-D slice of parameter space "
                     "(the plane through the start and the ends of training, or two "
                     "parameters: --landscape), every learning rate's path on it, the longest "
                     "widest underneath.",
}
LOSS_LR_CAPTION = ("Do the backends train alike at this learning rate? The loss after k "
                   "updates, every backend (the reference thick and pale underneath).")


def network_figures(folder: Path, names: Iterable[str]) -> str:
    """Every picture of ``names`` in ``folder``, embedded, with this report's captions."""
    return figures(folder, names, lambda name: NETWORK_CAPTIONS.get(
        name, LOSS_LR_CAPTION if name.startswith("loss-lr-") else name),
        '<p class="note">No pictures (--no-plots, or matplotlib is not installed).</p>')


def _grad_rows(net: Network, rows: Sequence[GradRow]) -> list[GradRow]:
    """Every parameter row, then the node rows (both in backward order), at most
    `MAX_GRAD_ROWS`."""
    names = {f"d{loss_name(net)}/d{n}" for n in param_names(net)}
    params = [r for r in rows if r.quantity in names]
    nodes = [r for r in rows if r.quantity not in names]
    return (params + nodes)[:MAX_GRAD_ROWS]


def gradcheck_section(net: Network, g: GradCheck) -> str:
    names = list(g.largest)
    shown = _grad_rows(net, g.rows)
    rows = []
    for r in shown:
        ok = r.fd_ok and all(e <= r.tolerance for e in r.errors.values())
        rows.append([escape(r.quantity), num(r.complex_step),
                     short(abs(r.finite_difference - r.complex_step)), short(r.tolerance)]
                    + [short(r.errors[n]) if n in r.errors else NOT_GIVEN for n in names]
                    + ["ok" if ok else "WRONG"])
    rest = len(g.rows) - len(shown)
    note = (f'<p class="note">{len(shown)} of {len(g.rows)} rows shown (every parameter first); '
            "report.json has the largest error of every backend.</p>" if rest else "")
    largest = ", ".join(f"{escape(n)} {short(v)}" for n, v in g.largest.items())
    body = (f"<p>{len(g.rows)} gradients (every parameter, every node of every example) against "
            "the complex step; the central difference checks that reference. Largest "
            f"|error|/tolerance: {largest}.</p>" + note
            + table(["gradient", "complex step", "|FD - CS|", "tolerance",
                          *(f"{n} |error|" for n in names), "verdict"], rows,
                         table_id="gradcheck-table"))
    return section("Gradient check at the start", body, "gradcheck")


def data_section(data: Data, columns: DataColumns) -> str:
    x, t = np.asarray(data.inputs, np.float64), np.asarray(data.targets, np.float64)
    rows = [[str(b + 1), *(num(v) for v in x[b]), *(num(v) for v in t[b])]
            for b in range(min(MAX_EXAMPLES, x.shape[0]))]
    more = x.shape[0] - len(rows)
    where = (f"from <code>{escape(columns.file)}</code>" if columns.file is not None
             else "the preset's own")
    body = (f"<p>{x.shape[0]} example{'s' if x.shape[0] != 1 else ''}, {where}: inputs "
            f"{escape(', '.join(columns.inputs))}; targets {escape(', '.join(columns.targets))}."
            + (f" The first {len(rows)} are shown." if more else "") + "</p>"
            + table(["example", *columns.inputs, *columns.targets], rows,
                         table_id="data-table"))
    return section("Data", body, "data")


def frozen_biases(values: Sequence[Sequence[float]]) -> str:
    """Mazur's notation: ``b1 = 0.35, b2 = 0.6`` (one shared per layer), else per neuron."""
    return ", ".join(f"b{l + 1} = {v[0]:g}" if len(set(v)) == 1
                     else f"b{l + 1} = ({', '.join(f'{x:g}' for x in v)})"
                     for l, v in enumerate(values))


def write(folder: Path, text: str) -> str:
    write_text(folder / FILE, text)
    return FILE
