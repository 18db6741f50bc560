"""Lab 15 exercise: the pieces of a Transformer's attention, in NumPy.

NumPy only (importing keras, tensorflow, torch or jax fails in the grader).
Check your work with `mlkeras check lab15.py`.
"""

import numpy as np


def positional_encoding(length, depth):
    """The sinusoidal table of Vaswani et al.: row p, channel 2i holds
    sin(p / 10000 ** (2i / depth)) and channel 2i + 1 the cosine of the same
    angle. Returns a float array of shape (length, depth)."""
    raise NotImplementedError


def causal_mask(size):
    """A bool (size, size) array, True where query i may attend to key j
    (j <= i)."""
    raise NotImplementedError


def padding_mask(tokens, pad_id=0):
    """A bool array shaped like `tokens` (batch, T), True where the token
    is not padding."""
    raise NotImplementedError


def scaled_dot_product_attention(q, k, v, mask=None):
    """softmax(q k^T / sqrt(d_k)) v over the last two axes.

    Args:
        q: (..., T, d_k); k: (..., S, d_k); v: (..., S, d_v).
        mask: optional bool array broadcastable to (..., T, S); True where a
            query may attend to a key. Masked keys get weight exactly 0.

    Returns:
        `(output, weights)`: (..., T, d_v) and (..., T, S).
    """
    raise NotImplementedError
