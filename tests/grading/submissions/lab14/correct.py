"""A correct lab 14 submission."""

import numpy as np


def dot_score(query, keys):
    return np.einsum("bd,btd->bt", query, keys)


def additive_score(query, keys, W_q, W_k, v):
    return np.tanh((query @ W_q)[:, None, :] + keys @ W_k) @ v


def cosine_score(query, keys):
    q = query / np.linalg.norm(query, axis=-1, keepdims=True)
    k = keys / np.linalg.norm(keys, axis=-1, keepdims=True)
    return np.einsum("bd,btd->bt", q, k)


def attention_context(scores, values):
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights /= weights.sum(axis=-1, keepdims=True)
    return np.einsum("bt,btd->bd", weights, values), weights
