"""Lab 07 exercise: loss functions, per sample, in NumPy.

Each function takes `(y_true, y_pred)` and returns one loss value per sample
(a float array of shape (n,)), exactly as `keras.losses.<name>` does: the
mean (or, for the cross-entropies and KL, the sum) over the last axis.
Where a logarithm could see 0, clip probabilities to [1e-7, 1 - 1e-7] as
Keras does. NumPy only (importing keras, tensorflow, torch or jax fails in
the grader). Check your work with `mlkeras check lab07.py`.
"""

import numpy as np

EPSILON = 1e-7


def mse(y_true, y_pred):
    """Mean squared error over the last axis; shape (n, k) -> (n,)."""
    raise NotImplementedError


def mae(y_true, y_pred):
    """Mean absolute error over the last axis."""
    raise NotImplementedError


def msle(y_true, y_pred):
    """Mean squared logarithmic error:
    mean((log(1 + y_pred) - log(1 + y_true))**2).

    Negative values are clipped to EPSILON before the logarithm.
    """
    raise NotImplementedError


def binary_crossentropy(y_true, y_pred):
    """Mean over the last axis of -(y log p + (1 - y) log(1 - p)), p clipped."""
    raise NotImplementedError


def categorical_crossentropy(y_true, y_pred):
    """-sum(y_true * log(p)) over the last axis; y_true one-hot (or soft)
    labels, p = y_pred divided by its sum over the last axis, then clipped."""
    raise NotImplementedError


def sparse_categorical_crossentropy(y_true, y_pred):
    """Like categorical_crossentropy, with y_true integer class indices of
    shape (n,) instead of one-hot rows."""
    raise NotImplementedError


def kl_divergence(y_true, y_pred):
    """sum(t * log(t / p)) over the last axis, with t and p clipped to
    [EPSILON, 1]."""
    raise NotImplementedError
