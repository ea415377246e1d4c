"""API inputs and the terminal (`compare.validate`): one-line `InputError`s for bad values,
NumPy/torch/JAX arrays accepted, user text escaped before it reaches a terminal."""

from __future__ import annotations

import json

import numpy as np
import pytest

from autograd_compare import InputError, get_backend, validate
from autograd_compare.commands.cli import main
from tests.cli_helpers import FAST, NET

# --- family 4: API inputs -------------------------------------------------------------------
W = [0.15, 0.2, 0.25, 0.3, 0.4, 0.45, 0.5, 0.55]


def _torch():
    return pytest.importorskip("torch")


API_BAD = [
    ("forward", lambda: ([1, [2, 3], *W[2:]],), "ragged"),
    ("forward", lambda: ("0.1,0.2",), "not text"),
    ("forward", lambda: ([str(x) for x in W],), "must be numbers"),
    ("forward", lambda: (np.array(W) + 1j,), "not complex"),
    ("forward", lambda: ([True, *W[1:]],), "not booleans"),
    ("forward", lambda: (np.ones(8, bool),), "not booleans"),
    ("forward", lambda: (np.array(W, dtype=object),), "object"),
    ("forward", lambda: (list(range(30_000)),), "expected 8 weights"),
    ("forward", lambda: (_torch().tensor(W[:5]),), "expected 8 weights (w1..w8); got 5"),
    ("forward", lambda: (_torch().tensor(W) + 1j,), "not complex"),
    ("train", lambda: (W, None, {"lr": 0.5, "steps": 10**30}), "steps must be at most"),
    ("train", lambda: (W, None, {"lr": 0.5, "steps": 2.0}), "whole number"),
    ("train", lambda: (W, None, {"lr": 0.5, "steps": True}), "whole number"),
    ("train", lambda: (W, None, {"lr": "0.5", "steps": 2}), "learning rate must be a number"),
    ("train", lambda: (W, None, {"lr": True, "steps": 2}), "learning rate must be a number"),
    ("train_batch", lambda: (np.ones((2, 8)) + 0j, [0.5, 0.5]), "not complex"),
    ("train_batch", lambda: (np.ones((2, 8)), ["a", "b"]), "must be numbers"),
]


# ids: a lambda's default id is its name; str() of it has its address, which differs between
# processes (pytest-xdist requires every worker to collect the same ids)
@pytest.mark.parametrize("method,args,fragment", API_BAD,
                         ids=lambda x: None if callable(x) else str(x)[:30])
def test_api_rejects_with_one_line_input_errors(method, args, fragment):
    backend = get_backend("manual")
    *positional, options = args() if isinstance(args()[-1], dict) else (*args(), {})
    with pytest.raises(InputError) as err:
        getattr(backend, method)(*positional, **options)  # lr, steps: keyword-only
    assert fragment in str(err.value) and "\n" not in str(err.value)
    assert len(str(err.value)) < 250 and "built-in method" not in str(err.value)


@pytest.mark.parametrize("name", [["manual"], None, 3, b"manual", "nope" * 1000])
def test_get_backend_with_a_bad_name_is_an_input_error(name):
    with pytest.raises(InputError) as err:
        get_backend(name)
    assert len(str(err.value)) < 250


def test_api_accepts_numpy_lists_torch_and_jax_arrays():
    torch = _torch()
    jnp = pytest.importorskip("jax.numpy")
    backend = get_backend("manual")
    expected = backend.forward(W).E_total
    for w in (np.array(W), tuple(W), np.array(W, np.float32).astype(np.float64),
              torch.tensor(W, dtype=torch.float64, requires_grad=True),
              torch.tensor(W, dtype=torch.float64).flip(0).flip(0),  # not contiguous
              jnp.asarray(np.array(W)),
              [int(x * 0) for x in W]):
        got = backend.forward(w).E_total
        assert got.dtype == np.float64 and np.isfinite(got)
    assert backend.forward(torch.tensor(W, dtype=torch.float64)).E_total == expected
    w_batch = torch.tensor([W, W], dtype=torch.float64, requires_grad=True)
    r = backend.train_batch(w_batch, torch.tensor([0.5, 0.5]), steps=2)
    assert r.final_weights.shape == (2, 8)


# --- the terminal ------------------------------------------------------------------------------
def test_terminal_text_escapes_control_characters_only():
    assert validate.terminal_text("a\x1b[2Jb\x07\x7f\x9b\u202e\tc\n") == \
        "a\\u001b[2Jb\\u0007\\u007f\\u009b\\u202e\tc\n"
    assert validate.terminal_text("E_total │ ½Σ(t-a)²") == "E_total │ ½Σ(t-a)²"
    assert json.loads(validate.terminal_text(json.dumps("\x7f\x1b"))) == "\x7f\x1b"


def test_user_text_reaches_the_terminal_escaped(cwd, capsys):
    evil = "\x1b[2J\x1b[31mEVIL\a"
    assert main([*FAST, "--out", evil]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\a" not in out and "\\u001b[2J" in out
    (cwd / "d.csv").write_text(f"{evil},b,t\n0,0,0\n0,1,1\n")
    assert main([*NET[:-1], "--data", "d.csv", "--out", "r2"]) == 0
    assert "\x1b" not in capsys.readouterr().out


@pytest.mark.parametrize("lr", ["5e-324", "0.00123", "1.2345678e-300"])
def test_table_columns_stay_apart_at_any_rate(lr, cwd, capsys):
    assert main(["--backends", "manual", "--lrs", f"{lr},1", "--steps", "2", "--json"]) == 0
    err = capsys.readouterr().err
    rate = f"{float(lr):g}"
    rows = [line for line in err.splitlines() if line.lstrip().startswith(rate)]
    assert len(rows) == 2, err  # the rates table and the claims table
    for row in rows:
        assert row.lstrip().startswith(rate + " "), row  # the next column kept apart
