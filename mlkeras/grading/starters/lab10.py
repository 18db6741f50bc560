"""Lab 10 exercise: the batch-normalisation forward pass, in NumPy.

NumPy only (importing keras, tensorflow, torch or jax fails in the grader).
Check your work with `mlkeras check lab10.py`.
"""

import numpy as np


def batchnorm_forward(
    x, gamma, beta, eps, training, moving_mean, moving_var, momentum
):
    """Batch normalisation over axis 0, as `keras.layers.BatchNormalization`.

    In training, normalise with the batch mean and (biased) variance and
    update moving = momentum * moving + (1 - momentum) * batch_statistic;
    in inference, normalise with the moving statistics and leave them as
    they are. y = gamma * (x - mean) / sqrt(var + eps) + beta.

    Args:
        x: float array of shape (n, features).
        gamma, beta, moving_mean, moving_var: float arrays of shape (features,).
        eps: a small float.
        training: a bool.
        momentum: a float in (0, 1).

    Returns:
        `(y, new_moving_mean, new_moving_var)`.
    """
    raise NotImplementedError
