"""Lab 04 exercise: a gradient derived by hand, gradient-descent steps and
mini-batches, in NumPy.

NumPy only (importing keras, tensorflow, torch or jax fails in the grader).
Check your work with `mlkeras check lab04.py`.
"""

import numpy as np


def gd_step(w, grad, learning_rate):
    """One plain gradient-descent update.

    Args:
        w: float array, the parameters.
        grad: float array of the same shape, the gradient of the loss at w.
        learning_rate: the step size, a float.

    Returns:
        A new array of w's shape and dtype: w - learning_rate * grad.
    """
    raise NotImplementedError


def minibatches(X, y, batch_size, seed):
    """Yields shuffled mini-batches that cover every sample exactly once.

    Shuffle the sample order with `np.random.default_rng(seed)` (the same
    seed gives the same order; a different seed, a different order), then
    yield `(X_batch, y_batch)` pairs of `batch_size` rows each; the last
    batch holds what is left. X_batch[j] and y_batch[j] must stay a pair.

    Args:
        X: array of shape (n, ...).
        y: array of shape (n, ...).
        batch_size: rows per batch, a positive int.
        seed: an int.

    Yields:
        Tuples `(X_batch, y_batch)` of arrays.
    """
    raise NotImplementedError


def logistic_loss_gradient(w, b, X, y):
    """The gradient of logistic regression's loss, derived by hand.

    The model predicts p = sigmoid(X @ w + b); the loss is the mean binary
    cross-entropy over the n rows, L = mean(-y log p - (1 - y) log(1 - p)).
    Derive dL/dw and dL/db on paper (the sigmoid's derivative cancels
    nicely), then write them here. The grader compares them with automatic
    differentiation.

    Args:
        w: float array (d,), the weights.
        b: a float, the bias.
        X: float array (n, d), the inputs.
        y: float array (n,) of 0s and 1s, the labels.

    Returns:
        `(dw, db)`: a float array (d,) and a float.
    """
    raise NotImplementedError
