"""A student's own backpropagation, as they would write it from the tutorial, used by
tests/test_plugins.py as ``--backends manual,tests.student_backprop:backprop``."""

import numpy as np


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def backprop(net, w, data):
    """The tutorial network's dE_total/dw1..dw8, the tutorial's notation, one example."""
    (i1, i2), (t1, t2) = data.inputs[0], data.targets[0]
    w1, w2, w3, w4, w5, w6, w7, w8 = w
    a_h1, a_h2 = sigmoid(w1 * i1 + w2 * i2), sigmoid(w3 * i1 + w4 * i2)
    a_o1, a_o2 = sigmoid(w5 * a_h1 + w6 * a_h2), sigmoid(w7 * a_h1 + w8 * a_h2)
    d_o1 = (a_o1 - t1) * a_o1 * (1 - a_o1)  # dE_total/do1
    d_o2 = (a_o2 - t2) * a_o2 * (1 - a_o2)
    d_h1 = (d_o1 * w5 + d_o2 * w7) * a_h1 * (1 - a_h1)  # dE_total/dh1
    d_h2 = (d_o1 * w6 + d_o2 * w8) * a_h2 * (1 - a_h2)
    return np.array([d_h1 * i1, d_h1 * i2, d_h2 * i1, d_h2 * i2,
                     d_o1 * a_h1, d_o1 * a_h2, d_o2 * a_h1, d_o2 * a_h2], dtype=w.dtype)


def forgot_hidden_sigma_prime(net, w, data):
    """The classic mistake: dE_total/dh1 without σ'(h1)."""
    (i1, i2), (t1, t2) = data.inputs[0], data.targets[0]
    w1, w2, w3, w4, w5, w6, w7, w8 = w
    a_h1, a_h2 = sigmoid(w1 * i1 + w2 * i2), sigmoid(w3 * i1 + w4 * i2)
    a_o1, a_o2 = sigmoid(w5 * a_h1 + w6 * a_h2), sigmoid(w7 * a_h1 + w8 * a_h2)
    d_o1, d_o2 = (a_o1 - t1) * a_o1 * (1 - a_o1), (a_o2 - t2) * a_o2 * (1 - a_o2)
    d_h1, d_h2 = d_o1 * w5 + d_o2 * w7, d_o1 * w6 + d_o2 * w8
    return np.array([d_h1 * i1, d_h1 * i2, d_h2 * i1, d_h2 * i2,
                     d_o1 * a_h1, d_o1 * a_h2, d_o2 * a_h1, d_o2 * a_h2], dtype=w.dtype)


def general(net, w, data):
    """Any fully connected network with sigmoid/tanh layers, ½Σ(t-a)² summed, no biases
    or trainable biases: the matrix form, (E, dE/dw)."""
    x, t = data.inputs, data.targets
    layers, at = [], 0
    for n_in, n_out in zip(net.sizes[:-1], net.sizes[1:]):
        W = w[at:at + n_out * n_in].reshape(n_out, n_in)
        at += n_out * n_in
        b = None
        if net.bias == "trainable":
            b, at = w[at:at + n_out], at + n_out
        layers.append((W, b))
    acts, a = [x], x
    for (W, b), act in zip(layers, net.activations):
        z = a @ W.T + (0 if b is None else b)
        a = sigmoid(z) if act == "sigmoid" else np.tanh(z)
        acts.append(a)
    E = 0.5 * np.sum((t - a) ** 2)
    delta, grads = a - t, []
    for l in range(len(layers) - 1, -1, -1):
        a_l, act = acts[l + 1], net.activations[l]
        delta = delta * (a_l * (1 - a_l) if act == "sigmoid" else 1 - a_l ** 2)
        W, b = layers[l]
        grads = [(delta.T @ acts[l]).ravel()] + ([] if b is None else [delta.sum(0)]) + grads
        delta = delta @ W
    return E, np.concatenate(grads).astype(w.dtype)


def as_float32(net, w, data):
    return backprop(net, w, data).astype(np.float32)


def wrong_shape(net, w, data):
    return backprop(net, w, data)[:7]


def raises(net, w, data):
    return {"no": "gradients"}["w9"]
