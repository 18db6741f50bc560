"""Lab 05, wrong: clipping always divides by the norm (NaN for zero gradients)."""

import numpy as np


def global_norm(grads):
    return float(np.sqrt(sum(np.sum(g ** 2) for g in grads)))


def clip_by_global_norm(grads, max_norm):
    norm = np.float64(global_norm(grads))
    with np.errstate(invalid="ignore", divide="ignore"):
        return [g * min(1.0, max_norm / norm) if norm > max_norm else g * (norm / norm)
                for g in grads]


def _activate(z, activation):
    if activation == "sigmoid":
        h = 1 / (1 + np.exp(-z))
        return h, h * (1 - h)
    if activation == "tanh":
        h = np.tanh(z)
        return h, 1 - h**2
    return np.maximum(z, 0), (z > 0).astype(z.dtype)


def layer_gradient_norms(weights, biases, x, activation):
    inputs, slopes, h = [], [], x
    for W, b in zip(weights, biases):
        inputs.append(h)
        h, slope = _activate(h @ W + b, activation)
        slopes.append(slope)
    dh = np.ones_like(h) / len(x)  # dL/dh_last
    norms = []
    for W, h_in, slope in zip(weights[::-1], inputs[::-1], slopes[::-1]):
        dz = dh * slope
        norms.append(np.linalg.norm(h_in.T @ dz))
        dh = dz @ W.T
    return np.array(norms[::-1])
