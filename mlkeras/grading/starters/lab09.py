"""Lab 09 exercise: dropout, weight penalties and the early-stopping rule, in
NumPy.

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


def dropout_forward(x, rate, training, seed):
    """Dropout, in training and at inference.

    In training, each entry of x is dropped (set to exactly 0) with
    probability `rate`, independently, using `np.random.default_rng(seed)`
    (the same seed gives the same mask), and the kept entries are divided
    by (1 - rate) so that the expected value of every entry is unchanged.
    At inference (`training=False`) x comes back unchanged.

    Args:
        x: a float array of any shape.
        rate: the probability of dropping an entry, in [0, 1).
        training: a bool.
        seed: an int.

    Returns:
        A float array shaped like x.
    """
    raise NotImplementedError


def masked_average_prediction(W1, b1, W2, b2, x, rate, n_masks, seed):
    """Measures the ensemble view of dropout on a small network.

    The network is out = dropout(relu(x @ W1 + b1)) @ W2 + b2, with dropout
    (training mode, `dropout_forward`) on its hidden layer. Run it
    `n_masks` times, each with a fresh random mask (draw the masks from
    `np.random.default_rng(seed)`), and return the average of the outputs.
    The grader compares your average with its own measurement on its own
    network and data.

    Args:
        W1: (d_in, hidden); b1: (hidden,); W2: (hidden, d_out);
        b2: (d_out,); x: (n, d_in).
        rate: the dropout rate, in [0, 1).
        n_masks: how many masked networks to average, a positive int.
        seed: an int.

    Returns:
        A float array (n, d_out).
    """
    raise NotImplementedError
