"""Lab 15, wrong: merging the heads reshapes without moving the head axis
back, so each position gets features from other positions."""

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


def split_heads(x, num_heads):
    batch, steps, features = x.shape
    x = x.reshape(batch, steps, num_heads, features // num_heads)
    return x.transpose(0, 2, 1, 3)


def merge_heads(x):
    batch, heads, steps, depth = x.shape
    return x.reshape(batch, steps, heads * depth)


def multi_head_attention(query, value, wq, bq, wk, bk, wv, bv, wo, bo, num_heads):
    q = split_heads(query @ wq + bq, num_heads)
    k = split_heads(value @ wk + bk, num_heads)
    v = split_heads(value @ wv + bv, num_heads)
    heads, weights = scaled_dot_product_attention(q, k, v)
    return merge_heads(heads) @ wo + bo, weights
