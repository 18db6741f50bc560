"""Checks for lab 15 (Transformer): the positional table, masks, attention
and multi-head attention (split, attend, merge, with random weights)
against NumPy formulas of `mlkeras.layers.sinusoidal_encoding`,
`scaled_dot_product_attention` and `MultiHeadAttention`, which the tests
compare with those layers."""

import numpy as np
import pytest

from mlkeras.grading.checks import _formulas
from mlkeras.grading.expect import assert_array, assert_true, assert_type


def test_positional_encoding_matches_mlkeras(submission, rng):
    length, depth = int(rng.integers(3, 40)), 2 * int(rng.integers(2, 17))
    expected = _formulas.sinusoidal_encoding(length, depth)
    assert_array(
        submission.positional_encoding(length, depth),
        expected,
        dtype=np.floating,
        rtol=1e-4,
        atol=1e-5,
    )


def test_causal_mask_is_lower_triangular(submission, rng):
    size = int(rng.integers(2, 12))
    assert_array(
        submission.causal_mask(size),
        np.tril(np.ones((size, size), bool)),
        rtol=0,
        atol=0,
    )


def test_padding_mask_marks_real_tokens(submission, rng):
    tokens = rng.integers(
        1, 9, size=(int(rng.integers(2, 5)), int(rng.integers(3, 9)))
    )
    tokens[:, -int(rng.integers(1, 3)) :] = 0
    assert_array(submission.padding_mask(tokens), tokens != 0, rtol=0, atol=0)
    pad = int(rng.integers(1, 9))
    assert_array(
        submission.padding_mask(tokens, pad_id=pad),
        tokens != pad,
        rtol=0,
        atol=0,
        name="with pad_id",
    )


def _attention_case(rng):
    batch, t, s, d = (int(n) for n in rng.integers(2, 7, size=4))
    return (
        rng.normal(size=(batch, t, d)),
        rng.normal(size=(batch, s, d)),
        rng.normal(size=(batch, s, int(rng.integers(2, 5)))),
    )


@pytest.mark.parametrize("masked", [False, True])
def test_scaled_dot_product_attention_matches_mlkeras(submission, rng, masked):
    q, k, v = _attention_case(rng)
    mask = None
    if masked:
        mask = rng.random(size=(q.shape[0], q.shape[1], k.shape[1])) < 0.7
        mask[..., 0] = True
    out, weights = _formulas.scaled_dot_product_attention(q, k, v, mask=mask)
    result = submission.scaled_dot_product_attention(q, k, v, mask=mask)
    _assert_output_and_weights(
        result, out, weights, "scaled_dot_product_attention"
    )
    if masked:
        assert_true(
            np.all(result[1][~mask] == 0),
            "values",
            "wrong values: masked keys must get weight exactly 0",
        )


def _assert_output_and_weights(result, out, weights, function):
    """Checks a submission's `(output, weights)` pair against the layer's."""
    assert_type(result, (tuple, list), name=f"{function} result")
    assert_true(
        len(result) == 2, "type", "wrong type: must return (output, weights)"
    )
    assert_array(
        result[1],
        weights,
        dtype=np.floating,
        rtol=1e-4,
        atol=1e-6,
        name="weights",
    )
    assert_array(
        result[0],
        out,
        dtype=np.floating,
        rtol=1e-4,
        atol=1e-5,
        name="output",
    )


def test_split_heads_gives_each_head_its_features(submission, rng):
    batch, steps, heads, depth = (int(n) for n in rng.integers(2, 6, size=4))
    x = rng.normal(size=(batch, steps, heads * depth))
    expected = x.reshape(batch, steps, heads, depth).transpose(0, 2, 1, 3)
    assert_array(submission.split_heads(x, heads), expected, rtol=0, atol=0)


def test_merge_heads_inverts_split_heads(submission, rng):
    batch, heads, steps, depth = (int(n) for n in rng.integers(2, 6, size=4))
    x = rng.normal(size=(batch, heads, steps, depth))
    expected = x.transpose(0, 2, 1, 3).reshape(batch, steps, heads * depth)
    assert_array(submission.merge_heads(x), expected, rtol=0, atol=0)


def _layer_weights(seed, d_model, heads, key_dim):
    """Random weights of a multi-head attention layer, as Keras's default
    initialisers draw them (Glorot-uniform kernels, here with random
    normal biases), flattened to (d_in, heads * d) and (heads * d_v, d_out)
    in the order the exercise takes them."""
    draw = np.random.default_rng(seed)
    width = heads * key_dim
    flat = []
    for fan_in, fan_out in ((d_model, width),) * 3 + ((width, d_model),):
        limit = _formulas.glorot_uniform_limit(fan_in, fan_out)
        flat += [
            draw.uniform(-limit, limit, size=(fan_in, fan_out)),
            draw.normal(scale=0.05, size=fan_out),
        ]
    return flat


def test_multi_head_attention_matches_the_layer(submission, rng):
    heads, key_dim = int(rng.integers(2, 5)), int(rng.integers(2, 5))
    batch, t, s = (int(n) for n in rng.integers(2, 6, size=3))
    d_model = int(rng.integers(3, 9))
    query = rng.normal(size=(batch, t, d_model))
    value = rng.normal(size=(batch, s, d_model))
    weights = _layer_weights(int(rng.integers(1000)), d_model, heads, key_dim)
    out, scores = _formulas.multi_head_attention(
        query, value, *weights, num_heads=heads
    )
    result = submission.multi_head_attention(
        query, value, *weights, num_heads=heads
    )
    _assert_output_and_weights(result, out, scores, "multi_head_attention")
