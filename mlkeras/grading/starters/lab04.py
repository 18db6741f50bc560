"""Lab 04 exercise: gradient descent steps and mini-batches, in NumPy.

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
