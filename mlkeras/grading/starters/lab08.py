"""Lab 08 exercise: optimizer updates, state in and state out, in NumPy.

Each function takes the parameters, their gradient and the optimizer's
state, and returns the new parameters and the new state, following the
update rules `keras.optimizers` uses (the grader compares several steps in
a row with Keras). NumPy only (importing keras, tensorflow, torch or jax
fails in the grader). Check your work with `mlkeras check lab08.py`.
"""

import numpy as np


def sgd_momentum_step(w, grad, velocity, learning_rate=0.01, momentum=0.9):
    """SGD with momentum (not Nesterov):
    velocity = momentum * velocity - learning_rate * grad; w = w + velocity.

    Returns:
        `(w, velocity)`, float arrays of w's shape.
    """
    raise NotImplementedError


def rmsprop_step(w, grad, avg_sq, learning_rate=0.001, rho=0.9, epsilon=1e-7):
    """RMSprop: avg_sq = rho * avg_sq + (1 - rho) * grad**2;
    w = w - learning_rate * grad / sqrt(avg_sq + epsilon) (Keras adds
    epsilon under the square root, unlike Adam).

    Returns:
        `(w, avg_sq)`.
    """
    raise NotImplementedError


def adam_step(
    w,
    grad,
    m,
    v,
    t,
    learning_rate=0.001,
    beta_1=0.9,
    beta_2=0.999,
    epsilon=1e-7,
):
    """Adam, step number t (1 for the first step):
    m = m + (1 - beta_1) * (grad - m); v = v + (1 - beta_2) * (grad**2 - v);
    alpha = learning_rate * sqrt(1 - beta_2**t) / (1 - beta_1**t);
    w = w - alpha * m / (sqrt(v) + epsilon).

    Returns:
        `(w, m, v)`.
    """
    raise NotImplementedError
