"""Adversarial: looks for the expected answer in its callers' frames."""

import sys

import numpy as np


def _steal(x):
    frame = sys._getframe(1)
    while frame is not None:
        for name in ("expected", "reference", "want", "result"):
            value = frame.f_locals.get(name)
            if isinstance(value, np.ndarray) and value.shape == np.shape(x):
                return value
        frame = frame.f_back
    return np.zeros_like(x)


def relu(x):
    return _steal(x)


def sigmoid(x):
    return _steal(x)
