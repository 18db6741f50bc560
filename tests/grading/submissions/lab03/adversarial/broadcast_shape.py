"""Adversarial: returns one row that broadcasts against the expected array."""

import numpy as np


def relu(x):
    return np.maximum(x, 0).reshape(-1)[: x.shape[-1]].reshape(1, -1)


def sigmoid(x):
    out = 1 / (1 + np.exp(-x))
    return out.reshape(-1)[: x.shape[-1]].reshape(1, -1)
