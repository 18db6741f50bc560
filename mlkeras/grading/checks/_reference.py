"""Helpers shared by the check modules: random inputs and model facts.

The expected values of the NumPy labs' checks come from `_formulas`, NumPy
alone; nothing here imports Keras.
"""

import numpy as np


def random_shape(rng, ndim_choices=(1, 2, 3), low=2, high=7):
    """A random shape of 1 to 3 axes with sizes in [low, high)."""
    ndim = int(rng.choice(ndim_choices))
    return tuple(int(n) for n in rng.integers(low, high, size=ndim))


def two_moons(rng, n, noise=0.15):
    """Two interleaving half circles (labels 0 and 1), float32, shuffled."""
    half = n // 2
    angle = rng.uniform(0, np.pi, size=n)
    upper = np.stack([np.cos(angle[:half]), np.sin(angle[:half])], axis=1)
    lower = np.stack(
        [1 - np.cos(angle[half:]), 0.5 - np.sin(angle[half:])], axis=1
    )
    X = np.concatenate([upper, lower]) + rng.normal(scale=noise, size=(n, 2))
    y = np.concatenate([np.zeros(half, "int64"), np.ones(n - half, "int64")])
    order = rng.permutation(n)
    return X[order].astype("float32"), y[order]


def dense_params(sizes):
    """Parameters of a stack of Dense layers with biases.

    `sizes` is `[in, h1, ..., out]`.
    """
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))


def top_level_classes(facts):
    """The class names of a remote model's layers, input layers left out."""
    return [
        layer["class"]
        for layer in facts.get("layers", [])
        if layer["class"] != "InputLayer"
    ]
