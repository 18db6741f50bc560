"""Checks for lab 01 (perceptron): the step, the prediction and Rosenblatt's
rule, against NumPy formulas computed here from random inputs."""

import numpy as np

from mlkeras.grading.checks._reference import random_shape
from mlkeras.grading.expect import assert_array, assert_number, assert_type


def _step(z):
    return (np.asarray(z) >= 0).astype("int64")


def _train(X, y, learning_rate, epochs):
    w, b = np.zeros(X.shape[1]), 0.0
    for _ in range(epochs):
        for i in range(len(X)):
            error = y[i] - _step(X[i] @ w + b)
            w = w + learning_rate * error * X[i]
            b = b + learning_rate * error
    return w, float(b)


def _separable(rng, n=40, d=3):
    w = rng.normal(size=d)
    X = rng.normal(size=(n, d))
    margin = X @ w
    X = X[np.abs(margin) > 0.3][: n // 2 * 2]
    return X, (X @ w > 0).astype("int64")


def _check_pair(result, d):
    assert_type(result, (tuple, list), name="perceptron_train result")
    assert_number(
        len(result), 2, name="length of the (w, b) result", integer=True
    )
    w, b = result
    assert_array(w, np.zeros(d), name="w", dtype=np.floating, values=False)
    assert_number(b, None, name="b")
    return w, b


def test_step_is_one_from_zero_upwards(submission, rng):
    z = rng.normal(size=random_shape(rng))
    z.flat[: max(1, z.size // 4)] = 0.0
    assert_array(submission.step(z), _step(z), dtype=np.integer, rtol=0, atol=0)


def test_perceptron_predict_matches_the_formula(submission, rng):
    n, d = int(rng.integers(5, 20)), int(rng.integers(2, 5))
    X, w, b = rng.normal(size=(n, d)), rng.normal(size=d), float(rng.normal())
    assert_array(
        submission.perceptron_predict(X, w, b),
        _step(X @ w + b),
        dtype=np.integer,
        rtol=0,
        atol=0,
    )


def test_perceptron_train_follows_the_learning_rule(submission, rng):
    X, y = _separable(rng, n=16, d=2)
    learning_rate, epochs = (
        float(rng.uniform(0.05, 0.5)),
        int(rng.integers(2, 5)),
    )
    w, b = _check_pair(
        submission.perceptron_train(
            X, y, learning_rate=learning_rate, epochs=epochs
        ),
        X.shape[1],
    )
    expected_w, expected_b = _train(X, y, learning_rate, epochs)
    assert_array(
        w, expected_w, dtype=np.floating, rtol=1e-9, atol=1e-12, name="w"
    )
    assert_number(b, expected_b, rtol=1e-9, atol=1e-12, name="b")


def test_perceptron_train_uses_the_default_rate_and_epochs(submission, rng):
    X, y = _separable(rng, n=20, d=3)
    w, b = _check_pair(submission.perceptron_train(X, y), X.shape[1])
    expected_w, expected_b = _train(X, y, 0.1, 20)
    assert_array(
        w, expected_w, dtype=np.floating, rtol=1e-9, atol=1e-12, name="w"
    )
    assert_number(b, expected_b, rtol=1e-9, atol=1e-12, name="b")


def test_perceptron_train_separates_separable_data(submission, rng):
    X, y = _separable(rng, n=60, d=3)
    w, b = _check_pair(
        submission.perceptron_train(X, y, learning_rate=0.2, epochs=200),
        X.shape[1],
    )
    assert_array(
        _step(X @ w + b),
        y,
        rtol=0,
        atol=0,
        name="predictions of the trained w, b",
    )
