"""Checks for lab 14 (attention): scores and context against the formulas of
`keras.layers.Attention` (dot scores), `keras.losses.cosine_similarity`
(cosine scores) and Bahdanau's additive score."""

import numpy as np

from mlkeras.grading.checks import _formulas
from mlkeras.grading.expect import assert_array, assert_true, assert_type

RTOL, ATOL = 1e-5, 1e-6


def _case(rng):
    batch, steps, d = (
        int(rng.integers(2, 5)),
        int(rng.integers(3, 8)),
        int(rng.integers(2, 6)),
    )
    return rng.normal(size=(batch, d)), rng.normal(size=(batch, steps, d))


def test_dot_score_gives_keras_attention_weights(submission, rng):
    query, keys = _case(rng)
    scores = submission.dot_score(query, keys)
    assert_array(
        scores,
        np.einsum("bd,btd->bt", query, keys),
        dtype=np.floating,
        rtol=RTOL,
        atol=ATOL,
        name="scores",
    )
    weights = np.exp(scores - scores.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    assert_array(
        weights,
        _formulas.dot_attention(query, keys, keys)[1],
        rtol=1e-4,
        atol=1e-6,
        name="softmax of the scores",
    )


def test_additive_score_matches_the_bahdanau_formula_in_keras_ops(
    submission, rng
):
    query, keys = _case(rng)
    a = int(rng.integers(2, 6))
    W_q, W_k = (
        rng.normal(size=(query.shape[-1], a)),
        rng.normal(size=(keys.shape[-1], a)),
    )
    v = rng.normal(size=a)
    expected = _formulas.additive_score(query, keys, W_q, W_k, v)
    assert_array(
        submission.additive_score(query, keys, W_q, W_k, v),
        expected,
        dtype=np.floating,
        rtol=RTOL,
        atol=ATOL,
        name="scores",
    )


def test_cosine_score_matches_keras_cosine_similarity(submission, rng):
    query, keys = _case(rng)
    expected = -_formulas.cosine_similarity(
        np.broadcast_to(query[:, None, :], keys.shape), keys, axis=-1
    )
    assert_array(
        submission.cosine_score(query, keys),
        expected,
        dtype=np.floating,
        rtol=1e-5,
        atol=1e-6,
        name="scores",
    )


def test_attention_context_matches_keras_attention(submission, rng):
    query, keys = _case(rng)
    values = rng.normal(size=keys.shape[:2] + (int(rng.integers(2, 6)),))
    context, weights = _formulas.dot_attention(query, keys, values)
    result = submission.attention_context(
        np.einsum("bd,btd->bt", query, keys), values
    )
    assert_type(result, (tuple, list), name="attention_context result")
    assert_true(
        len(result) == 2, "type", "wrong type: must return (context, weights)"
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
        context,
        dtype=np.floating,
        rtol=1e-4,
        atol=1e-5,
        name="context",
    )
