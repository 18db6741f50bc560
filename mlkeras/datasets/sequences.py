"""Sequence tasks for recurrent networks: adding problem, copy, reverse."""

import numpy as np

from mlkeras.datasets.toy import _check_count


def make_adding_problem(n_samples=1000, length=50, seed=0):
    """The adding problem of Hochreiter & Schmidhuber (1997).

    Each step carries two features: a random value in [0, 1) and a marker
    that is 1 at exactly two steps (one in each half of the sequence) and 0
    elsewhere. The target is the sum of the two marked values. Predicting
    the mean, 1.0, gives a mean squared error of about 1/6, the baseline a
    model must beat; doing so needs memory across the whole sequence.

    Args:
        n_samples: number of sequences.
        length: time steps per sequence (at least 2).
        seed: random seed.

    Returns:
        `(x, y)`: `x` float32 (n_samples, length, 2), `y` float32
        (n_samples, 1).

    Example:
    >>> x, y = make_adding_problem(4, length=10, seed=0)
    >>> x.shape, y.shape
    ((4, 10, 2), (4, 1))
    """
    _check_count("n_samples", n_samples, 1)
    _check_count("length", length, 2)
    rng = np.random.default_rng(seed)
    values = rng.uniform(0.0, 1.0, size=(n_samples, length))
    half = length // 2
    first = rng.integers(0, half, size=n_samples)
    second = rng.integers(half, length, size=n_samples)
    markers = np.zeros((n_samples, length))
    rows = np.arange(n_samples)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    x = np.stack([values, markers], axis=-1).astype("float32")
    y = (values[rows, first] + values[rows, second])[:, None].astype("float32")
    return x, y


def make_copy_task(
    n_samples=1000, length=10, vocab_size=10, reverse=False, seed=0
):
    """Random token sequences and their copy (or reversal).

    Tokens are drawn from 1..vocab_size-1; 0 is left free for padding.

    Args:
        n_samples: number of sequences.
        length: tokens per sequence.
        vocab_size: size of the token vocabulary including the padding id 0
            (at least 2).
        reverse: when True the target is the sequence reversed.
        seed: random seed.

    Returns:
        `(x, y)`: int32 arrays of shape (n_samples, length).
    """
    _check_count("n_samples", n_samples, 1)
    _check_count("length", length, 1)
    _check_count("vocab_size", vocab_size, 2)
    rng = np.random.default_rng(seed)
    x = rng.integers(1, vocab_size, size=(n_samples, length)).astype("int32")
    y = x[:, ::-1].copy() if reverse else x.copy()
    return x, y


def make_reverse_task(n_samples=1000, length=10, vocab_size=10, seed=0):
    """Random token sequences and their reversal; see `make_copy_task`."""
    return make_copy_task(
        n_samples, length, vocab_size, reverse=True, seed=seed
    )
