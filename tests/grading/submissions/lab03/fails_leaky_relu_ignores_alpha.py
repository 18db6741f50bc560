"""Lab 03, wrong: leaky_relu always uses 0.01."""

import numpy as np


def relu(x):
    return np.maximum(x, 0).astype(x.dtype)


def leaky_relu(x, alpha=0.01):
    return np.where(x >= 0, x, 0.01 * x).astype(x.dtype)


def sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)


def tanh(x):
    e = np.exp(-2 * np.abs(x))
    return (np.sign(x) * (1 - e) / (1 + e)).astype(x.dtype)


def softmax(z, axis=-1):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def swish(x):
    return x * sigmoid(x)


def gelu(x):
    c = np.sqrt(2 / np.pi).astype(x.dtype) if hasattr(np.sqrt(2 / np.pi), "astype") else np.sqrt(2 / np.pi)
    return (0.5 * x * (1 + np.tanh(c * (x + 0.044715 * x ** 3)))).astype(x.dtype)


def relu_grad(x):
    return (x > 0).astype(x.dtype)


def sigmoid_grad(x):
    s = sigmoid(x)
    return s * (1 - s)


def tanh_grad(x):
    t = tanh(x)
    return 1 - t * t
