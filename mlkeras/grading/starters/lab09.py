"""Lab 09 exercise: weight penalties and the early-stopping rule, in NumPy.

The penalties must equal what `keras.regularizers` adds to the loss; the
stopping rule must agree with `keras.callbacks.EarlyStopping`. NumPy only
(importing keras, tensorflow, torch or jax fails in the grader). Check your
work with `mlkeras check lab09.py`.
"""

import numpy as np


def l1_penalty(weights, l1=0.01):
    """l1 * sum(|w|), a float."""
    raise NotImplementedError


def l2_penalty(weights, l2=0.01):
    """l2 * sum(w ** 2), a float (Keras's L2 has no factor 1/2)."""
    raise NotImplementedError


def elastic_net_penalty(weights, l1=0.01, l2=0.01):
    """l1 * sum(|w|) + l2 * sum(w ** 2), a float."""
    raise NotImplementedError


def should_stop(history, patience, min_delta=0.0, mode="min"):
    """Whether early stopping would have stopped training within `history`.

    `history` holds the monitored value after each epoch (epoch 0 first).
    Keep `best` (none at first) and a counter `wait` = 0. After each epoch:
    wait += 1; if there is no best yet, or the value improves on best by
    more than min_delta (mode "min": value < best - min_delta; mode "max":
    value > best + min_delta), then best = value and wait = 0; otherwise,
    if wait >= patience and this is not epoch 0, training stops.

    Returns:
        True if training stops at some epoch of `history`, else False
        (a Python bool).
    """
    raise NotImplementedError
