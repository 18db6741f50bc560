"""Lab 14 exercise: attention scores and the context vector, in NumPy.

One decoder state `query` (batch, d) attends over the encoder states
`keys` (batch, T, d). NumPy only (importing keras, tensorflow, torch or jax
fails in the grader). Check your work with `mlkeras check lab14.py`.
"""

import numpy as np


def dot_score(query, keys):
    """Luong's dot score: score[b, t] = query[b] . keys[b, t].

    Returns (batch, T).
    """
    raise NotImplementedError


def additive_score(query, keys, W_q, W_k, v):
    """Bahdanau's additive score: v . tanh(query @ W_q + keys[:, t] @ W_k).

    Args:
        query: (batch, d_q); keys: (batch, T, d_k); W_q: (d_q, a);
        W_k: (d_k, a); v: (a,).

    Returns:
        (batch, T).
    """
    raise NotImplementedError


def cosine_score(query, keys):
    """Cosine similarity between query[b] and each keys[b, t].

    Returns (batch, T).
    """
    raise NotImplementedError


def attention_context(scores, values):
    """Softmax the scores over T, then average the values with those weights.

    Args:
        scores: (batch, T); values: (batch, T, d_v).

    Returns:
        `(context, weights)`: context (batch, d_v), weights (batch, T).
    """
    raise NotImplementedError
