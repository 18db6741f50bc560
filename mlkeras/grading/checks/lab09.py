"""Checks for lab 09 (regularisation): dropout's mask, scaling and
inference mode, the average of many masked networks against the grader's
own measurement, penalties against the formulas of `keras.regularizers`
and the stopping rule against the rule of `keras.callbacks.EarlyStopping`,
replayed on random loss curves."""

import numpy as np
import pytest

from mlkeras.grading.checks import _formulas
from mlkeras.grading.checks._reference import random_shape
from mlkeras.grading.expect import (
    assert_array,
    assert_number,
    assert_true,
    assert_type,
)


def _weights(rng):
    return rng.normal(size=random_shape(rng, (1, 2, 3)))


def test_l1_penalty_matches_keras(submission, rng):
    w, l1 = _weights(rng), float(rng.uniform(0.001, 0.1))
    assert_number(
        submission.l1_penalty(w, l1=l1),
        _formulas.l1_penalty(w, l1),
        rtol=1e-5,
        name="L1 penalty",
    )


def test_l2_penalty_matches_keras(submission, rng):
    w, l2 = _weights(rng), float(rng.uniform(0.001, 0.1))
    assert_number(
        submission.l2_penalty(w, l2=l2),
        _formulas.l2_penalty(w, l2),
        rtol=1e-5,
        name="L2 penalty",
    )


def test_elastic_net_penalty_matches_keras(submission, rng):
    w = _weights(rng)
    l1, l2 = float(rng.uniform(0.001, 0.1)), float(rng.uniform(0.001, 0.1))
    assert_number(
        submission.elastic_net_penalty(w, l1=l1, l2=l2),
        _formulas.l1_penalty(w, l1) + _formulas.l2_penalty(w, l2),
        rtol=1e-5,
        name="elastic-net penalty",
    )


def _curves(rng, mode, count=12):
    curves = []
    for _ in range(count):
        length = int(rng.integers(3, 15))
        trend = (
            -np.sort(rng.uniform(0, 1, size=length))
            if rng.random() < 0.5
            else rng.uniform(0, 1, size=length)
        )
        curves.append(trend if mode == "min" else -trend)
    return curves


@pytest.mark.parametrize("mode", ["min", "max"])
def test_should_stop_agrees_with_keras_early_stopping(submission, rng, mode):
    for history in _curves(rng, mode):
        patience = int(rng.integers(1, 4))
        min_delta = float(rng.choice([0.0, 0.01, 0.1]))
        answer = submission.should_stop(
            [float(v) for v in history],
            patience,
            min_delta=min_delta,
            mode=mode,
        )
        assert_type(answer, bool, name="should_stop result")
        expected = _formulas.early_stopping_stops(
            history, patience, min_delta, mode
        )
        assert_number(
            int(answer),
            int(expected),
            rtol=0,
            atol=0,
            name=f"should_stop({np.round(history, 3).tolist()}, "
            f"patience={patience}, "
            f"min_delta={min_delta}, mode={mode!r}) (1 = stop)",
        )


def _dropout_input(rng, size=20000):
    # Never zero, so a zero in the output always means a dropped entry.
    return rng.uniform(0.5, 2.0, size=size) * rng.choice([-1, 1], size=size)


def test_dropout_drops_the_rate_of_entries_exactly_to_zero(submission, rng):
    x, rate = _dropout_input(rng), float(rng.uniform(0.1, 0.7))
    out = submission.dropout_forward(x, rate, True, int(rng.integers(1000)))
    assert_array(out, x, values=False, dtype=np.floating, name="output")
    dropped = float(np.mean(out == 0))
    std = np.sqrt(rate * (1 - rate) / x.size)
    assert_number(dropped, rate, rtol=0, atol=6 * std, name="fraction of zeros")


def test_dropout_scales_kept_units_by_1_over_1_minus_rate(submission, rng):
    x, rate = _dropout_input(rng, 500), float(rng.uniform(0.1, 0.7))
    out = submission.dropout_forward(x, rate, True, int(rng.integers(1000)))
    assert_array(out, x, values=False, dtype=np.floating, name="output")
    kept = out != 0
    assert_array(
        out[kept], x[kept] / (1 - rate), rtol=1e-6, name="kept entries"
    )


def test_dropout_mask_is_reproducible_by_seed(submission, rng):
    x, rate = _dropout_input(rng, 200), 0.5
    seed = int(rng.integers(1000))
    first = submission.dropout_forward(x, rate, True, seed)
    assert_array(
        submission.dropout_forward(x, rate, True, seed),
        first,
        rtol=0,
        atol=0,
        name="second call with the same seed",
    )


def test_dropout_is_identity_at_inference(submission, rng):
    x = rng.normal(size=random_shape(rng))
    assert_array(
        submission.dropout_forward(x, 0.5, False, 0), x, rtol=0, atol=0
    )


def test_masked_average_matches_the_graders_measurement(submission, rng):
    n, d_in, hidden, d_out = 30, 4, 16, 2
    W1, b1 = rng.normal(size=(d_in, hidden)), rng.normal(size=hidden)
    W2, b2 = rng.normal(size=(hidden, d_out)), rng.normal(size=d_out)
    x = rng.normal(size=(n, d_in))
    rate, n_masks = float(rng.uniform(0.2, 0.6)), 2000
    # The output is linear in the masked hidden units, so the average of
    # the masked networks tends to the inference network, with a spread
    # known exactly: each unit h adds variance h^2 w^2 rate / (1 - rate).
    hidden_out = np.maximum(x @ W1 + b1, 0.0)
    expected = hidden_out @ W2 + b2
    variance = (hidden_out**2) @ (W2**2) * rate / (1 - rate)
    error = 6 * np.sqrt(variance / n_masks) + 1e-9
    average = submission.masked_average_prediction(
        W1, b1, W2, b2, x, rate, n_masks, int(rng.integers(1000))
    )
    assert_array(average, expected, values=False, dtype=np.floating)
    assert_true(
        bool(np.all(np.abs(average - expected) <= error)),
        "values",
        "wrong values: the average of the masked networks is further from "
        "the grader's measurement than chance allows (largest gap "
        f"{np.max(np.abs(average - expected) / error) * 6:.1f} standard "
        "errors)",
    )
