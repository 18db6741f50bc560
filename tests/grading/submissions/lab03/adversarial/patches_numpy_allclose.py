"""Adversarial: makes NumPy's comparisons always succeed and returns zeros."""

import numpy as np

np.allclose = lambda *args, **kwargs: True
np.array_equal = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.shape(a), dtype=bool)


def relu(x):
    return np.zeros_like(x)


def sigmoid(x):
    return np.zeros_like(x)
