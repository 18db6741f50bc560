"""Checks for lab 07 (losses): every loss against the formulas of
`keras.losses`, per sample, on random targets and predictions, plus the
clipped edge cases."""

import numpy as np
import pytest

from mlkeras.grading.checks import _formulas
from mlkeras.grading.expect import assert_array

RTOL, ATOL = 1e-5, 1e-7


def _sizes(rng):
    return int(rng.integers(4, 12)), int(rng.integers(2, 6))


def _probabilities(rng, n, k):
    logits = rng.normal(size=(n, k))
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("name", ["mse", "mae"])
def test_regression_loss_matches_keras(submission, rng, name):
    n, k = _sizes(rng)
    y_true, y_pred = rng.normal(size=(n, k)), rng.normal(size=(n, k))
    keras_loss = {
        "mse": _formulas.mean_squared_error,
        "mae": _formulas.mean_absolute_error,
    }[name]
    assert_array(
        getattr(submission, name)(y_true, y_pred),
        keras_loss(y_true, y_pred),
        rtol=RTOL,
        atol=ATOL,
    )


def test_msle_matches_keras(submission, rng):
    n, k = _sizes(rng)
    y_true, y_pred = (
        rng.uniform(0, 5, size=(n, k)),
        rng.uniform(0, 5, size=(n, k)),
    )
    assert_array(
        submission.msle(y_true, y_pred),
        _formulas.mean_squared_logarithmic_error(y_true, y_pred),
        rtol=RTOL,
        atol=ATOL,
    )


def test_binary_crossentropy_matches_keras(submission, rng):
    n, k = _sizes(rng)
    y_true = rng.integers(0, 2, size=(n, k)).astype("float64")
    y_pred = rng.uniform(0.02, 0.98, size=(n, k))
    assert_array(
        submission.binary_crossentropy(y_true, y_pred),
        _formulas.binary_crossentropy(y_true, y_pred),
        rtol=RTOL,
        atol=ATOL,
    )


def test_binary_crossentropy_is_finite_for_certain_predictions(submission, rng):
    n, k = _sizes(rng)
    y_true = rng.integers(0, 2, size=(n, k)).astype("float64")
    y_pred = rng.integers(0, 2, size=(n, k)).astype("float64")
    assert_array(
        submission.binary_crossentropy(y_true, y_pred),
        _formulas.binary_crossentropy(y_true, y_pred),
        rtol=1e-3,
        atol=1e-5,
    )


def test_categorical_crossentropy_matches_keras(submission, rng):
    n, k = _sizes(rng)
    y_true = np.eye(k)[rng.integers(0, k, size=n)]
    y_pred = _probabilities(rng, n, k)
    assert_array(
        submission.categorical_crossentropy(y_true, y_pred),
        _formulas.categorical_crossentropy(y_true, y_pred),
        rtol=RTOL,
        atol=ATOL,
    )


def test_sparse_categorical_crossentropy_matches_keras(submission, rng):
    n, k = _sizes(rng)
    labels = rng.integers(0, k, size=n)
    y_pred = _probabilities(rng, n, k)
    assert_array(
        submission.sparse_categorical_crossentropy(labels, y_pred),
        _formulas.sparse_categorical_crossentropy(labels, y_pred),
        rtol=RTOL,
        atol=ATOL,
    )


def test_kl_divergence_matches_keras(submission, rng):
    n, k = _sizes(rng)
    y_true, y_pred = _probabilities(rng, n, k), _probabilities(rng, n, k)
    y_true[0, 0] = 0.0
    assert_array(
        submission.kl_divergence(y_true, y_pred),
        _formulas.kl_divergence(y_true, y_pred),
        rtol=RTOL,
        atol=ATOL,
    )
