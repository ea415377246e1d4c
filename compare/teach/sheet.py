"""The classic course spreadsheet, generated: gradient descent as live Excel formulas.

Layout of the one worksheet, ``backprop``:

* B3:B7, the given values in defined names: ``input_i1``, ``input_i2``, ``target_t1``,
  ``target_t2`` and ``learning_rate`` (names like ``i1`` or ``t1`` would be cell addresses).
* From row `FIRST_ROW` on, one row per iteration k = 0..steps: the weights w1..w8, then
  h1, a_h1, h2, a_h2, o1, a_o1, o2, a_o2, E1, E2, E_total and dw1..dw8 (= dE_total/dw).
  Row 0's weights are the starting numbers; every other cell is a formula: the forward pass
  and the gradients read the weights of their own row, and each row's weights are
  ``w_old - learning_rate * dw`` of the row above.
* A chart of E_total against the iteration, which follows the learning rate cell.

Every formula cell is saved with its value (the cached result a spreadsheet program stores),
computed by the manual backend from the workbook's own inputs, so readers that do not
recalculate (``openpyxl.load_workbook(path, data_only=True)``, pandas, file previews) see the
numbers; Excel and LibreOffice still recalculate on load (``fullCalcOnLoad``).
"""

from __future__ import annotations

import os
import re
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from autograd_compare import naming, validate
from autograd_compare.errors import BackendUnavailable, InputError

SHEET = "backprop"
GIVEN = (  # defined name, label, cell
    ("input_i1", "i1", "B3"), ("input_i2", "i2", "B4"),
    ("target_t1", "t1", "B5"), ("target_t2", "t2", "B6"),
    ("learning_rate", "learning rate", "B7"),
)
COLUMNS = ("iteration", *naming.WEIGHT_NAMES, *naming.FORWARD_NAMES_BY_NEURON,
           *naming.WEIGHT_GRAD_NAMES)  # A, B, C, ...
HEADER_ROW = 24  # the chart sits above the table, beside the given values
FIRST_ROW = HEADER_ROW + 1

# the tutorial's equations; {name} is that quantity's cell in the same row
FORMULAS = {
    "h1": "{w1}*input_i1+{w2}*input_i2",
    "a_h1": "1/(1+EXP(-{h1}))",
    "h2": "{w3}*input_i1+{w4}*input_i2",
    "a_h2": "1/(1+EXP(-{h2}))",
    "o1": "{w5}*{a_h1}+{w6}*{a_h2}",
    "a_o1": "1/(1+EXP(-{o1}))",
    "o2": "{w7}*{a_h1}+{w8}*{a_h2}",
    "a_o2": "1/(1+EXP(-{o2}))",
    "E1": "0.5*(target_t1-{a_o1})^2",
    "E2": "0.5*(target_t2-{a_o2})^2",
    "E_total": "{E1}+{E2}",
}
_DELTA1 = "({a_o1}-target_t1)*{a_o1}*(1-{a_o1})"  # dE_total/do1
_DELTA2 = "({a_o2}-target_t2)*{a_o2}*(1-{a_o2})"  # dE_total/do2
_DA_H1 = f"({_DELTA1}*{{w5}}+{_DELTA2}*{{w7}})"  # dE_total/da_h1
_DA_H2 = f"({_DELTA1}*{{w6}}+{_DELTA2}*{{w8}})"  # dE_total/da_h2
FORMULAS.update({
    "dw1": f"{_DA_H1}*{{a_h1}}*(1-{{a_h1}})*input_i1",
    "dw2": f"{_DA_H1}*{{a_h1}}*(1-{{a_h1}})*input_i2",
    "dw3": f"{_DA_H2}*{{a_h2}}*(1-{{a_h2}})*input_i1",
    "dw4": f"{_DA_H2}*{{a_h2}}*(1-{{a_h2}})*input_i2",
    "dw5": f"{_DELTA1}*{{a_h1}}",
    "dw6": f"{_DELTA1}*{{a_h2}}",
    "dw7": f"{_DELTA2}*{{a_h1}}",
    "dw8": f"{_DELTA2}*{{a_h2}}",
})


def column_letter(name: str) -> str:
    """The column of a quantity: "iteration" -> "A", "w1" -> "B", ... "dw8" -> "AB"."""
    index = COLUMNS.index(name) + 1
    letters = ""
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def row_formulas(row: int) -> dict:
    """name -> Excel formula for every forward value and gradient of sheet row ``row``."""
    cells = {name: f"{column_letter(name)}{row}" for name in COLUMNS}
    return {name: "=" + f.format(**cells) for name, f in FORMULAS.items()}


def weight_update(name: str, row: int) -> str:
    """The formula of weight ``name`` in ``row``: the row above, one gradient step on."""
    w, dw = column_letter(name), column_letter("d" + name)
    return f"={w}{row - 1}-learning_rate*{dw}{row - 1}"


ROW_BLOCK = 5000  # rows per piece of progress (about a second each)


def _quiet(what: str) -> None:
    pass


def progress_steps(steps: int) -> int:
    """Pieces of work `build` and `write` announce: every `ROW_BLOCK` rows, the saving and the
    cached values."""
    return -(-(steps + 1) // ROW_BLOCK) + 2


def build(weights, inputs, targets, lr: float, steps: int,
          on_step: Callable[[str], None] = _quiet):
    """The workbook (not saved): ``steps`` + 1 iteration rows from ``weights`` (8 floats).

    Args:
        weights: w1..w8 to start from. inputs: i1, i2. targets: t1, t2.
        lr: the learning rate cell's value. steps: gradient steps (rows 0..steps).
        on_step: hears of each block of `ROW_BLOCK` rows before it is built.

    Returns:
        An ``openpyxl.Workbook``.
    """
    try:
        import openpyxl
    except ImportError as err:
        raise BackendUnavailable("the spreadsheet needs openpyxl, which is not installed; "
                                 "install it with: pip install 'autograd-compare[teach]'") from err
    from openpyxl.chart import Reference, ScatterChart, Series
    from openpyxl.styles import Font, PatternFill
    from openpyxl.workbook.defined_name import DefinedName

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = SHEET
    ws["A1"] = "Backpropagation on the 2-2-2 sigmoid network, one row per gradient-descent step"
    ws["A1"].font = Font(bold=True)
    ws["A2"] = "Change the yellow cells (the learning rate, the example, row 0's weights)."
    editable = PatternFill("solid", fgColor="FFF2CC")
    for (name, label, cell), value in zip(GIVEN, (*inputs, *targets, lr), strict=True):
        ws[f"A{cell[1:]}"] = label
        ws[cell] = float(value)
        ws[cell].fill = editable
        ref = f"'{SHEET}'!${cell[0]}${cell[1:]}"
        wb.defined_names[name] = DefinedName(name, attr_text=ref)
    for name in COLUMNS:
        ws[f"{column_letter(name)}{HEADER_ROW}"] = name
        ws[f"{column_letter(name)}{HEADER_ROW}"].font = Font(bold=True)
    for k in range(steps + 1):
        if k % ROW_BLOCK == 0:
            on_step(f"rows of iterations {k}..{min(k + ROW_BLOCK - 1, steps)}")
        row = FIRST_ROW + k
        ws[f"A{row}"] = k
        for j, name in enumerate(naming.WEIGHT_NAMES):
            cell = ws[f"{column_letter(name)}{row}"]
            if k == 0:
                cell.value = float(weights[j])
                cell.fill = editable
            else:
                cell.value = weight_update(name, row)
        for name, formula in row_formulas(row).items():
            ws[f"{column_letter(name)}{row}"] = formula
    ws.freeze_panes = f"B{FIRST_ROW}"
    wb.calculation.fullCalcOnLoad = True  # Excel recomputes everything when it opens the file

    chart = ScatterChart()
    chart.title = "E_total against iteration"
    chart.x_axis.title, chart.y_axis.title = "iteration", "E_total"
    chart.style, chart.height, chart.width = 13, 9.5, 18
    last = FIRST_ROW + steps
    x = Reference(ws, min_col=1, min_row=FIRST_ROW, max_row=last)
    y_col = COLUMNS.index("E_total") + 1
    series = Series(Reference(ws, min_col=y_col, min_row=HEADER_ROW, max_row=last), x,
                    title_from_data=True)
    series.marker.symbol = "none"
    chart.series.append(series)
    ws.add_chart(chart, "D3")
    return wb


def check_out(out: str | os.PathLike, force: bool = False) -> Path:
    """Where the workbook may go (before it is built): an .xlsx name in an existing folder,
    not a folder, not a symbolic link (dangling or not), and not an existing file unless
    ``force``.

    Raises:
        InputError: one line, naming ``out`` (never a temporary file).
    """
    path = Path(out)
    shown = validate.short_text(str(out))
    if str(out) == "" or path.suffix.lower() != ".xlsx":
        raise InputError(f"--out must name an .xlsx file; got {shown}")
    if path.is_symlink():
        raise InputError(f"--out {shown} is a symbolic link; choose another --out")
    if path.is_dir():
        raise InputError(f"--out {shown} is a folder, not an .xlsx file; choose another --out")
    if path.exists() and not force:
        raise InputError(f"{shown} already exists; pass --force to replace it")
    if path.exists() and not path.is_file():
        raise InputError(f"--out {shown} is not a regular file; choose another --out")
    if not path.parent.is_dir():
        raise InputError(f"folder {validate.short_text(str(path.parent))} of --out does not "
                         "exist")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise InputError(f"cannot write {shown}: permission denied")
    return path


def write(wb, out: str | os.PathLike, force: bool = False,
          on_step: Callable[[str], None] = _quiet) -> Path:
    """Save ``wb`` to ``out`` atomically (a temporary file, then a rename); never overwrite
    an existing file unless ``force``. The file gets ordinary permissions (0666 less the
    umask), as a file written with ``open`` would. ``on_step`` hears of the saving and of
    the cached values before each.

    Raises:
        InputError: see `check_out`.
    """
    path = check_out(out, force)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        on_step(f"saving {path.name}")
        wb.save(tmp)
        on_step("adding the computed values")
        add_cached_values(tmp, computed_values(wb))
        os.chmod(tmp, 0o666 & ~umask)
        if force:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # atomic, and fails if another run wrote the name meanwhile
    except FileExistsError:
        raise InputError(f"{validate.short_text(str(out))} already exists; pass --force to "
                         "replace it") from None
    except OSError as err:
        raise InputError(f"cannot write {validate.short_text(str(out))}: "
                         f"{err.strerror or err}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def computed_values(wb) -> dict[str, float]:
    """Cell ("J25") -> value of every formula cell, computed by the manual backend from the
    workbook's given cells (inputs, targets, learning rate) and row 0's weights."""
    from autograd_compare.interface import Example
    from autograd_compare.registry import get_backend

    ws = wb[SHEET]
    given = {name: float(ws[cell].value) for name, _, cell in GIVEN}
    w = np.array([float(ws[f"{column_letter(n)}{FIRST_ROW}"].value) for n in naming.WEIGHT_NAMES])
    steps = max(r for r in range(FIRST_ROW, ws.max_row + 1)
                if ws[f"A{r}"].value is not None) - FIRST_ROW
    example = Example(np.array([given["input_i1"], given["input_i2"]]),
                      np.array([given["target_t1"], given["target_t2"]]))
    manual = get_backend("manual")
    weights = (manual.train(w, example, lr=given["learning_rate"], steps=steps).weights
               if steps else w[None])
    out = {}
    for k, wk in enumerate(weights):
        row = FIRST_ROW + k
        forward = naming.node_values(manual.forward(wk, example)).tolist()
        nodes = dict(zip(naming.FORWARD_NAMES, forward, strict=True))
        grads = manual.gradients(wk, example).w.tolist()
        values = {**nodes, **dict(zip(naming.WEIGHT_GRAD_NAMES, grads, strict=True))}
        if k > 0:
            values.update(zip(naming.WEIGHT_NAMES, wk.tolist(), strict=True))
        out.update({f"{column_letter(n)}{row}": v for n, v in values.items()})
    return out


_FORMULA_CELL = re.compile(r'<c r="([A-Z]+[0-9]+)"([^>]*)><f>([^<]*)</f><v\s*/>(</c>)?')


def add_cached_values(path: str | os.PathLike, values: dict[str, float]) -> None:
    """Write ``values`` as the cached results of the formula cells of ``path`` (in place).

    openpyxl saves a formula cell as ``<c r="J25"><f>...</f><v/></c>``; the value goes into
    its ``<v>``. Non-finite values are left empty (a spreadsheet shows an error there).
    """
    name = "xl/worksheets/sheet1.xml"

    def fill(m: re.Match) -> str:
        ref, attrs, formula, _ = m.groups()
        v = values.get(ref)
        cached = f"<v>{v!r}</v>" if v is not None and np.isfinite(v) else "<v/>"
        return f'<c r="{ref}"{attrs}><f>{formula}</f>{cached}</c>'

    with zipfile.ZipFile(path) as z:
        items = [(info, z.read(info.filename)) for info in z.infolist()]
    tmp = f"{os.fspath(path)}.cache"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in items:
            if info.filename == name:
                data = _FORMULA_CELL.sub(fill, data.decode("utf-8")).encode("utf-8")
            z.writestr(info, data)
    os.replace(tmp, path)
