"""A correct lab 10 submission."""

import numpy as np


def batchnorm_forward(x, gamma, beta, eps, training, moving_mean, moving_var, momentum):
    if training:
        mean, var = x.mean(axis=0), x.var(axis=0)
        moving_mean = momentum * moving_mean + (1 - momentum) * mean
        moving_var = momentum * moving_var + (1 - momentum) * var
    else:
        mean, var = moving_mean, moving_var
    y = gamma * (x - mean) / np.sqrt(var + eps) + beta
    return y, moving_mean, moving_var
