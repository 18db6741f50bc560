"""A correct lab 06 submission."""

import numpy as np


def glorot_uniform(fan_in, fan_out, seed):
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return np.random.default_rng(seed).uniform(-limit, limit, size=(fan_in, fan_out))


def he_normal(fan_in, fan_out, seed):
    rng = np.random.default_rng(seed)
    s = np.sqrt(2.0 / fan_in) / 0.87962566103423978
    w = rng.normal(scale=s, size=(fan_in, fan_out))
    bad = np.abs(w) > 2 * s
    while bad.any():
        w[bad] = rng.normal(scale=s, size=int(bad.sum()))
        bad = np.abs(w) > 2 * s
    return w
