"""Checks for lab 13 (RNN): one step of each cell against the formulas of
Keras's `SimpleRNNCell`, `LSTMCell`, `GRUCell` and mlkeras's
`PeepholeLSTMCell` with the same random weights; backpropagation through
time and the gradient's reach back in time against the grader's reference
gradient (itself tested against automatic differentiation)."""

import numpy as np

from mlkeras.grading.checks import _formulas
from mlkeras.grading.expect import assert_array, assert_true, assert_type

RTOL, ATOL = 1e-5, 1e-6


def _sizes(rng):
    return (
        int(rng.integers(2, 5)),
        int(rng.integers(2, 6)),
        int(rng.integers(2, 6)),
    )


def _pair(result, name):
    assert_type(result, (tuple, list), name=f"{name} result")
    assert_true(
        len(result) == 2, "type", f"wrong type: {name} must return (h, c)"
    )
    return result


def test_rnn_step_matches_keras_simple_rnn_cell(submission, rng):
    batch, d, u = _sizes(rng)
    x, h = rng.normal(size=(batch, d)), rng.normal(size=(batch, u))
    W, U, b = (
        rng.normal(size=(d, u)),
        rng.normal(size=(u, u)) * 0.5,
        rng.normal(size=u),
    )
    expected = _formulas.simple_rnn_step(x, h, W, U, b)
    assert_array(
        submission.rnn_step(x, h, W, U, b),
        expected,
        dtype=np.floating,
        rtol=RTOL,
        atol=ATOL,
        name="h",
    )


def test_lstm_step_matches_keras_lstm_cell(submission, rng):
    batch, d, u = _sizes(rng)
    x, h, c = (
        rng.normal(size=(batch, d)),
        rng.normal(size=(batch, u)),
        rng.normal(size=(batch, u)),
    )
    W, U, b = (
        rng.normal(size=(d, 4 * u)),
        rng.normal(size=(u, 4 * u)) * 0.5,
        rng.normal(size=4 * u),
    )
    expected_h, expected_c = _formulas.lstm_step(x, h, c, W, U, b)
    new_h, new_c = _pair(submission.lstm_step(x, h, c, W, U, b), "lstm_step")
    assert_array(
        new_h, expected_h, dtype=np.floating, rtol=RTOL, atol=ATOL, name="h"
    )
    assert_array(
        new_c, expected_c, dtype=np.floating, rtol=RTOL, atol=ATOL, name="c"
    )


def test_gru_step_matches_keras_gru_cell(submission, rng):
    batch, d, u = _sizes(rng)
    x, h = rng.normal(size=(batch, d)), rng.normal(size=(batch, u))
    W, U, b = (
        rng.normal(size=(d, 3 * u)),
        rng.normal(size=(u, 3 * u)) * 0.5,
        rng.normal(size=(2, 3 * u)),
    )
    expected = _formulas.gru_step(x, h, W, U, b)
    assert_array(
        submission.gru_step(x, h, W, U, b),
        expected,
        dtype=np.floating,
        rtol=RTOL,
        atol=ATOL,
        name="h",
    )


def test_peephole_lstm_step_matches_mlkeras_peephole_cell(submission, rng):
    batch, d, u = _sizes(rng)
    x, h, c = (
        rng.normal(size=(batch, d)),
        rng.normal(size=(batch, u)),
        rng.normal(size=(batch, u)),
    )
    W, U, b = (
        rng.normal(size=(d, 4 * u)),
        rng.normal(size=(u, 4 * u)) * 0.5,
        rng.normal(size=4 * u),
    )
    P = rng.normal(size=(3, u))
    expected_h, expected_c = _formulas.lstm_step(x, h, c, W, U, b, P)
    new_h, new_c = _pair(
        submission.peephole_lstm_step(x, h, c, W, U, b, P), "peephole_lstm_step"
    )
    assert_array(
        new_h, expected_h, dtype=np.floating, rtol=RTOL, atol=ATOL, name="h"
    )
    assert_array(
        new_c, expected_c, dtype=np.floating, rtol=RTOL, atol=ATOL, name="c"
    )


def test_peephole_lstm_with_zero_peepholes_is_the_plain_lstm(submission, rng):
    batch, d, u = _sizes(rng)
    x, h, c = (
        rng.normal(size=(batch, d)),
        rng.normal(size=(batch, u)),
        rng.normal(size=(batch, u)),
    )
    W, U, b = (
        rng.normal(size=(d, 4 * u)),
        rng.normal(size=(u, 4 * u)) * 0.5,
        rng.normal(size=4 * u),
    )
    expected_h, expected_c = _formulas.lstm_step(x, h, c, W, U, b)
    new_h, new_c = _pair(
        submission.peephole_lstm_step(x, h, c, W, U, b, np.zeros((3, u))),
        "peephole_lstm_step",
    )
    assert_array(
        new_h, expected_h, dtype=np.floating, rtol=RTOL, atol=ATOL, name="h"
    )
    assert_array(
        new_c, expected_c, dtype=np.floating, rtol=RTOL, atol=ATOL, name="c"
    )


def _rnn_case(rng, steps, scale):
    batch, d, u = _sizes(rng)
    return (
        rng.normal(size=(batch, steps, d)),
        rng.normal(size=(d, u)) * 0.5,
        rng.normal(size=(u, u)) * scale / np.sqrt(u),
        rng.normal(size=u) * 0.1,
        rng.normal(size=u),
    )


def test_rnn_bptt_matches_autodiff(submission, rng):
    case = _rnn_case(rng, int(rng.integers(3, 8)), 0.9)
    result = submission.rnn_bptt(*case)
    assert_type(result, (tuple, list), name="rnn_bptt result")
    assert_true(
        len(result) == 4, "type", "wrong type: must return (dW, dU, db, dx)"
    )
    for got, expected, name in zip(
        result, _formulas.rnn_bptt(*case), ("dW", "dU", "db", "dx")
    ):
        assert_array(
            got, expected, dtype=np.floating, rtol=1e-6, atol=1e-9, name=name
        )


def test_gradient_norms_through_time_match_the_graders_measurement(
    submission, rng
):
    # A long sequence and a contracting recurrence: the norms fall by
    # orders of magnitude towards t = 0, and must match at every step.
    x, W, U, b, v = _rnn_case(rng, 30, 0.6)
    dx = _formulas.rnn_bptt(x, W, U, b, v)[3]
    assert_array(
        submission.gradient_norms_through_time(x, W, U, b, v),
        np.linalg.norm(dx, axis=-1).mean(axis=0),
        dtype=np.floating,
        rtol=1e-6,
        atol=1e-12,
    )
