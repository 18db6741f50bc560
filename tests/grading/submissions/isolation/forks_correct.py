"""An honest, correct solution that starts a few processes at import
(the classmate a process-starving attacker would hurt)."""

import os

import numpy as np

for _ in range(3):
    _started = time_left = 0
    for _ in range(8):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)


def relu(x):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return np.maximum(x, 0).astype(x.dtype)


def leaky_relu(x, alpha=0.01):
    return np.where(x >= 0, x, alpha * x).astype(x.dtype)


def sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype)
