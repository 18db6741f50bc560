"""Lab 15 exercise: the pieces of a Transformer's attention, in NumPy, up to
multi-head attention.

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


def split_heads(x, num_heads):
    """(batch, T, num_heads * d) -> (batch, num_heads, T, d): head h gets
    the features h * d to (h + 1) * d of every position."""
    raise NotImplementedError


def merge_heads(x):
    """(batch, num_heads, T, d) -> (batch, T, num_heads * d): the inverse
    of `split_heads` (the heads' outputs side by side, head 0 first)."""
    raise NotImplementedError


def multi_head_attention(
    query, value, wq, bq, wk, bk, wv, bv, wo, bo, num_heads
):
    """Multi-head attention: project, split, attend per head, merge,
    project.

    query @ wq + bq gives the queries of all heads side by side; split them
    into heads, do the same for the keys (value @ wk + bk) and the values
    (value @ wv + bv), run `scaled_dot_product_attention` in every head,
    merge the heads' outputs and apply the output projection wo, bo.

    Args:
        query: (batch, T, d_model); value: (batch, S, d_model).
        wq, wk: (d_model, num_heads * d_k); bq, bk: (num_heads * d_k,).
        wv: (d_model, num_heads * d_v); bv: (num_heads * d_v,).
        wo: (num_heads * d_v, d_out); bo: (d_out,).
        num_heads: the number of heads, an int.

    Returns:
        `(output, weights)`: (batch, T, d_out) and the attention weights
        of every head, (batch, num_heads, T, S).
    """
    raise NotImplementedError
