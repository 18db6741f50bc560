"""Lab 06 exercise: weight initialisers, in NumPy.

NumPy only (importing keras, tensorflow, torch or jax fails in the grader).
Use `rng = np.random.default_rng(seed)` for the random numbers. The grader
checks the statistics of what you draw (spread, range, mean), and that the
same seed gives the same weights. Check your work with
`mlkeras check lab06.py`.
"""

import numpy as np


def glorot_uniform(fan_in, fan_out, seed):
    """Xavier/Glorot uniform: U(-limit, limit),
    limit = sqrt(6 / (fan_in + fan_out)).

    Returns:
        A float64 array of shape (fan_in, fan_out).
    """
    raise NotImplementedError


def he_normal(fan_in, fan_out, seed):
    """He normal, truncated as Keras does: draw from a normal with standard
    deviation s = sqrt(2 / fan_in) / 0.87962566103423978 and redraw every
    value farther than 2 s from 0 (the result has standard deviation
    sqrt(2 / fan_in)).

    Returns:
        A float64 array of shape (fan_in, fan_out).
    """
    raise NotImplementedError
