"""`autograd-compare exercise`: the student's file, the teacher's key, the check with the
mistake named (compare/teach/exercise.py)."""

from __future__ import annotations

import json

import pytest

from autograd_compare.commands.cli import main
from autograd_compare.teach import exercise
from tests import golden
from tests.cli_helpers import one_line
from tests.helpers import assert_close

KEY = exercise.template("key.py", answers=True)
DW5 = "return (n.a_o1 - n.t1) * n.a_o1 * (1 - n.a_o1) * n.a_h1"
DW1 = "return (d_o1(n) * n.w5 + d_o2(n) * n.w7) * n.a_h1 * (1 - n.a_h1) * n.i1"
DW8 = "return (n.a_o2 - n.t2) * n.a_o2 * (1 - n.a_o2) * n.a_h2"


def _file(tmp_path, text, name="mine.py"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def _check(path, capsys):
    code = main(["exercise", "--check", path, "--json"])
    return code, {a["weight"]: a for a in json.loads(capsys.readouterr().out)["answers"]}


def test_the_exercise_is_written_once_and_starts_blank(cwd, capsys):
    assert main(["exercise"]) == 0
    text = (cwd / "exercise.py").read_text()
    assert text.count("return None  # your formula here") == 8
    assert "dE_total/dw1 = dE_total/da_h1 · da_h1/dh1 · dh1/dw1" in text  # the notation
    capsys.readouterr()
    one_line(["exercise"], capsys, "exercise.py exists; keep your answers")
    assert (cwd / "exercise.py").read_text() == text  # kept
    code, answers = _check("exercise.py", capsys)
    assert code == 1 and {a["status"] for a in answers.values()} == {"blank"}
    assert main(["exercise", "--answers", "--force"]) == 0
    assert "return None" not in (cwd / "exercise.py").read_text()


def test_the_key_is_right_and_its_numbers_are_the_50_digit_ones(tmp_path, capsys):
    code, answers = _check(_file(tmp_path, KEY), capsys)
    assert code == 0 and all(a["status"] == "right" for a in answers.values())
    want = golden.class_example()["dw"]
    for k, name in enumerate(exercise.WEIGHT_NAMES):
        assert_close(answers[name]["yours"], want[k], 1e-15, what=name)
        assert_close(answers[name]["expected"], want[k], 1e-15, what=name)


@pytest.mark.parametrize("old, new, weight, likely", [
    (DW5, "return (n.a_o1 - n.t1) * n.a_h1", "w5", "σ'(o1) left out"),
    (DW5, "return (n.t1 - n.a_o1) * n.a_o1 * (1 - n.a_o1) * n.a_h1", "w5",
     "every gradient negated"),
    (DW5, "return 2 * (n.a_o1 - n.t1) * n.a_o1 * (1 - n.a_o1) * n.a_h1", "w5",
     "d/da of ½(t - a)² taken as 2(a - t)"),
    (DW1, "return (d_o1(n) * n.w5) * n.a_h1 * (1 - n.a_h1) * n.i1", "w1",
     "the path through o2 and E2 is forgotten"),
    (DW1, "return (d_o1(n) * n.w5 + d_o2(n) * n.w7) * n.i1", "w1", "σ'(h1) left out"),
    (DW8, "return (n.a_o1 - n.t1) * n.a_o1 * (1 - n.a_o1) * n.a_h2", "w8",
     "it is dE_total/dw6, another weight's gradient"),
    (DW8, "return (n.a_o2 - n.t2) * n.a_o2 * (1 - n.a_o2) * n.a_h2 + 1e-3", "w8",
     "no known mistake matches"),
])
def test_a_wrong_formula_is_wrong_alone_with_its_likely_mistake(old, new, weight, likely,
                                                                tmp_path, capsys):
    assert old in KEY
    code, answers = _check(_file(tmp_path, KEY.replace(old, new, 1)), capsys)
    assert code == 1
    assert [w for w, a in answers.items() if a["status"] != "right"] == [weight]
    assert likely in answers[weight]["detail"], answers[weight]["detail"]
    assert "at the class example" in answers[weight]["detail"]


def test_a_number_typed_in_is_caught_at_other_weights(tmp_path, capsys):
    typed = KEY.replace(DW5, "return 0.01288081863162825", 1)  # right at the class example
    code, answers = _check(_file(tmp_path, typed), capsys)
    assert code == 1 and answers["w5"]["status"] == "wrong"
    assert "at random weight set 1" in answers["w5"]["detail"]


def test_the_students_errors_are_answers_not_tracebacks(tmp_path, capsys):
    broken = KEY.replace(DW5, "return 1 / 0", 1).replace(DW8, "return 'half'", 1)
    assert main(["exercise", "--check", _file(tmp_path, broken)]) == 1
    out = capsys.readouterr().out
    assert "dE_total/dw5  WRONG  raised ZeroDivisionError: division by zero" in out
    assert "dE_total/dw8  WRONG  returned str, not a number" in out
    assert out.rstrip().endswith("6 of 8 right, 2 wrong, 0 not filled in yet")


@pytest.mark.parametrize("argv, fragment", [
    (["exercise", "--check", "nothing.py"], "cannot load it"),
    (["exercise", "--check", "notes.txt"], "--check needs a .py file"),
    (["exercise", "--out", "key.txt"], "must end in .py"),
    (["exercise", "--json"], "--json goes with --check"),
])
def test_bad_use_is_one_line(argv, fragment, cwd, capsys):
    one_line(argv, capsys, fragment)


def test_a_file_without_the_functions_is_one_line(tmp_path, capsys):
    one_line(["exercise", "--check", _file(tmp_path, "x = 1\n")], capsys,
             "has no function dE_total_dw5")


def test_a_syntax_error_names_its_line(tmp_path, capsys):
    bad = KEY.replace(DW5, "return (n.a_o1 - n.t1", 1)
    one_line(["exercise", "--check", _file(tmp_path, bad)], capsys, "a Python syntax error")
