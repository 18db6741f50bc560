"""Checks for lab 04 (gradient descent): the logistic-loss gradient derived
by hand against the grader's reference gradient (itself tested against
automatic differentiation), the update against the rule of
`keras.optimizers.SGD`, and the mini-batch generator's coverage, pairing,
batch sizes and seeded shuffling."""

import numpy as np

from mlkeras.grading.checks import _formulas
from mlkeras.grading.checks._reference import random_shape
from mlkeras.grading.codec import Yielded
from mlkeras.grading.expect import (
    assert_array,
    assert_number,
    assert_true,
    assert_type,
)


def test_gd_step_matches_keras_sgd(submission, rng):
    w = rng.normal(size=random_shape(rng))
    grad = rng.normal(size=w.shape)
    learning_rate = float(rng.uniform(0.001, 0.5))
    assert_array(
        submission.gd_step(w, grad, learning_rate),
        _formulas.sgd_trajectory(w, [grad], learning_rate)[0],
        rtol=1e-5,
        atol=1e-6,
    )


def test_gd_step_is_exact_in_float64(submission, rng):
    w, grad = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    learning_rate = float(rng.uniform(0.001, 0.5))
    assert_array(
        submission.gd_step(w, grad, learning_rate),
        w - learning_rate * grad,
        rtol=1e-12,
        atol=1e-15,
    )


def _batches(submission, X, y, batch_size, seed):
    result = submission.minibatches(X, y, batch_size, seed)
    assert_type(result, (Yielded, list, tuple), name="minibatches result")
    batches = []
    for batch in result:
        assert_type(batch, (tuple, list), name="each batch")
        assert_true(
            len(batch) == 2,
            "type",
            f"each batch must be a pair (X_batch, y_batch); "
            f"got {len(batch)} items",
        )
        assert_type(batch[0], np.ndarray, name="X_batch")
        assert_type(batch[1], np.ndarray, name="y_batch")
        batches.append(batch)
    return batches


def _data(rng):
    n = int(rng.integers(23, 60))
    X = (
        np.arange(n * 3, dtype="float64").reshape(n, 3)
        + rng.normal(size=(n, 3)) * 0.01
    )
    y = np.arange(n) * 10 + 7
    return X, y


def test_minibatches_cover_every_sample_once(submission, rng):
    X, y = _data(rng)
    batch_size = int(rng.integers(4, 9))
    batches = _batches(submission, X, y, batch_size, int(rng.integers(1000)))
    seen = np.concatenate([b[1] for b in batches]) if batches else np.array([])
    assert_array(
        np.sort(seen),
        np.sort(y),
        dtype=None,
        rtol=0,
        atol=0,
        name="labels over all batches (sorted)",
    )


def test_minibatches_keep_samples_and_labels_paired(submission, rng):
    X, y = _data(rng)
    for X_batch, y_batch in _batches(
        submission, X, y, 5, int(rng.integers(1000))
    ):
        assert_true(
            X_batch.shape[1:] == X.shape[1:] and len(X_batch) == len(y_batch),
            "shape",
            f"wrong shape: X_batch {X_batch.shape} and y_batch "
            f"{y_batch.shape} do not match",
        )
        rows = ((y_batch - 7) // 10).astype(int)
        assert_true(
            np.all((rows >= 0) & (rows < len(X))),
            "values",
            "wrong values: y_batch holds labels that are not in y",
        )
        assert_array(
            X_batch, X[rows], rtol=0, atol=0, name="X rows paired with y_batch"
        )


def test_minibatches_have_the_requested_sizes(submission, rng):
    X, y = _data(rng)
    batch_size = int(rng.integers(4, 9))
    sizes = [len(b[0]) for b in _batches(submission, X, y, batch_size, 3)]
    full, rest = divmod(len(X), batch_size)
    expected = [batch_size] * full + ([rest] if rest else [])
    assert_array(
        np.array(sizes),
        np.array(expected),
        dtype=None,
        rtol=0,
        atol=0,
        name="batch sizes",
    )


def test_minibatches_shuffle_reproducibly_by_seed(submission, rng):
    X, y = _data(rng)
    seed = int(rng.integers(1000))
    first = np.concatenate([b[1] for b in _batches(submission, X, y, 8, seed)])
    again = np.concatenate([b[1] for b in _batches(submission, X, y, 8, seed)])
    other = np.concatenate(
        [b[1] for b in _batches(submission, X, y, 8, seed + 1)]
    )
    assert_true(
        not np.array_equal(first, np.sort(first)),
        "values",
        "wrong values: the batches are not shuffled (samples come in their "
        "original order)",
    )
    assert_array(again, first, rtol=0, atol=0, name="order with the same seed")
    assert_true(
        not np.array_equal(first, other),
        "values",
        "wrong values: a different seed gave the same order",
    )


def _logistic_case(rng):
    n, d = int(rng.integers(5, 40)), int(rng.integers(1, 6))
    X = rng.normal(size=(n, d))
    y = (rng.random(n) < 0.5).astype("float64")
    return rng.normal(size=d), float(rng.normal()), X, y


def test_logistic_loss_gradient_matches_autodiff(submission, rng):
    w, b, X, y = _logistic_case(rng)
    dw_ref, db_ref = _formulas.logistic_loss_gradient(w, b, X, y)
    result = submission.logistic_loss_gradient(w, b, X, y)
    assert_type(result, (tuple, list), name="logistic_loss_gradient result")
    assert_true(len(result) == 2, "type", "wrong type: must return (dw, db)")
    assert_array(
        result[0], dw_ref, dtype=np.floating, rtol=1e-6, atol=1e-9, name="dw"
    )
    assert_number(result[1], float(db_ref), rtol=1e-6, atol=1e-9, name="db")
