"""Fuzz suite (issue 13, family 6): generated option values for every command and generated
inputs for the API. Any value gives exit 0, 1 or 2 with no traceback and no warning (pytest
turns warnings into errors); exit 2 is one line and leaves nothing on disk; exit 0 or 1 leaves
complete reports only (report.json lists exactly the folder's files, no temporary folders).

Fixed budget: derandomized, ``max_examples`` per test, no deadline; ~40 s on two cores.
Values are small-valid, invalid, or huge (refused by the size budgets): never mid-sized, so
every example is quick.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograd_compare import get_backend, validate
from autograd_compare.commands.cli import main
from autograd_compare.errors import InputError

FUZZ = settings(deadline=None, derandomize=True, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def fuzz(examples: int) -> settings:
    """The fixed budget: ``examples`` derandomized examples, no deadline."""
    return settings(FUZZ, max_examples=examples)

ODD_TEXT = st.sampled_from([
    "", " ", "nan", "inf", "-inf", "1e400", "-1e400", "1e-400", "0", "-0", "-1", "abc", "1,2",
    "0x10", "1_000", "１", "1e308", "-1e308", "1e-320", "9" * 30, "1.5", "true", ",", ",,1",
    "é", "a\tb", "\x00", "=x", "--steps", "x" * 300])
HUGE_INT = st.integers(10**9, 10**40).map(str)


def small_int(lo: int, hi: int):
    small = st.integers(lo, hi).map(str)
    return st.one_of(small, small, small, ODD_TEXT, HUGE_INT, st.integers(-10, 0).map(str))


def number():
    return st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr),
                     st.floats(-3, 3).map(repr), st.integers(-5, 5).map(str), ODD_TEXT)


def numbers(count: int):
    good = st.lists(st.floats(-3, 3), min_size=count, max_size=count).map(
        lambda xs: ",".join(repr(x) for x in xs))
    any_ = st.lists(number(), min_size=0, max_size=count + 2).map(",".join)
    return st.one_of(good, good, good, any_, ODD_TEXT)  # mostly valid: the runs get far


LRS = st.one_of(st.lists(st.sampled_from(["0.1", "0.5", "1", "2", "1e-30", "1e300", "0.5"]),
                         min_size=1, max_size=3).map(",".join), numbers(2))
BACKENDS = st.lists(st.sampled_from(["manual", "torch", "jax", "mistake:update-sign",
                                     "mistake:mean-loss", "nope", "mistake:nope", ""]),
                    min_size=1, max_size=3).map(",".join)
RESTART_BACKENDS = st.lists(st.sampled_from(["manual", "mistake:update-sign", "nope", ""]),
                            min_size=1, max_size=2).map(",".join)  # JAX compiles per shape
OUT = st.sampled_from(["r", "taken", "rep ort", "é", "", ".", "..", "-r", "x" * 300, "r.xlsx",
                       "a/b", "afile/x"])


def options(spec: dict) -> st.SearchStrategy[list[str]]:
    """A strategy for argv: a subset of ``spec`` (flag -> value strategy or None for a
    switch), in any order, the ``=`` form used for values (they may start with a dash)."""
    def build(chosen):
        argv = []
        for flag, value in chosen:
            argv += [flag] if value is None else [f"{flag}={value}"]
        return argv
    pairs = [st.tuples(st.just(flag), st.none() if s is None else s) for flag, s in spec.items()]
    return st.lists(st.one_of(*pairs), max_size=len(spec) + 1).map(build)


BUDGET = ["--max-memory-mb", "1024", "--max-output-mb", "8"]  # last: these win (the frameworks
#                                              alone are 544 MB of the estimate: budget.libraries)


@contextlib.contextmanager
def sandbox():
    """A fresh working folder with a taken folder, an earlier report and a file in it."""
    old = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            Path("taken").mkdir()
            Path("taken", "mine.txt").write_text("keep")
            Path("afile").write_text("x")
            yield Path(tmp)
        finally:
            os.chdir(old)


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def check_outcome(root: Path, code: int, err: str, folders: bool = True) -> None:
    if os.environ.get("FUZZ_LOG"):
        with open(os.environ["FUZZ_LOG"], "a") as f:
            f.write(f"{code} {err.strip().splitlines()[-1][:100] if err.strip() else ''}\n")
    assert code in (0, 1, 2), (code, err)
    assert "Traceback" not in err and "Exception" not in err, err
    assert Path(root, "taken", "mine.txt").read_text() == "keep"  # never touched
    new = sorted(p.name for p in root.iterdir() if p.name not in ("taken", "afile"))
    if code == 2:
        lines = err.strip().splitlines()
        assert lines and lines[-1].startswith("autograd-compare: error: "), err
        assert len(lines[-1]) < 600, lines[-1]
        assert new == [], new  # nothing written
        return
    assert not [n for n in new if n.startswith(".")], new  # no temporary folders
    if folders:
        for name in new:
            report = json.loads(Path(root, name, "report.json").read_text())
            assert report["tool"] == "autograd-compare" and report["exit_code"] == code
            assert sorted(report["files"]) == sorted(os.listdir(Path(root, name)))


NETWORK = {"--weights": numbers(8), "--inputs": numbers(2), "--targets": numbers(2),
           "--dtype": st.sampled_from(["float64", "float32", "float16", "64", ""])}


@fuzz(20)
@given(options({"--lrs": LRS, "--steps": small_int(1, 4), "--backends": BACKENDS,
                "--out": OUT, "--force": None, "--json": None, **NETWORK}))
def test_main_job(argv):
    with sandbox() as root:
        code, _, err = run_cli(["--steps=3", "--lrs=0.5,2", *argv, *BUDGET])
        check_outcome(root, code, err)


def extreme(limit: float):
    """Valid but extreme floats: anything finite up to ``limit`` in size, tiny ones too."""
    return st.one_of(st.floats(-limit, limit), st.sampled_from([0.0, -0.0, limit, -limit]),
                     st.floats(-1e-300, 1e-300), st.floats(-3, 3))


@fuzz(25)
@given(st.lists(st.floats(1e-300, 1e300), min_size=1, max_size=2, unique=True),
       st.lists(st.one_of(extreme(1e100), extreme(1e300)), min_size=8, max_size=8),
       st.lists(extreme(1e100), min_size=2, max_size=2),
       st.lists(extreme(1e150), min_size=2, max_size=2),
       st.integers(1, 3), st.sampled_from(["float64", "float64", "float64", "float32"]),
       st.lists(st.sampled_from(["manual", "torch", "jax", "mistake:update-sign",
                                 "mistake:missing-e2-path"]), min_size=1, max_size=3,
                unique=True))
def test_main_job_extreme_valid_values(lrs, weights, inputs, targets, steps, dtype, backends):
    """Every value valid for the parser, many at the edge of float64: exit 0 or 1 with a
    complete report, or a one-line refusal (a value that does not fit float32, ...)."""
    join = lambda xs: ",".join(repr(x) for x in xs)  # noqa: E731
    with sandbox() as root:
        code, _, err = run_cli([f"--lrs={join(lrs)}", f"--weights={join(weights)}",
                                f"--inputs={join(inputs)}", f"--targets={join(targets)}",
                                f"--steps={steps}", f"--dtype={dtype}",
                                f"--backends={','.join(backends)}", "--out=r", *BUDGET])
        check_outcome(root, code, err)
        if any(b.startswith("mistake:") for b in backends) and code != 2:
            assert code == 1  # a mistake never passes


@fuzz(15)
@given(options({"--n": small_int(1, 40), "--steps": small_int(1, 6), "--seed": small_int(0, 9),
                "--distribution": st.sampled_from(["uniform", "normal", "cauchy", ""]),
                "--range": numbers(2), "--threshold": number(), "--chunk": small_int(1, 50),
                "--checkpoints": st.one_of(small_int(1, 5), ODD_TEXT),
                "--lrs": LRS, "--backends": RESTART_BACKENDS, "--targets": numbers(2),
                "--dtype": st.sampled_from(["float64", "float32", "x"]), "--out": OUT,
                "--force": None, "--json": None}))
def test_restarts(argv):
    with sandbox() as root:
        code, _, err = run_cli(["restarts", "--no-plots", "--n=16", "--steps=4", "--lrs=0.5,1",
                                *argv, *BUDGET])
        check_outcome(root, code, err)


@fuzz(6)
@given(options({"--n": small_int(1, 50), "--steps": small_int(1, 3),
                "--dtypes": st.sampled_from(["float64", "float32,float64", "float16", ""]),
                "--backends": st.sampled_from(["manual", "manual,manual", "nope", "jax"]),
                "--json": None}))
def test_bench(argv):
    with sandbox() as root:
        argv = ["bench", "--repeat", "1", "--backends", "manual", *argv]
        if not any(a.startswith("--n=") for a in argv) or "--n=" + "9" * 30 in argv:
            argv.append("--n=10")
        if any(a.startswith("--n=") and len(a) > 7 for a in argv):  # huge N: runs for hours
            argv.append("--n=10")
        if not any(a.startswith("--steps=") for a in argv):
            argv.append("--steps=2")
        code, _, err = run_cli(argv)
        check_outcome(root, code, err, folders=False)


@fuzz(15)
@given(options({"--out": st.sampled_from(["s.xlsx", "taken", "s.csv", "", "afile/s.xlsx",
                                          "x" * 300 + ".xlsx", "S.XLSX"]),
                "--force": None, "--lr": number(), "--steps": small_int(1, 5), **NETWORK}))
def test_sheet(argv):
    with sandbox() as root:
        code, _, err = run_cli(["sheet", "--out=s.xlsx", *argv, *BUDGET])
        check_outcome(root, code, err, folders=False)


@fuzz(15)
@given(options({"--lr": number(), "--weight": st.sampled_from(["w1", "w5", "a_h1", "w9", ""]),
                "--format": st.sampled_from(["text", "markdown", "html"]), **NETWORK}))
def test_explain(argv):
    with sandbox() as root:
        code, _, err = run_cli(["explain", *argv])
        check_outcome(root, code, err, folders=False)


@fuzz(8)
@given(st.lists(st.sampled_from(["--help", "-x", "--config", "c.toml", "--bogus", "extra"]),
                max_size=3), st.sampled_from(["", "x = 1\n", "\xff", "[t]\na=1\n"]))
def test_mistakes_and_config(argv, config):
    with sandbox() as root:
        Path("c.toml").write_text(config, encoding="latin-1")
        try:
            code, _, err = run_cli(["mistakes", *argv])
        except SystemExit as exit_:  # --help prints and exits 0, as argparse does
            code, err = exit_.code, ""
        Path("c.toml").unlink()
        check_outcome(root, code, err, folders=False)


@fuzz(25)
@given(st.dictionaries(st.sampled_from(["lrs", "steps", "backends", "dtype", "out", "force",
                                        "json", "weights", "targets", "bogus"]),
                       st.one_of(st.booleans(), st.integers(-3, 3), st.floats(),
                                 st.text(max_size=8), st.lists(st.floats(-2, 2), max_size=3),
                                 st.lists(st.booleans(), max_size=2)), max_size=4))
def test_config_files(config):
    def toml(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float):
            return "nan" if v != v else ("inf" if v == float("inf") else
                                         "-inf" if v == float("-inf") else repr(v))
        if isinstance(v, list):
            return "[" + ", ".join(toml(x) for x in v) + "]"
        return json.dumps(v) if isinstance(v, str) else repr(v)
    with sandbox() as root:
        text = "".join(f"{k} = {toml(v)}\n" for k, v in config.items())
        Path("c.toml").write_text(text, encoding="utf-8")
        if not {"steps"} & set(config):
            text += ""
        code, _, err = run_cli(["--config", "c.toml", "--steps", "2", "--backends", "manual",
                                *BUDGET])
        Path("c.toml").unlink()
        check_outcome(root, code, err)


# --- the API ---------------------------------------------------------------------------------
ELEMENT = st.one_of(st.floats(), st.integers(-10**20, 10**20), st.booleans(), st.text(max_size=3),
                    st.complex_numbers(max_magnitude=10), st.none())
ARRAYS = st.one_of(
    st.lists(ELEMENT, max_size=10),
    st.lists(st.floats(-5, 5), min_size=8, max_size=8),
    st.lists(st.lists(st.floats(-2, 2), max_size=3), max_size=3),
    st.builds(lambda xs, dt: np.asarray(xs).astype(dt),
              st.lists(st.floats(-5, 5), min_size=8, max_size=8),
              st.sampled_from([np.float64, np.float32, np.int64, np.complex128, bool, object,
                               np.float16, str])),
    ELEMENT)


@fuzz(150)
@given(ARRAYS, st.one_of(ELEMENT, st.integers(-3, 10**40)), st.one_of(ELEMENT, st.floats()),
       st.sampled_from(["float64", "float32"]))
def test_api_inputs(w, steps, lr, dtype):
    backend = get_backend("manual", dtype)
    for call in (lambda: backend.forward(w), lambda: backend.gradients(w),
                 lambda: backend.train(w, None, lr=lr, steps=steps),
                 lambda: validate.weights(w, np.dtype(dtype))):
        try:
            call()
        except InputError as err:
            text = str(err)
            assert "\n" not in text and len(text) < 300, text
        except (TypeError, ValueError) as err:  # any other error type is a failure
            pytest.fail(f"{type(err).__name__} instead of InputError: {err}")


@fuzz(40)
@given(st.one_of(ELEMENT, st.lists(st.text(max_size=5), max_size=2),
                 st.sampled_from(["manual", "torch", "jax", "mistake:update-sign",
                                  "mistake:", "Manual"])),
       st.one_of(ELEMENT, st.sampled_from(["float64", "float32", np.float32, "float16"])))
def test_api_get_backend(name, dtype):
    try:
        backend = get_backend(name, dtype)
    except InputError as err:
        assert "\n" not in str(err) and len(str(err)) < 300
    else:
        assert backend.dtype in (np.float64, np.float32)
