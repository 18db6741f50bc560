"""Adversarial: relu ends the process with os._exit(0); the other functions are correct."""

import os

import numpy as np


def relu(x):
    os._exit(0)


def leaky_relu(x, alpha=0.01):
    return np.where(x >= 0, x, alpha * x)


def sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))
