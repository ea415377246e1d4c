"""Verdicts (`harness.optim_check`, `report.sweep`): every mistake fails and is blamed, an
undetected mistake still fails, NaN counted alike, float32 rates rounded and checked."""

from __future__ import annotations

import json

import numpy as np

from autograd_compare.commands.cli import main
from autograd_compare.study import restarts as study
from tests.cli_helpers import entries


# --- family 5: verdicts -----------------------------------------------------------------------
def test_every_mistake_fails_alone_and_every_failing_one_is_blamed(cwd, capsys):
    from autograd_compare.manual.mistakes import MISTAKES

    names = [f"mistake:{k}" for k in MISTAKES]
    assert main(["--backends", ",".join(names), "--lrs", "0.5", "--steps", "3", "--json",
                 "--out", "all"]) == 1
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["reference"] == "manual"  # added: a correct one to compare with
    wrong_gradients = {n for n, r in result["gradcheck"]["largest_error_over_tolerance"].items()
                       if r == "inf" or r > 1}
    diverged = {n for n, b in result["per_lr"][0]["backends"].items() if b["first_divergence"]}
    assert wrong_gradients | diverged == set(names) and not result["undetected_mistakes"]
    for name in names:
        assert main(["--backends", name, "--targets", "30,-30", "--steps", "2", "--lrs", "0.5",
                     "--out", name.replace(":", "-")]) == 1, name
    capsys.readouterr()


def test_an_undetected_mistake_still_fails(cwd, capsys, monkeypatch):
    # update-sign with every difference hidden: no check catches it, and the run still fails
    from autograd_compare.harness import optim_check

    monkeypatch.setattr(optim_check, "check", _no_divergence(optim_check.check))
    assert main(["--backends", "manual,mistake:update-sign", "--lrs", "0.5", "--steps", "2",
                 "--out", "r"]) == 1
    out = capsys.readouterr().out
    assert "FAIL: mistake:update-sign agreed with the reference: a mistake backend is never a " \
           "pass" in out
    assert "OK:" not in out


def _no_divergence(check):
    def wrapped(*a, **k):
        r = check(*a, **k)
        hide = lambda comps: {n: c._replace(first_divergence=None)  # noqa: E731
                              for n, c in comps.items()}
        return r._replace(comparisons=hide(r.comparisons), steps=hide(r.steps), separations={},
                          first_divergence=None, ok=True)
    return wrapped


def test_nan_counts_the_same_in_restarts_as_in_the_main_job():
    nan, inf = float("nan"), float("inf")
    x = np.array([nan, inf, 1.0, nan, -inf, 2.0])
    y = np.array([nan, inf, 1.0, 1.0, inf, 2.0 + 1e-15])
    d = study._absdiff(x, y)
    assert d[:3].tolist() == [0.0, 0.0, 0.0]  # both NaN, the same inf, equal: agreement
    assert d[3] == inf and d[4] == inf  # NaN on one side, opposite infinities: divergence
    assert 0 < d[5] < 1e-14


def test_distinct_rates_get_distinct_plot_names(cwd, capsys):
    assert main(["--backends", "manual", "--lrs", "0.5,0.5000001", "--steps", "2",
                 "--out", "r"]) == 0
    files = json.loads((cwd / "r" / "report.json").read_text())["files"]
    assert "loss-lr-0.5.png" in files and "loss-lr-0.5000001.png" in files
    assert len(files) == len(set(files)) == len(entries(cwd / "r"))


def test_central_difference_tolerance_grows_with_e_total_not_with_the_gradient():
    from autograd_compare import network
    from autograd_compare.harness import network_check, tolerances
    from autograd_compare.interface import CLASS_WEIGHTS
    from autograd_compare.registry import get_network_backend

    net = network.TUTORIAL
    data = network.data(net, [[0.05, 0.1]], [[30.0, -30.0]])
    result = network_check.gradient_check([get_network_backend("manual")], net,
                                          np.array(CLASS_WEIGHTS), data)
    assert result.ok, result.first_failure
    row = next(r for r in result.rows if r.quantity == "dE_total/dw1")
    # the measured rounding error of the FD is far above the truncation allowance FD_RTOL ·
    # scale: it is E_total's rounding divided by 2h that the allowance must (and does) hold
    assert row.fd_ok and abs(row.finite_difference - row.complex_step) > (
        10 * tolerances.FD_RTOL * abs(row.complex_step))
    # and the allowance is not loose: the FD still agrees to 1e-4 relative
    assert abs(row.finite_difference - row.complex_step) < 1e-4 * abs(row.complex_step)


def test_float32_learning_rates_are_rounded_and_checked(cwd, capsys):
    assert main(["--dtype", "float32", "--backends", "manual", "--lrs", "0.1,0.1000000001",
                 "--out", "r"]) == 2
    assert "listed twice in float32" in capsys.readouterr().err
