"""Lab 01 exercise: the perceptron, in NumPy.

Fill in the three functions with NumPy only (importing keras, tensorflow,
torch or jax fails in the grader). Check your work with
`mlkeras check lab01.py`.
"""

import numpy as np


def step(z):
    """The threshold activation.

    Args:
        z: a float array of any shape.

    Returns:
        An integer array of the same shape: 1 where z >= 0, else 0.
    """
    raise NotImplementedError


def perceptron_predict(X, w, b):
    """The perceptron's output for every row of X: step(X @ w + b).

    Args:
        X: float array of shape (n, d).
        w: float array of shape (d,).
        b: the bias, a float.

    Returns:
        An integer array of shape (n,) holding 0s and 1s.
    """
    raise NotImplementedError


def perceptron_train(X, y, learning_rate=0.1, epochs=20):
    """Rosenblatt's learning rule.

    Start from w = zeros(d) (float64) and b = 0.0. In every epoch visit the
    samples in their given order (no shuffling); for sample i compute the
    error e = y[i] - perceptron_predict(X[i:i+1], w, b)[0] and update
    w += learning_rate * e * X[i] and b += learning_rate * e.

    Args:
        X: float array of shape (n, d).
        y: integer array of shape (n,) with labels 0 or 1.
        learning_rate: the step size. Defaults to `0.1`.
        epochs: passes over the data. Defaults to `20`.

    Returns:
        A tuple `(w, b)`: w a float64 array of shape (d,), b a float.
    """
    raise NotImplementedError
