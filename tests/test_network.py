"""compare/network.py: the description, the flat parameter order, validation, presets, Iris."""

from __future__ import annotations

import numpy as np
import pytest

from autograd_compare import network
from autograd_compare.errors import InputError


def test_parameter_order_is_torch_parameters_to_vector():
    torch = pytest.importorskip("torch")
    net = network.make_network((3, 4, 2), ("tanh", "sigmoid"), "trainable")
    seq = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    vec = torch.nn.utils.parameters_to_vector(seq.parameters()).detach().numpy()
    assert vec.size == network.n_params(net) == 3 * 4 + 4 + 4 * 2 + 2
    lay = network.layout(net)
    np.testing.assert_array_equal(vec[lay[0].W].reshape(4, 3), seq[0].weight.detach().numpy())
    np.testing.assert_array_equal(vec[lay[0].b], seq[0].bias.detach().numpy())
    np.testing.assert_array_equal(vec[lay[1].W].reshape(2, 4), seq[2].weight.detach().numpy())
    np.testing.assert_array_equal(vec[lay[1].b], seq[2].bias.detach().numpy())


def test_tutorial_shape_is_w1_to_w8():
    p = network.preset("tutorial")
    assert network.param_names(p.network) == tuple(f"w{j}" for j in range(1, 9))
    assert network.node_names(p.network, "a", 2) == ("a_o1", "a_o2")
    lay = network.layout(p.network)
    assert (lay[0].W, lay[1].W) == (slice(0, 4), slice(4, 8))
    assert network.param_names(network.preset("xor").network)[:6] == (
        "W1[0,0]", "W1[0,1]", "W1[1,0]", "W1[1,1]", "b1[0]", "b1[1]")


@pytest.mark.parametrize("kwargs, message", [
    (dict(sizes=(2, 2), activations="softmax"), "softmax needs the cross-entropy"),
    (dict(sizes=(2, 2), activations="sigmoid", loss="cross-entropy"), "cross-entropy needs"),
    (dict(sizes=(2, 3, 2), activations=("softmax", "softmax"), loss="cross-entropy"),
     "last layer only"),
    (dict(sizes=(2, 2), activations="swish"), "unknown activation 'swish'"),
    (dict(sizes=(2, 2, 2), activations=("tanh",) * 3), "expected 2 activations"),
    (dict(sizes=(2,), activations="tanh"), "at least one layer"),
    (dict(sizes=(2, 0), activations="tanh"), "each >= 1"),
    (dict(sizes=(2, 2), activations="tanh", bias="frozen"), "needs bias values"),
    (dict(sizes=(2, 2), activations="tanh", bias="frozen", bias_values=[[1, 2, 3]]),
     "needs 1 or 2 values"),
    (dict(sizes=(2, 2), activations="tanh", bias="trainable", bias_values=[1]), "use bias"),
    (dict(sizes=(2, 2), activations="tanh", loss="l1"), "unknown loss 'l1'"),
    (dict(sizes=(2, 2), activations="tanh", reduction="none"), "unknown reduction"),
])
def test_bad_descriptions_are_one_line_input_errors(kwargs, message):
    with pytest.raises(InputError, match=message) as err:
        network.make_network(**kwargs)
    assert "\n" not in str(err.value)


def test_bad_values_are_one_line_input_errors():
    net = network.preset("xor").network
    with pytest.raises(InputError, match="has 9 parameters; got 8"):
        network.weights(net, np.zeros(8))
    with pytest.raises(InputError, match="finite"):
        network.weights(net, [np.nan] + [0.0] * 8)
    with pytest.raises(InputError, match=r"inputs must have shape \(B, 2\)"):
        network.data(net, [[1, 2, 3]], [[1]])
    with pytest.raises(InputError, match="2 input rows but 1 target rows"):
        network.data(net, [[1, 2], [3, 4]], [[1]])
    with pytest.raises(InputError, match="finite"):
        network.data(net, [[1, np.inf]], [[1]])
    with pytest.raises(InputError, match="unknown preset 'nope'"):
        network.preset("nope")


@pytest.mark.parametrize("text, message", [
    ("", "needs a header row"),
    ("a,b,t\n", "needs a header row"),
    ("a,b,t\n1,2\n", "line 2 has 2 columns; the network needs 3"),
    ("a,b,t\n1,x,0\n", "line 2, column 2 is not a number"),
    ("a,b,t\n1,2,0\n1,nan,1\n", "line 3, column 2 is not finite"),
])
def test_bad_csv(text, message):
    with pytest.raises(InputError, match=message):
        network.parse_csv(network.preset("xor").network, text, "f.csv")


def test_csv_round_trip(tmp_path):
    path = tmp_path / "xor.csv"
    path.write_text("x1,x2,t\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n")
    d = network.parse_csv(network.preset("xor").network, network.read_text(path), "xor.csv")
    np.testing.assert_array_equal(d.inputs, network.preset("xor").data.inputs)
    np.testing.assert_array_equal(d.targets, network.preset("xor").data.targets)


def test_iris_is_fishers_data():
    d = network.preset("iris").data
    assert d.inputs.shape == (150, 4) and d.targets.shape == (150, 3)
    np.testing.assert_array_equal(d.targets.sum(axis=0), [50, 50, 50])
    np.testing.assert_array_equal(d.targets.sum(axis=1), np.ones(150))
    # the published column means (Fisher 1936; the UCI copy's rows 35 and 38 differ)
    np.testing.assert_allclose(d.inputs.mean(axis=0), [5.843, 3.057, 3.758, 1.199], atol=5e-4)
    np.testing.assert_allclose(d.inputs.min(axis=0), [4.3, 2.0, 1.0, 0.1])
    np.testing.assert_allclose(d.inputs.max(axis=0), [7.9, 4.4, 6.9, 2.5])


def test_reduction_is_pytorchs():
    mse = network.make_network((2, 3), "identity", loss="mse", reduction="mean")
    ce = network.make_network((2, 3), "softmax", loss="cross-entropy", reduction="mean")
    assert network.reduction_scale(mse, 4) == 1 / 12  # MSELoss: mean over B·n elements
    assert network.reduction_scale(ce, 4) == 1 / 4  # CrossEntropyLoss: mean over B


def test_presets_are_valid():
    for name in network.PRESETS:
        p = network.preset(name)
        assert p.weights.shape == (network.n_params(p.network),)
        assert p.lr > 0 and p.steps >= 1
    m = network.preset("mazur").network
    assert m.bias_values == ((0.35, 0.35), (0.6, 0.6))
