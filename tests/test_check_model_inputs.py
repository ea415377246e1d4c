"""`check_model`'s inputs (`compare.usermodel`): bad data, tensors without real numbers, half
precision, backends, pytree layers: one-line `InputError`s."""

from __future__ import annotations

import numpy as np
import pytest

from autograd_compare import InputError, check_model


# --- API inputs (check_model) --------------------------------------------------------------
def _torch_model():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    return torch, torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Sigmoid(),
                                      torch.nn.Linear(2, 1))


X = np.array([[0.0, 0.0], [0.0, 1.0]])
Y = np.array([[0.0], [1.0]])
BAD_DATA = {
    "ragged": ([[0, 0], [1]], "ragged"), "object": (np.array([[0, 0], [1, "a"]], dtype=object),
                                                    "numbers"),
    "complex": (X + 1j, "not complex"), "bool": (X > 0, "not booleans"),
    "string": ("abc", "not text"), "strings": (np.array([["a", "b"]]), "numbers"),
}


@pytest.mark.parametrize("kind", BAD_DATA)
def test_check_model_refuses_bad_data_in_one_line(kind):
    _, model = _torch_model()
    value, fragment = BAD_DATA[kind]
    with pytest.raises(InputError, match=fragment) as err:
        check_model(model, value, Y[:1] if kind in ("string", "strings") else Y,
                    backends=("manual",), steps=2)
    assert "\n" not in str(err.value) and len(str(err.value)) < 300


@pytest.mark.parametrize("kind", ["meta", "sparse", "complex"])
def test_check_model_refuses_tensors_without_real_numbers(kind):
    torch, model = _torch_model()
    if kind == "meta":
        model = model.to("meta")
    elif kind == "sparse":
        model[0].weight = torch.nn.Parameter(model[0].weight.detach().to_sparse())
    else:
        model[0].weight = torch.nn.Parameter(model[0].weight.detach() + 1j)
    with pytest.raises(InputError, match="meta device|layout sparse|not complex"):
        check_model(model, X, Y, backends=("manual",), steps=2)


def test_check_model_reads_half_precision_exactly_and_refuses_complex_data():
    torch, model = _torch_model()
    half = check_model(model.to(torch.bfloat16), torch.tensor(X, dtype=torch.bfloat16), Y,
                       backends=("manual",), steps=2)
    assert half.ok
    with pytest.raises(InputError, match="not complex"):
        check_model(model, torch.tensor(X) + 1j, Y, backends=("manual",), steps=2)
    for bad in (torch.tensor(X).to_sparse(), torch.empty(2, 2, device="meta")):
        with pytest.raises(InputError):
            check_model(model, bad, Y, backends=("manual",), steps=2)


@pytest.mark.parametrize("backends,fragment", [(("manual", "manual"), "listed twice"),
                                               (("nope",), "unknown backend"),
                                               ("manual", "a tuple of names")])
def test_check_model_backends_are_checked(backends, fragment):
    _, model = _torch_model()
    with pytest.raises(InputError, match=fragment):
        check_model(model, X, Y, backends=backends, steps=2)


@pytest.mark.parametrize("layer", [{"W": [[1, "a"]]}, {"W": [[1 + 1j, 2]]},
                                   {"W": [[1, 2], [3]]}, {"W": [[1, 2]], "b": [True]}])
def test_pytree_layers_with_bad_numbers_are_input_errors(layer):
    with pytest.raises(InputError):
        check_model([{**layer, "activation": "sigmoid"}], X, Y, backends=("manual",), steps=2)
