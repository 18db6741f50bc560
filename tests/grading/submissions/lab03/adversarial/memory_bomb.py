"""Adversarial: relu allocates memory until something gives; sigmoid is correct."""

import numpy as np


def relu(x):
    hoard = []
    while True:
        hoard.append(np.empty(2**27))


def sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))
