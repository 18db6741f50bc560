"""A correct lab 05 submission."""

import numpy as np


def global_norm(grads):
    return float(np.sqrt(sum(np.sum(g ** 2) for g in grads)))


def clip_by_global_norm(grads, max_norm):
    norm = global_norm(grads)
    if norm <= max_norm:
        return [g.copy() for g in grads]
    return [g * (max_norm / norm) for g in grads]
