"""A correct lab 15 submission."""

import numpy as np


def positional_encoding(length, depth):
    positions = np.arange(length)[:, None]
    channels = np.arange(depth)[None, :]
    angles = positions / 10000 ** ((channels // 2 * 2) / depth)
    return np.where(channels % 2 == 0, np.sin(angles), np.cos(angles))


def causal_mask(size):
    return np.tril(np.ones((size, size), dtype=bool))


def padding_mask(tokens, pad_id=0):
    return np.asarray(tokens) != pad_id


def scaled_dot_product_attention(q, k, v, mask=None):
    logits = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    if mask is not None:
        logits = np.where(mask, logits, -np.inf)
    logits = logits - logits.max(axis=-1, keepdims=True)
    weights = np.exp(logits)
    weights /= weights.sum(axis=-1, keepdims=True)
    return weights @ v, weights
