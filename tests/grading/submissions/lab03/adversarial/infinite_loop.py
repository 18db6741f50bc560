"""Adversarial: relu never returns; sigmoid is correct."""

import numpy as np


def relu(x):
    while True:
        pass


def sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))
