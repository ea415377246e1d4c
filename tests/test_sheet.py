"""The generated spreadsheet: live formulas (evaluated here in Python), names, chart, CLI."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from autograd_compare import get_backend
from autograd_compare.commands.cli import main
from autograd_compare.interface import CLASS_INPUTS, CLASS_TARGETS, CLASS_WEIGHTS
from autograd_compare.naming import FORWARD_NAMES_BY_NEURON, WEIGHT_GRAD_NAMES, WEIGHT_NAMES
from autograd_compare.teach.sheet import (
    COLUMNS,
    FIRST_ROW,
    HEADER_ROW,
    SHEET,
    build,
    column_letter,
)
from tests.helpers import assert_close

openpyxl = pytest.importorskip("openpyxl", reason="pip install 'autograd-compare[teach]'")

CELL = re.compile(r"\$?([A-Z]{1,3})\$?(\d+)")


def evaluate(ws, names: dict) -> dict:
    """Compute every formula of the sheet in Python, cell by cell: (column, row) -> value.

    Only what the generator writes is understood: + - * / ^, EXP, cell references and names.
    """
    values = {}
    for row in ws.iter_rows(min_row=FIRST_ROW):
        for cell in row:
            if cell.value is None:
                continue
            if not (isinstance(cell.value, str) and cell.value.startswith("=")):
                values[(cell.column_letter, cell.row)] = float(cell.value)
                continue
            expr = cell.value[1:].replace("^", "**").replace("EXP(", "math.exp(")
            expr = CELL.sub(lambda m: repr(values[(m.group(1), int(m.group(2)))]), expr)
            for name, value in names.items():
                expr = re.sub(rf"\b{name}\b", repr(value), expr)
            values[(cell.column_letter, cell.row)] = eval(expr, {"math": math})  # noqa: S307
    return values


def read_rows(values: dict, steps: int) -> dict:
    """name -> array (steps + 1,) of that column."""
    return {name: np.array([values[(column_letter(name), FIRST_ROW + k)]
                            for k in range(steps + 1)]) for name in COLUMNS[1:]}


def defined(wb) -> dict:
    """defined name -> the value in its cell."""
    out = {}
    for name, dn in wb.defined_names.items():
        sheet, ref = next(iter(dn.destinations))
        out[name] = wb[sheet][ref.replace("$", "")].value
    return out


def compare_with_manual(cols: dict, lr: float, steps: int, rtol: float) -> tuple:
    """Check the sheet's columns against the manual backend.

    Returns:
        (largest relative difference, "quantity at lr ...") where it happened.
    """
    backend = get_backend("manual")
    traj = backend.train(CLASS_WEIGHTS, lr=lr, steps=steps)
    from autograd_compare.manual.network import forward_values

    example = (np.array(CLASS_INPUTS), np.array(CLASS_TARGETS))
    from autograd_compare.interface import Example

    v = forward_values(traj.weights, Example(*example))  # every row at once
    expected = {name: traj.weights[:, j] for j, name in enumerate(WEIGHT_NAMES)}
    expected.update({name: v[name] for name in FORWARD_NAMES_BY_NEURON})
    # the last row's gradients are never used: compare rows 0..steps-1
    expected.update({name: traj.grads[:, j] for j, name in enumerate(WEIGHT_GRAD_NAMES)})
    worst = (0.0, "")
    for name, exp in expected.items():
        got = cols[name][:len(exp)]
        assert_close(got, exp, rtol=rtol, what=f"lr={lr} {name}")
        rel = float(np.max(np.abs(got / exp - 1)))
        worst = max(worst, (rel, f"{name} at lr {lr}"))
    return worst


def test_every_quantity_is_a_formula_of_the_row_above_and_the_names():
    wb = build(CLASS_WEIGHTS, CLASS_INPUTS, CLASS_TARGETS, 0.5, steps=3)
    ws = wb[SHEET]
    assert [ws[f"{column_letter(n)}{HEADER_ROW}"].value for n in COLUMNS] == list(COLUMNS)
    for k in range(4):
        row = FIRST_ROW + k
        for name in (*FORWARD_NAMES_BY_NEURON, *WEIGHT_GRAD_NAMES):
            value = ws[f"{column_letter(name)}{row}"].value
            assert isinstance(value, str) and value.startswith("="), (name, row, value)
            refs = {int(r) for _, r in CELL.findall(value)}
            assert refs == {row}, f"{name} in row {row} must read its own row: {value}"
        for name in WEIGHT_NAMES:
            value = ws[f"{column_letter(name)}{row}"].value
            if k == 0:
                assert isinstance(value, float)
            else:
                assert value == f"={column_letter(name)}{row - 1}-learning_rate*" \
                                f"{column_letter('d' + name)}{row - 1}"
    assert ws[f"A{FIRST_ROW + 4}"].value is None


def test_named_cells_hold_the_example_and_the_learning_rate():
    wb = build(CLASS_WEIGHTS, (0.05, 0.1), (0.01, 0.99), 0.8, steps=1)
    names = defined(wb)
    assert sorted(names) == ["input_i1", "input_i2", "learning_rate", "target_t1", "target_t2"]
    assert_close([names[n] for n in ("input_i1", "input_i2", "target_t1", "target_t2",
                                     "learning_rate")], [0.05, 0.1, 0.01, 0.99, 0.8], rtol=0)


def test_the_loss_chart_plots_E_total():
    ws = build(CLASS_WEIGHTS, CLASS_INPUTS, CLASS_TARGETS, 0.5, steps=10)[SHEET]
    (chart,) = ws._charts
    ref = chart.series[0].yVal.numRef.f
    col = column_letter("E_total")
    assert ref == f"'{SHEET}'!${col}${FIRST_ROW}:${col}${FIRST_ROW + 10}"


@pytest.mark.parametrize("lr", [0.5, 2.0])
def test_formulas_evaluated_in_python_match_the_manual_backend(lr):
    wb = build(CLASS_WEIGHTS, CLASS_INPUTS, CLASS_TARGETS, lr, steps=20)
    cols = read_rows(evaluate(wb[SHEET], defined(wb)), steps=20)
    # the sheet's formulas evaluated in Python: measured 0 (the manual backend's operations in
    # the same order); 4 eps64 allowed for another libm's exp
    compare_with_manual(cols, lr, steps=20, rtol=4 * 2.2e-16)


def test_cli_writes_refuses_to_overwrite_and_forces(tmp_path, capsys):
    out = tmp_path / "backprop.xlsx"
    assert main(["sheet", "--out", str(out), "--steps", "5", "--lr", "0.2"]) == 0
    wb = openpyxl.load_workbook(out)
    assert_close(defined(wb)["learning_rate"], 0.2, rtol=0, what="learning_rate")
    assert wb[SHEET][f"A{FIRST_ROW + 5}"].value == 5
    before = out.read_bytes()
    assert main(["sheet", "--out", str(out)]) == 2
    assert "already exists; pass --force" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert main(["sheet", "--out", str(out), "--force", "--steps", "2"]) == 0
    assert openpyxl.load_workbook(out)[SHEET][f"A{FIRST_ROW + 2}"].value == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["backprop.xlsx"]  # no temp files


@pytest.mark.parametrize("argv, message", [
    (["--out", "x.csv"], "must name an .xlsx file; got 'x.csv'"),
    (["--out", "no/such/dir/x.xlsx"], "does not exist"),
    (["--out", "x.xlsx", "--lr", "0"], "learning rate must be finite and > 0; got 0.0"),
    (["--out", "x.xlsx", "--lr", "nan"], "learning rate must be finite and > 0"),
    (["--out", "x.xlsx", "--steps", "0"], "steps must be >= 1; got 0"),
    (["--out", "x.xlsx", "--weights", "1,2"], "weights needs 8 comma-separated numbers"),
    (["--out", "x.xlsx", "--targets", "0.5,inf"], "must be finite"),
    ([], "the following arguments are required: --out"),
])
def test_bad_options_are_one_line_errors(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["sheet", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert list(tmp_path.iterdir()) == []


def _formula_cells(path) -> list[str]:
    ws = openpyxl.load_workbook(path)[SHEET]
    return [c.coordinate for row in ws.iter_rows() for c in row
            if isinstance(c.value, str) and c.value.startswith("=")]


@pytest.mark.parametrize("lr", [0.5, 2.0])
def test_cached_values_are_there_without_recalculation(lr, tmp_path):
    """openpyxl's data_only view (what pandas and previews see) holds a number in every formula
    cell: the manual backend's value, and the formulas' own value evaluated in Python."""
    out = tmp_path / "s.xlsx"
    assert main(["sheet", "--out", str(out), "--steps", "30", "--lr", str(lr)]) == 0
    cells = _formula_cells(out)
    assert len(cells) == 31 * (11 + 8) + 30 * 8  # nodes and gradients in every row, weights after 0
    cached = openpyxl.load_workbook(out, data_only=True)
    ws = cached[SHEET]
    assert all(isinstance(ws[c].value, float) for c in cells), "a formula cell has no value"
    values = {(c.column_letter, c.row): c.value for row in ws.iter_rows(min_row=FIRST_ROW)
              for c in row if isinstance(c.value, (int, float))}
    compare_with_manual(read_rows(values, 30), lr, steps=30, rtol=1e-15)
    wb = openpyxl.load_workbook(out)
    by_python = evaluate(wb[SHEET], defined(wb))
    for c in cells:
        col, row = re.match(r"([A-Z]+)(\d+)", c).groups()
        assert_close(ws[c].value, by_python[(col, int(row))], rtol=1e-12, what=c)
    assert wb.calculation.fullCalcOnLoad  # spreadsheet programs still recalculate


def test_cached_values_follow_an_edited_learning_rate(tmp_path):
    from autograd_compare.teach.sheet import write

    wb = build(CLASS_WEIGHTS, CLASS_INPUTS, CLASS_TARGETS, 0.5, steps=5)
    wb[SHEET]["B7"] = 2.0  # the learning_rate cell, as a student would change it
    path = write(wb, tmp_path / "edited.xlsx")
    ws = openpyxl.load_workbook(path, data_only=True)[SHEET]
    values = {(c.column_letter, c.row): c.value for row in ws.iter_rows(min_row=FIRST_ROW)
              for c in row if isinstance(c.value, (int, float))}
    compare_with_manual(read_rows(values, 5), 2.0, steps=5, rtol=1e-15)


def test_progress_counts_every_block_of_rows(tmp_path, monkeypatch, capsys):
    from autograd_compare.teach import sheet
    from tests.cli_helpers import record_progress

    monkeypatch.setattr(sheet, "ROW_BLOCK", 2)
    bars = record_progress(monkeypatch, "sheet")
    assert main(["sheet", "--out", str(tmp_path / "s.xlsx"), "--steps", "4"]) == 0
    (bar,) = bars
    assert bar.full() and bar.total == 3 + 2  # rows 0..4 in blocks of 2, saving, values
    assert bar.steps == ["rows of iterations 0..1", "rows of iterations 2..3",
                         "rows of iterations 4..4", "saving s.xlsx",
                         "adding the computed values"]
