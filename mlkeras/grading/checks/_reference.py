"""Helpers shared by the check modules: the Keras reference, loaded lazily.

Keras (and its backend) is imported on the first reference computation, in
the grader's process only; the sandboxed child never sees it.
"""

import numpy as np


def keras():
    """The `keras` module (imported on first use)."""
    import keras as keras_module

    return keras_module


def to_numpy(value, dtype=None):
    """A backend tensor as a NumPy array (optionally cast)."""
    array = np.asarray(keras().ops.convert_to_numpy(value))
    return array.astype(dtype) if dtype is not None else array


def random_shape(rng, ndim_choices=(1, 2, 3), low=2, high=7):
    """A random shape of 1 to 3 axes with sizes in [low, high)."""
    ndim = int(rng.choice(ndim_choices))
    return tuple(int(n) for n in rng.integers(low, high, size=ndim))
