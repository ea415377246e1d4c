"""The report folder: files complete or absent, never overwritten, contents as documented."""

from __future__ import annotations

import csv
import json
import os
import re
import struct
from pathlib import Path

import numpy as np
import pytest

from autograd_compare.commands.cli import main
from autograd_compare.errors import InputError
from autograd_compare.report import output

FIELDS_DOC = Path(__file__).resolve().parents[1] / "docs" / "main-job.md"  # report.json fields
REPORT_DOC = FIELDS_DOC.parent / "report.md"  # the fields report.html's branch added


@pytest.fixture(scope="module")
def rep(tmp_path_factory) -> tuple[Path, dict, int]:
    """One real run with plots: manual, torch, jax and a mistake, two rates, 7 steps."""
    out = tmp_path_factory.mktemp("run") / "rep"
    code = main(["--lrs", "0.5,2", "--steps", "7", "--out", str(out),
                 "--backends", "manual,torch,jax,mistake:update-sign"])
    return out, json.loads((out / "report.json").read_text()), code


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", data[16:24])


def test_folder_has_every_file_and_the_pngs_have_their_size(rep):
    out, result, code = rep
    assert code == 1
    names = ["report.json", "trace.csv", "nodes.csv", "loss-lr-0.5.png", "loss-lr-2.png",
             "loss-all-lrs.png", "differences.png", "network.svg", "network.png",
             "landscape.png", "report.html"]
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    assert result["files"] == names and result["report_dir"] == str(out)
    # 7 x 4.9 in, 9 x 5.4 in, 9 x 5.6 in at 110 dpi (the title's two lines: the optimizer)
    assert _png_size(out / "loss-lr-0.5.png") == (770, 539)
    assert _png_size(out / "loss-all-lrs.png") == (990, 594)
    assert _png_size(out / "differences.png") == (990, 616)


def test_csv_has_a_row_per_lr_backend_and_step(rep):
    out, _, _ = rep
    rows = list(csv.reader((out / "trace.csv").read_text().splitlines()))
    weights = [f"w{j}" for j in range(1, 9)]
    assert rows[0] == ["lr", "backend", "step", *weights, "E_total", *(f"d{w}" for w in weights)]
    assert len(rows) == 1 + 2 * 4 * (7 + 1)  # rates x backends x states 0..7
    first = dict(zip(rows[0], rows[1], strict=True))
    assert (first["lr"], first["backend"], first["step"], first["w1"]) == ("0.5", "manual", "0",
                                                                           "0.15")
    assert float(first["E_total"]) == pytest.approx(0.014181377937891657, rel=1e-15, abs=0)
    last = dict(zip(rows[0], rows[8], strict=True))
    assert last["step"] == "7" and last["dw1"] == "" and last["E_total"] != ""
    nodes = list(csv.reader((out / "nodes.csv").read_text().splitlines()))
    assert nodes[0][8:] == ["h1", "h2", "a_h1", "a_h2", "o1", "o2", "a_o1", "a_o2"]
    assert float(nodes[1][8]) == pytest.approx(0.0275, rel=1e-15, abs=0)  # h1 = w1·i1 + w2·i2


def test_json_fields_are_the_documented_ones(rep):
    _, result, _ = rep
    section = "".join(doc.read_text().split("## report.json fields")[1].split("\n## ")[0]
                      for doc in (FIELDS_DOC, REPORT_DOC))
    documented = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", section))
    backends = set(result["backends"])

    def keys(obj):
        if isinstance(obj, dict):
            for k, v in obj.items():
                if k not in backends:  # backend names are data, not fields
                    yield k
                yield from keys(v)
        elif isinstance(obj, list):
            for v in obj:
                yield from keys(v)

    assert set(keys(result)) - documented == set()
    assert set(result) <= documented


def test_json_on_stdout_equals_report_json(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("autograd_compare.report.sweep.write_pictures", lambda *a, **k: [])
    out = tmp_path / "rep"
    assert main(["--lrs", "1", "--steps", "2", "--backends", "manual", "--out", str(out),
                 "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.out == (out / "report.json").read_text()
    assert "Gradient check" in captured.err and "Gradient check" not in captured.out


def test_existing_folder_is_never_overwritten_without_force(tmp_path, capsys):
    out = tmp_path / "rep"
    out.mkdir()
    (out / "mine.txt").write_text("keep")
    assert main(["--steps", "1", "--lrs", "1", "--backends", "manual", "--out", str(out)]) == 2
    assert "already exists; pass --force" in capsys.readouterr().err
    assert main(["--steps", "1", "--lrs", "1", "--backends", "manual", "--out", str(out),
                 "--force"]) == 2  # not a report: --force refuses too
    assert "not one" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["mine.txt"]


def test_force_replaces_an_earlier_report(tmp_path, monkeypatch):
    monkeypatch.setattr("autograd_compare.report.sweep.write_pictures", lambda *a, **k: [])
    out = tmp_path / "rep"
    args = ["--steps", "1", "--backends", "manual", "--out", str(out)]
    assert main(args + ["--lrs", "1"]) == 0
    assert main(args + ["--lrs", "2", "--force"]) == 0
    assert json.loads((out / "report.json").read_text())["lrs"] == [2.0]
    assert [p.name for p in tmp_path.iterdir()] == ["rep"]  # no temporary folders left


def test_a_failure_while_writing_leaves_nothing(tmp_path):
    def fill(folder):
        (folder / "report.json").write_text("{")
        raise OSError("disk full")

    with pytest.raises(OSError):
        with output.Destination(tmp_path / "rep", force=False) as dest:
            dest.commit(fill)
    assert list(tmp_path.iterdir()) == []


def test_out_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        output.check_out(tmp_path / "f", force=True)


def test_unwritable_out_is_one_line_exit_2(capsys):
    assert main(["--backends", "manual", "--lrs", "0.5", "--steps", "2",
                 "--out", "/proc/no-such-place/report"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("autograd-compare: error: cannot create report folder")
    assert "\n" not in err


def test_report_folder_is_not_private(tmp_path):
    out = tmp_path / "rep"
    assert main(["--backends", "manual", "--lrs", "0.5", "--steps", "2", "--out", str(out)]) == 0
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask


def test_json_shape_is_the_documented_one_field_by_field(rep):
    """The dict edge of the named results: every object's keys, in order (report.json is API)."""
    _, result, _ = rep
    assert list(result) == ["tool", "version", "ok", "exit_code", "source", "network",
                            "examples", "data", "start", "parameters", "optimizer", "lrs",
                            "steps", "dtype", "backends", "reference", "first_divergence",
                            "undetected_mistakes", "gradcheck", "per_lr", "diagnosis",
                            "report_dir", "files", "claims"]
    assert result["diagnosis"] == [{  # update-sign: named from its first update
        "backend": "mistake:update-sign", "seen": "the first update at lr 0.5",
        "mistakes": [{"name": "update-sign", "sentence": "w + lr·dE/dw: the step goes uphill"}]}]
    assert list(result["claims"][0]) == ["lr", "E_total_start", "steps", "tutorial_iterations",
                                         "E_total_at_tutorial_step_fraction", "first_step_below",
                                         "sentence"]
    assert result["backends"] == ["manual", "torch", "jax", "mistake:update-sign"]
    assert (result["source"], result["reference"], result["start"]) == (
        "preset tutorial", "manual", [0.15, 0.2, 0.25, 0.3, 0.4, 0.45, 0.5, 0.55])
    first = ["backend", "step", "quantity", "label", "value", "reference", "difference",
             "tolerance", "check"]
    assert list(result["first_divergence"]) == [*first, "lr"]
    assert result["first_divergence"]["label"] == "w1 after step 1"  # update-sign's first
    r = result["per_lr"][0]
    assert list(r) == ["lr", "ok", "first_divergence", "largest", "backends", "final_loss"]
    assert list(r["largest"]) == ["backend", "abs", "ratio", "where"]
    assert list(r["backends"]) == ["torch", "jax", "mistake:update-sign"]
    for name, b in r["backends"].items():  # the backend is the key
        assert list(b) == ["verdict", "largest", "first_divergence", "compared", "step_check",
                           "trajectory", "separation"]
        assert (b["first_divergence"] is None) == (name != "mistake:update-sign")
    assert list(r["final_loss"]) == result["backends"]
    g = result["gradcheck"]
    assert list(g) == ["ok", "rows", "first_failure", "largest_error_over_tolerance"]
    assert g["ok"] and g["rows"] == 16 and g["first_failure"] is None  # update-sign: right
    assert list(g["largest_error_over_tolerance"]) == result["backends"]  # gradients


def test_json_of_a_single_backend_has_no_difference_to_report(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["--backends", "manual", "--lrs", "1", "--steps", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["per_lr"][0]["largest"] == {"backend": None, "abs": 0.0, "ratio": 0.0,
                                              "where": ""}
    assert result["per_lr"][0]["backends"] == {} and result["first_divergence"] is None


def test_the_any_network_words_redraw_each_rate_as_if_alone(tmp_path):
    """plots.draw with a title under every title and the log axis (the any-network job's
    words): a rate drawn after one whose loss spans decades (log axis) is the same picture,
    byte for byte, as drawn alone (linear axis); the names are plots.files'."""
    from autograd_compare.report import plots

    steps = np.arange(31, dtype=np.float64)
    decades = plots.Curves(0.5, True, "manual", {"manual": 10.0 ** -steps / 3,
                                                 "torch": 10.0 ** -steps / 3},
                           {"torch": (np.zeros((30, 4)), np.ones(4))})
    flat = plots.Curves(0.1, False, "manual", {"manual": 1 - steps / 100,
                                               "torch": 1 - steps / 90},
                        {"torch": (np.full((30, 4), 1e-3), np.full(4, 1e-4))})
    words = plots.Words("E", "update k", "Learning rate {lr:g}: E ({verdict})", "E, every rate",
                        "Largest |difference| from {reference}", 1, "adam, 30 steps,\nfloat64",
                        log=True)
    (tmp_path / "both").mkdir()
    (tmp_path / "alone").mkdir()
    names = plots.draw(tmp_path / "both", [decades, flat], words)
    assert names == plots.files([0.5, 0.1]) == ["loss-lr-0.5.png", "loss-lr-0.1.png",
                                                 plots.ALL_LRS_FILE, plots.DIFF_FILE]
    plots.draw(tmp_path / "alone", [flat], words, per_lr=True)
    assert (tmp_path / "both" / names[1]).read_bytes() == \
        (tmp_path / "alone" / names[1]).read_bytes()
    assert plots.draw(tmp_path / "alone", [flat], words, per_lr=False) == \
        plots.files([0.1], per_lr=False) == [plots.ALL_LRS_FILE, plots.DIFF_FILE]


@pytest.mark.parametrize(("lr", "n"), [(0.8, 80), (float(np.float32(0.8)), 80),
                                       (float(np.float32(2.0)), 25), (0.81, None), (0.9, None)])
def test_claims_find_the_tutorial_rate_nearest_to_a_float32_rate(lr, n):
    from autograd_compare.report import claims
    assert claims.check(lr, [1.0, 0.5] * 50).tutorial == n


# --- the pictures' questions, axes and lines (in process, on the figures themselves) --------
def _words(**kw):
    from autograd_compare.report import plots

    return plots.Words("E_total", "update k", "Learning rate {lr:g}: alike? {verdict}",
                       "Does E_total fall at every learning rate? {answer}",
                       "Within tolerance of {reference}?\n{answer}", 1, "sgd", **kw)


def _falling(lr: float, factor: float, steps: int = 100):
    """E_total falling geometrically by ``factor`` over ``steps`` (from the class example's
    0.0142), the same in manual and torch, torch 1e-18 away at every update."""
    from autograd_compare.report import plots

    E = 0.0142 * factor ** (-np.arange(steps + 1) / steps)
    return plots.Curves(lr, True, "manual", {"manual": E, "torch": E.copy()},
                        {"torch": (np.full((steps, 3), 1e-18), np.full(3, 1e-14))})


@pytest.mark.parametrize(("factor", "scale"), [(23.0, "log"), (1e4, "log"), (9.0, "linear")])
def test_loss_axis_is_log_past_one_decade_and_says_so(factor, scale):
    """sgd at lr 0.5 on the class example falls 23-fold in 100 steps: log axis (the linear one
    flattened its last 40 steps); 9-fold stays linear; the y label names the scale."""
    from autograd_compare.report import plots

    plt = plots.pyplot()
    fig = plots._loss_all_lrs(plt, [_falling(0.5, factor)], _words(log=True))
    ax = fig.axes[0]
    assert ax.get_yscale() == scale
    assert ax.get_ylabel() == f"E_total ({scale} scale)"
    assert ax.get_title().startswith("Does E_total fall at every learning rate? Yes (manual)\n")
    plt.close(fig)


def test_fall_answer_names_the_rates_that_do_not_fall():
    from autograd_compare.report import plots

    up = _falling(0.1, 1 / 3)  # rises threefold
    nan = _falling(2.0, 10.0)
    nan.loss["manual"][-1] = np.nan  # diverged: the last loss is not a number
    assert plots.fall_answer([_falling(0.1, 2), _falling(0.5, 23)]) == "Yes, at all 2 (manual)"
    assert plots.fall_answer([_falling(0.5, 23)]) == "Yes (manual)"
    assert plots.fall_answer([_falling(0.5, 23), up, nan]) == "No: not at lr 0.1, 2 (manual)"


def test_differences_draw_one_line_per_backend_the_largest_over_rates_and_quantities():
    """Two rates, two backends, three quantities: torch's line at update k is the largest
    |diff|/tolerance over both rates and the three quantities (worked out by hand below);
    exactly one line per backend plus the tolerance at 1; the title answers from them."""
    from autograd_compare.report import plots

    tol = np.array([1e-14, 1e-14, 2e-14])
    a = plots.Curves(0.1, True, "manual", {"manual": np.ones(4)},
                     {"torch": (np.array([[1e-16, 0, 0], [0, 0, 0], [0, 0, 4e-16]]), tol),
                      "jax": (np.zeros((3, 3)), tol)})
    b = plots.Curves(2.0, True, "manual", {"manual": np.ones(3)},  # one update fewer
                     {"torch": (np.array([[0, 3e-16, 0], [0, 0, 1e-16]]), tol),
                      "jax": (np.array([[0, 0, 1e-16], [0, 0, 0]]), tol)})
    worst = plots.worst_ratios([a, b])
    # torch: max(0.01, 0.03), max(0, 0.005), max(0.02, nothing); jax: 0.005, 0, 0
    np.testing.assert_allclose(worst["torch"], [0.03, 0.005, 0.02], rtol=1e-12)
    np.testing.assert_allclose(worst["jax"], [0.005, 0.0, 0.0], rtol=1e-12)
    plt = plots.pyplot()
    fig = plots._differences(plt, [a, b], _words())
    ax = fig.axes[0]
    assert len(fig.axes) == 1 and len(ax.lines) == 3  # torch, jax, the tolerance
    torch_line, jax_line, tolerance = ax.lines
    np.testing.assert_allclose(torch_line.get_ydata(), [0.03, 0.005, 0.02], rtol=1e-12)
    assert np.isnan(jax_line.get_ydata()[1:]).all()  # exactly equal: a gap on the log axis
    assert list(torch_line.get_xdata()) == [1, 2, 3] and list(tolerance.get_ydata()) == [1, 1]
    assert ax.get_yscale() == "log"
    assert ax.get_title().split("\n")[:2] == ["Within tolerance of manual?",
                                              "Yes, at most 3 % of it"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "torch\nat most 3 % of the tolerance", "jax\nat most 0.5 % of the tolerance",
        "the tolerance (fail above)"]
    plt.close(fig)
    over = a._replace(diff={"torch": (np.full((3, 3), 2e-14), tol), "jax": (np.zeros((3, 3)), tol)})
    assert plots.agree_answer(plots.worst_ratios([over, b])) == "No: torch goes above it"
    assert plots.agree_answer({}) == "Nothing to compare: one backend only"
    zero = a._replace(diff={"torch": (np.full((3, 3), 1e-20), np.zeros(3))})  # 0 tolerance
    assert plots.worst_ratios([zero])["torch"].tolist() == [np.inf] * 3
    assert plots.agree_answer(plots.worst_ratios([zero])) == "No: torch goes above it"
    assert plots.share(0.0044) == "0.44 % of" and plots.share(5.8e11) == "5.8e+11 ×"
