"""Adversarial: returns an ndarray subclass whose comparisons are always True."""

import numpy as np


class Agreeable(np.ndarray):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __array_function__(self, func, types, args, kwargs):
        return True


def relu(x):
    return np.zeros_like(x).view(Agreeable)


def sigmoid(x):
    return np.zeros_like(x).view(Agreeable)
