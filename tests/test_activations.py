"""The activations leaky-relu[:slope], elu[:alpha], gelu, softplus and silu (issue 22).

Each one on a random 3-4-3-2 network against gradients worked out in 50-digit mpmath (the
forward pass from the definitions, `mpmath.diff` of it: no derivative rule of ours), in every
backend and in the complex-step reference; against PyTorch's own classes (nn.LeakyReLU, nn.ELU,
nn.GELU, nn.Softplus, nn.SiLU) and JAX's functions via `check_model`; at the edge points (z = 0,
large |z|); and the names' one-line errors, from Python and from the command line.
"""

from __future__ import annotations

import json
import math

import mpmath as mp
import numpy as np
import pytest

from autograd_compare import network
from autograd_compare.commands.cli import main
from autograd_compare.errors import InputError
from autograd_compare.harness import network_reference, optim_check
from autograd_compare.jax_impl import mlp as jax_mlp
from autograd_compare.manual import mlp as manual_mlp
from autograd_compare.optimizers import SGD
from autograd_compare.teach import prove
from autograd_compare.torch_impl import mlp as torch_mlp
from tests.cli_helpers import one_line
from tests.helpers import assert_close

NEW = ("leaky-relu", "leaky-relu:0.2", "elu", "elu:0.5", "gelu", "softplus", "silu")
BACKENDS = {"manual": manual_mlp, "torch": torch_mlp, "jax": jax_mlp}
RTOL = 2e-15  # float64, relative to the largest gradient entry (issue 22's acceptance)


# --- the 50-digit reference: definitions only ------------------------------------------------
def mp_activation(name: str, z):
    kind, p = network.activation_of(name)
    if kind == "leaky-relu":
        return z if z > 0 else mp.mpf(p) * z
    if kind == "elu":
        return z if z > 0 else mp.mpf(p) * mp.expm1(z)
    if kind == "gelu":
        return z * (1 + mp.erf(z / mp.sqrt(2))) / 2
    if kind == "softplus":  # nn.Softplus(): z itself above 20
        return z if z > 20 else mp.log(1 + mp.exp(z))
    if kind == "silu":
        return z / (1 + mp.exp(-z))
    assert kind == "sigmoid"
    return 1 / (1 + mp.exp(-z))


def mp_loss(net: network.Network, w, x, t):
    """½ Σ_b Σ_j (t_bj - a_bj)² of ``net`` (trainable biases) at the mpf parameters ``w``."""
    E = mp.mpf(0)
    for xb, tb in zip(x, t, strict=True):
        a = [mp.mpf(float(v)) for v in xb]
        for lay, f in zip(network.layout(net), net.activations, strict=True):
            rows, cols = lay.W_shape
            assert lay.b is not None
            a = [mp_activation(f, mp.fsum(w[lay.W.start + j * cols + k] * a[k]
                                          for k in range(cols)) + w[lay.b.start + j])
                 for j in range(rows)]
        E += mp.fsum((mp.mpf(float(tj)) - aj) ** 2 for tj, aj in zip(tb, a, strict=True)) / 2
    return E


def mp_gradient(net: network.Network, w: np.ndarray, data: network.Data) -> np.ndarray:
    """dE/dw_k by `mpmath.diff` of the 50-digit forward pass, rounded to float64 at the end."""
    with mp.workdps(50):
        base = [mp.mpf(float(v)) for v in w]

        def along(k: int):
            return lambda v: mp_loss(net, base[:k] + [v] + base[k + 1:], data.inputs,
                                     data.targets)

        return np.array([float(mp.diff(along(k), base[k])) for k in range(w.size)])


def random_case(name: str, seed: int = 5):
    """3-4-3-2, ``name`` in both hidden layers and sigmoid out, trainable biases, 5 examples
    spread so that z < 0 and z > 0 both occur in every hidden layer."""
    rng = np.random.default_rng(seed)
    net = network.make_network((3, 4, 3, 2), (name, name, "sigmoid"), "trainable")
    w = rng.uniform(-1, 1, network.n_params(net))
    d = network.data(net, rng.uniform(-2.5, 2.5, (5, 3)), rng.uniform(0, 1, (5, 2)))
    return net, w, d


def relative(g: np.ndarray, ref: np.ndarray) -> float:
    return float(np.max(np.abs(g - ref)) / np.max(np.abs(ref)))


@pytest.mark.parametrize("name", NEW)
def test_every_backend_and_the_reference_against_50_digits(name):
    net, w, d = random_case(name)
    z = manual_mlp.forward(net, w, d).z
    assert all((zl < 0).any() and (zl > 0).any() for zl in z[:2])  # both sides of 0
    ref = mp_gradient(net, w, d)
    for label, mod in BACKENDS.items():
        g = mod.gradients(net, w, d).w
        assert relative(g, ref) <= RTOL, (label, relative(g, ref))
    eye = np.eye(w.size)
    cs = network_reference.forward(net, w + 1e-20j * eye, d.inputs, d.targets).E.imag / 1e-20
    assert relative(cs, ref) <= RTOL, ("complex step", relative(cs, ref))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", NEW)
def test_the_gradient_and_trajectory_checks_pass(name, dtype):
    net, w, d = random_case(name, seed=11)
    w, d = network.weights(net, w, dtype), network.data(net, d.inputs, d.targets, dtype)
    r = optim_check.sweep(name, SGD, list(BACKENDS), net, w, d, (0.3,), 8, dtype)
    assert r.ok, r.first_divergence
    assert all(row.fd_ok for row in r.gradcheck.rows)


def test_a_wrong_derivative_fails_the_checks_and_the_proof(monkeypatch):
    """Mutation: GELU's z·φ(z) term dropped (f' = Φ), the classic product-rule slip."""
    real = manual_mlp.derivative

    def wrong(name, z, a):
        if name == "gelu":
            return manual_mlp.normal_cdf(z)
        return real(name, z, a)

    assert [v.name for v in prove.prove_activations(wrong) if not v.proved] == ["gelu"]
    monkeypatch.setattr(manual_mlp, "derivative", wrong)
    net, w, d = random_case("gelu", seed=11)
    r = optim_check.sweep("gelu", SGD, list(BACKENDS), net, w, d, (0.3,), 2)
    assert not r.gradcheck.ok and r.gradcheck.first_failure["backend"] == "manual"


def test_explain_prove_covers_the_new_activations():
    verdicts = prove.prove_activations()
    names = [v.name for v in verdicts]
    for kind in ("leaky-relu", "leaky-relu:0.2", "elu", "elu:0.5"):
        assert {f"{kind} (z > 0)", f"{kind} (z < 0)"} <= set(names)
    assert {"gelu", "silu", "softplus (z > 20)", "softplus (z < 20)"} <= set(names)
    assert all(v.proved and v.residual == "0" for v in verdicts)
    deltas = {v.name for v in prove.prove_delta_L() if v.proved}
    for name in ("gelu", "silu", "elu", "leaky-relu:0.25"):
        assert f"mse + {name} (mean)" in deltas or f"mse + {name} (mean) z < 0" in deltas


# --- against the frameworks' own classes ----------------------------------------------------
def _torch_model(module_factory, seed: int = 2):
    import torch

    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), module_factory(), torch.nn.Linear(4, 2),
                                module_factory()).double()
    return model


TORCH_CLASSES = {
    "leaky-relu:0.2": lambda: __import__("torch").nn.LeakyReLU(0.2),
    "leaky-relu": lambda: __import__("torch").nn.LeakyReLU(),
    "elu:0.5": lambda: __import__("torch").nn.ELU(alpha=0.5),
    "gelu": lambda: __import__("torch").nn.GELU(),
    "softplus": lambda: __import__("torch").nn.Softplus(),
    "silu": lambda: __import__("torch").nn.SiLU(),
}


@pytest.mark.parametrize("name", TORCH_CLASSES)
def test_check_model_against_the_torch_class(name):
    import torch

    from autograd_compare import check_model
    from autograd_compare.usermodel import describe_model

    model = _torch_model(TORCH_CLASSES[name])
    x = np.random.default_rng(4).uniform(-3, 3, (6, 3))
    if name == "softplus":  # one unit far above the threshold 20, where nn.Softplus gives z
        with torch.no_grad():
            model[0].bias[0] = 30.0
    y = np.random.default_rng(5).uniform(0, 1, (6, 2))
    net, w = describe_model(model)
    assert net.activations == (name, name)
    result = check_model(model, x, y, lr=0.05, steps=5)
    assert result.ok, (result.first_divergence, result.notes)
    assert all("model" in row.values for row in result.gradcheck.rows if "W" in row.quantity)
    # the class's own autograd, directly: ½Σ(t - y)² through the nn.Sequential
    xt, yt = torch.tensor(x), torch.tensor(y)
    model.zero_grad()
    (0.5 * ((yt - model(xt)) ** 2).sum()).backward()
    theirs = torch.nn.utils.parameters_to_vector(p.grad for p in model.parameters()).numpy()
    ours = manual_mlp.gradients(net, w, network.data(net, x, y)).w
    assert relative(ours, theirs) <= RTOL
    if name == "softplus":
        assert (manual_mlp.forward(net, w, network.data(net, x, y)).z[0] > 20).any()


@pytest.mark.parametrize("module, message", [
    ("GELU(approximate='tanh')", "only the exact nn.GELU() is supported"),
    ("Softplus(beta=2.0)", "only nn.Softplus() is supported (beta=1, threshold=20)"),
    ("Softplus(threshold=10.0)", "only nn.Softplus() is supported"),
    ("ELU(alpha=-1.0)", "layer 1 (ELU): elu's alpha must be a number > 0"),
])
def test_check_model_refuses_other_conventions_in_one_line(module, message):
    import torch

    from autograd_compare.usermodel import describe_model

    model = torch.nn.Sequential(torch.nn.Linear(2, 2), eval(f"torch.nn.{module}"))
    with pytest.raises(InputError) as err:
        describe_model(model)
    assert message in str(err.value) and "\n" not in str(err.value), str(err.value)


JAX_FUNCTIONS = {  # the name we read, and the JAX function the user's apply runs
    "leaky-relu:0.2": lambda z: __import__("jax").nn.leaky_relu(z, 0.2),
    "elu:0.5": lambda z: __import__("jax").nn.elu(z, 0.5),
    "gelu": lambda z: __import__("jax").nn.gelu(z, approximate=False),
    "softplus": lambda z: __import__("jax").nn.softplus(z),
    "silu": lambda z: __import__("jax").nn.silu(z),
}


@pytest.mark.parametrize("name", JAX_FUNCTIONS)
def test_check_model_against_the_jax_function(name):
    import jax.numpy as jnp

    from autograd_compare import check_model
    from autograd_compare.jax_impl.user_model import activation_name

    fn = JAX_FUNCTIONS[name]
    assert activation_name(fn, "test") == name  # recognised by its values
    rng = np.random.default_rng(8)
    params = [{"W": rng.uniform(-1, 1, (4, 3)), "b": rng.uniform(-1, 1, 4), "activation": name},
              {"W": rng.uniform(-1, 1, (2, 4)), "b": rng.uniform(-1, 1, 2),
               "activation": "sigmoid"}]

    def apply(ps, x):  # the user's own forward, with JAX's functions
        h = fn(x @ jnp.asarray(ps[0]["W"]).T + ps[0]["b"])
        return 1 / (1 + jnp.exp(-(h @ jnp.asarray(ps[1]["W"]).T + ps[1]["b"])))

    x, y = rng.uniform(-3, 3, (6, 3)), rng.uniform(0, 1, (6, 2))
    result = check_model(params, x, y, lr=0.05, steps=3, apply=apply)
    assert result.ok, (result.first_divergence, result.notes)


def test_check_model_of_an_equinox_mlp_with_the_new_activations():
    import equinox as eqx
    import jax

    from autograd_compare import check_model
    from autograd_compare.jax_impl.user_model import library_model

    mlp = eqx.nn.MLP(3, 2, 4, 2, activation=lambda z: jax.nn.elu(z, 0.5),
                     final_activation=jax.nn.silu, key=jax.random.PRNGKey(0))
    read = library_model(mlp)
    assert read is not None
    assert [layer["activation"] for layer in read[0]] == ["elu:0.5", "elu:0.5", "silu"]
    rng = np.random.default_rng(3)
    result = check_model(mlp, rng.uniform(-3, 3, (5, 3)), rng.uniform(0, 1, (5, 2)), lr=0.1,
                         steps=3)
    assert result.ok and "model" in result.gradcheck.largest


def test_jax_tanh_gelu_is_refused_with_a_hint():
    import jax

    from autograd_compare.jax_impl.user_model import activation_name

    with pytest.raises(InputError, match="tanh approximation of GELU.*approximate=False"):
        activation_name(jax.nn.gelu, "eqx.nn.MLP")


# --- edge points -----------------------------------------------------------------------------
def _one_unit(name: str, W: float, x: float):
    """1-1 network, trainable bias 0, one example x, target 1: dE/db = (f(z) - 1)·f'(z)."""
    net = network.make_network((1, 1), name, "trainable")
    return net, np.array([W, 0.0]), network.data(net, [[x]], [[1.0]])


@pytest.mark.parametrize("name, slope", [("leaky-relu", 0.01), ("leaky-relu:0.2", 0.2),
                                         ("elu", 1.0), ("elu:0.5", 0.5)])
def test_the_derivative_at_zero_is_torchs_left_one(name, slope):
    """f(0) = 0 and f'(0) = the slope (α), as torch's LeakyReLU/ELU backward gives it (JAX's
    own leaky_relu would give 1: the jax backend writes it with z > 0)."""
    zero = np.zeros(1)
    assert manual_mlp.activation(name, zero)[0] == 0.0
    assert_close(manual_mlp.derivative(name, zero, zero), [slope], rtol=0)
    net, w, d = _one_unit(name, 1.0, 0.0)  # z = 1·0 + 0 = 0 exactly
    for label, mod in BACKENDS.items():
        g = mod.gradients(net, w, d).w  # dE/dW = dE/db · x = 0, dE/db = (0 - 1)·f'(0)
        assert_close(g, [0.0, -slope], rtol=0, what=label)


def mp_derivative(name: str, z):
    """f'(z) in 50 digits from the textbook forms (proved against the definitions by
    `test_explain_prove_covers_the_new_activations`)."""
    s = 1 / (1 + mp.exp(-z))
    if name == "gelu":
        return (1 + mp.erf(z / mp.sqrt(2))) / 2 + z * mp.exp(-z * z / 2) / mp.sqrt(2 * mp.pi)
    if name == "softplus":
        return mp.mpf(1) if z > 20 else s
    return s * (1 + z * (1 - s))  # silu


@pytest.mark.parametrize("name", ["elu", "elu:0.5"])
def test_elu_derivative_keeps_its_precision_far_left(name):
    """α·e^z from z, not a + α from a: at z = -30 that sum keeps only ~3 digits of 4.7e-14."""
    z = np.array([-30.0, -300.0])
    alpha = network.activation_of(name).parameter
    with mp.workdps(50):
        want = [float(mp.mpf(alpha) * mp.exp(mp.mpf(v))) for v in z]
    fp = manual_mlp.derivative(name, z, manual_mlp.activation(name, z))
    assert_close(fp, want, rtol=4e-16)


@pytest.mark.parametrize("name", ["gelu", "softplus", "silu"])
@pytest.mark.parametrize("z", [-1e300, -1e4, -745.0, -40.0, 40.0, 745.0, 1e4, 1e300])
def test_large_z_without_overflow(name, z):
    """f(z) and f'(z) at large |z| as 50 digits give them (f -> 0 or z, f' -> 0 or 1), with no
    warning (pytest turns every warning into an error) and no floating-point exception."""
    arr = np.array([z])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        a = manual_mlp.activation(name, arr)
        fp = manual_mlp.derivative(name, arr, a)
        ref = network_reference.activation(name, arr + 0j)
    with mp.workdps(50):
        f_want, d_want = (float(mp_activation(name, mp.mpf(z))),
                          float(mp_derivative(name, mp.mpf(z))))
    tiny = 1e-300  # a subnormal result (e^-745) has no relative precision left
    assert_close(a, [f_want], rtol=1e-15, atol=tiny)
    assert_close(ref.real, [f_want], rtol=1e-15, atol=tiny)
    assert_close(fp, [d_want], rtol=1e-15, atol=tiny)
    if abs(z) <= 1e4:  # through every backend: E = ½(f(z) - 1)² at z = W·1
        net, w, d = _one_unit(name, z, 1.0)
        want = (f_want - 1) * d_want  # dE/db; dE/dW = the same · x
        for label, mod in BACKENDS.items():
            g = mod.gradients(net, w, d).w
            assert_close(g, [want, want], rtol=1e-15, atol=tiny, what=label)


# --- names: one spelling, one-line errors ----------------------------------------------------
def test_one_spelling_per_function():
    assert network.activation_name("leaky-relu:0.01") == "leaky-relu"  # PyTorch's default
    assert network.activation_name("leaky-relu:1e-1") == "leaky-relu:0.1"
    assert network.activation_name(" elu : 1 ") == "elu"
    assert network.activation_of("elu:0.5") == network.Activation("elu", 0.5)
    net = network.make_network((2, 3, 1), ("leaky-relu:0.20", "elu:1.0"))
    assert net.activations == ("leaky-relu:0.2", "elu")
    assert network.describe(net).startswith("2-3-1 leaky-relu:0.2,elu, ")


@pytest.mark.parametrize("name, message", [
    ("leaky-relu:abc", "leaky-relu's slope must be a finite number, as in leaky-relu:0.2; "
                       "got 'abc'"),
    ("leaky-relu:nan", "got 'nan'"),
    ("elu:-1", "elu's alpha must be a number > 0, as in elu:0.5; got '-1'"),
    ("elu:0", "got '0'"),
    ("gelu:2", "activation 'gelu' takes no parameter; got 'gelu:2'"),
    ("swish", "unknown activation 'swish'; expected one of sigmoid, tanh, relu, identity, "
              "softmax, log-softmax, leaky-relu[:slope], elu[:alpha], gelu, softplus, silu"),
])
def test_bad_names_are_one_line(name, message, capsys, tmp_path):
    with pytest.raises(InputError) as err:
        network.make_network((2, 1), name)
    assert message in str(err.value) and "\n" not in str(err.value)
    data = tmp_path / "d.csv"
    data.write_text("x1,x2,t\n0,1,1\n")
    one_line(["check", "--layers", "2,1", "--activations", name, "--data", str(data)], capsys,
             message)


def test_the_main_job_with_leaky_relu_from_the_command_line(tmp_path, capsys):
    rng = np.random.default_rng(9)
    rows = np.hstack([rng.uniform(-2, 2, (6, 3)), rng.uniform(0, 1, (6, 2))])
    data = tmp_path / "d.csv"
    lines = [",".join(repr(float(v)) for v in r) for r in rows]
    data.write_text("x1,x2,x3,t1,t2\n" + "\n".join(lines))
    out = tmp_path / "report"
    assert main(["--layers", "3,4,2", "--activations", "leaky-relu:0.2,sigmoid", "--bias",
                 "trainable", "--data", str(data), "--lrs", "0.5", "--steps", "5",
                 "--no-plots", "--out", str(out)]) == 0
    capsys.readouterr()
    found = json.loads(next(out.glob("*.json")).read_text())
    assert found["network"]["activations"] == ["leaky-relu:0.2", "sigmoid"]
    assert found["ok"] is True


def test_softplus_threshold_is_pytorchs():
    """Above z = 20 softplus is z itself (nn.Softplus's convention), 2.1e-9 below log(1 + e^z)."""
    assert network.SOFTPLUS_THRESHOLD == 20.0
    z = np.array([20.0, 20.5])
    assert_close(manual_mlp.activation("softplus", z), [math.log1p(math.exp(20.0)), 20.5],
                 rtol=1e-16)
    assert_close(manual_mlp.derivative("softplus", z, z), [1 / (1 + math.exp(-20.0)), 1.0],
                 rtol=1e-16)
