"""Scaled dot-product attention: the function the transformer lab teaches."""

import math

from keras import ops


def scaled_dot_product_attention(query, key, value, mask=None):
    """Computes `softmax(query key^T / sqrt(d_k)) value` and the weights.

    Each query row is compared with every key row by a dot product; dividing
    by `sqrt(d_k)` keeps the logits' spread near one whatever the key size,
    so the softmax does not saturate. The weights of each query row sum to
    one over the keys it may see. A query row whose keys are all masked gets
    zero weights and a zero output (never NaN). The logits and the softmax
    are computed in float32; the results come in the inputs' dtype.

    Paper: [Attention Is All You Need](https://arxiv.org/abs/1706.03762).

    Args:
        query: a tensor of shape `(..., T, d_k)`.
        key: a tensor of shape `(..., S, d_k)`.
        value: a tensor of shape `(..., S, d_v)`.
        mask: optional boolean tensor broadcastable to `(..., T, S)`;
            `True` where a query may attend to a key. Defaults to `None`.

    Returns:
        A tuple `(output, weights)`: `output` of shape `(..., T, d_v)` and
        `weights` of shape `(..., T, S)`.

    Example:

    >>> q = np.random.normal(size=(2, 4, 8)).astype("float32")
    >>> out, w = scaled_dot_product_attention(q, q, q)
    >>> tuple(out.shape), tuple(w.shape)
    ((2, 4, 8), (2, 4, 4))

    References:
        - [Vaswani et al., 2017](https://arxiv.org/abs/1706.03762)
    """
    query = ops.convert_to_tensor(query)
    key = ops.convert_to_tensor(key)
    value = ops.convert_to_tensor(value)
    for name, tensor in (("query", query), ("key", key), ("value", value)):
        if len(tensor.shape) < 2:
            raise ValueError(
                f"`{name}` must have rank 2 or more. "
                f"Received: {name}.shape={tuple(tensor.shape)}"
            )
    if (
        query.shape[-1] is not None
        and key.shape[-1] is not None
        and (query.shape[-1] != key.shape[-1])
    ):
        raise ValueError(
            "`query` and `key` must have the same last dimension. Received: "
            f"query.shape={tuple(query.shape)}, key.shape={tuple(key.shape)}"
        )
    if (
        key.shape[-2] is not None
        and value.shape[-2] is not None
        and (key.shape[-2] != value.shape[-2])
    ):
        raise ValueError(
            "`key` and `value` must have the same length. Received: "
            f"key.shape={tuple(key.shape)}, value.shape={tuple(value.shape)}"
        )
    depth = query.shape[-1]
    scale = 1.0 / math.sqrt(float(depth))
    logits = ops.matmul(
        ops.cast(query, "float32") * scale,
        ops.swapaxes(ops.cast(key, "float32"), -1, -2),
    )
    if mask is not None:
        mask = ops.cast(mask, "bool")
        logits = ops.where(mask, logits, -1e9)
    weights = ops.softmax(logits, axis=-1)
    if mask is not None:
        weights = ops.where(mask, weights, 0.0)
    output = ops.matmul(weights, ops.cast(value, "float32"))
    return ops.cast(output, value.dtype), ops.cast(weights, value.dtype)
