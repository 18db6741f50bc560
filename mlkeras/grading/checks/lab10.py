"""Checks for lab 10 (batch normalisation): outputs and moving statistics
against the formulas of `keras.layers.BatchNormalization` given the same
weights."""

import numpy as np
import pytest

from mlkeras.grading.checks import _formulas
from mlkeras.grading.expect import assert_array, assert_true, assert_type


def _case(rng):
    n, features = int(rng.integers(4, 16)), int(rng.integers(2, 6))
    x = rng.normal(
        loc=rng.uniform(-3, 3), scale=rng.uniform(0.5, 3), size=(n, features)
    )
    params = [
        rng.uniform(0.5, 2.0, features),
        rng.normal(size=features),
        rng.normal(size=features),
        rng.uniform(0.5, 2.0, features),
    ]
    return (
        x,
        params,
        float(rng.uniform(1e-5, 1e-2)),
        float(rng.uniform(0.5, 0.99)),
    )


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_matches_keras(submission, rng, training):
    x, params, eps, momentum = _case(rng)
    gamma, beta, mean, var = params
    result = submission.batchnorm_forward(
        x, gamma, beta, eps, training, mean, var, momentum
    )
    assert_type(result, (tuple, list), name="batchnorm_forward result")
    assert_true(
        len(result) == 3,
        "type",
        f"wrong type: expected 3 values, got {len(result)}",
    )
    expected = _formulas.batchnorm(x, *params, eps, momentum, training=training)
    for got, want, name in zip(
        result, expected, ("y", "new moving mean", "new moving var")
    ):
        assert_array(got, want, rtol=1e-6, atol=1e-9, name=name)


def test_batchnorm_training_output_is_standardised(submission, rng):
    x, (gamma, beta, mean, var), eps, momentum = _case(rng)
    ones, zeros = np.ones_like(gamma), np.zeros_like(beta)
    y = submission.batchnorm_forward(
        x, ones, zeros, 1e-9, True, mean, var, momentum
    )[0]
    assert_array(
        y,
        (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-9),
        rtol=1e-6,
        atol=1e-8,
        name="y",
    )
