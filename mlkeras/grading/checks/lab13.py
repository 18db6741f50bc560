"""Checks for lab 13 (RNN): one step of each cell against Keras's
`SimpleRNNCell`, `LSTMCell`, `GRUCell` and mlkeras's `PeepholeLSTMCell`,
loaded with the same random weights."""

import numpy as np

from mlkeras.grading.checks._reference import keras, to_numpy
from mlkeras.grading.expect import assert_array, assert_true, assert_type

RTOL, ATOL = 1e-5, 1e-6


def _sizes(rng):
    return (
        int(rng.integers(2, 5)),
        int(rng.integers(2, 6)),
        int(rng.integers(2, 6)),
    )


def _run_cell(cell, x, states, weights):
    cell.build(x.shape)
    cell.set_weights([w.astype("float32") for w in weights])
    output, new_states = cell(
        x.astype("float32"), [s.astype("float32") for s in states]
    )
    return [to_numpy(s, "float64") for s in new_states]


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
    (expected,) = _run_cell(keras().layers.SimpleRNNCell(u), x, [h], [W, U, b])
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
    expected_h, expected_c = _run_cell(
        keras().layers.LSTMCell(u), x, [h, c], [W, U, b]
    )
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
    (expected,) = _run_cell(keras().layers.GRUCell(u), x, [h], [W, U, b])
    assert_array(
        submission.gru_step(x, h, W, U, b),
        expected,
        dtype=np.floating,
        rtol=RTOL,
        atol=ATOL,
        name="h",
    )


def test_peephole_lstm_step_matches_mlkeras_peephole_cell(submission, rng):
    from mlkeras import layers

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
    expected_h, expected_c = _run_cell(
        layers.PeepholeLSTMCell(u), x, [h, c], [W, U, b, P[0], P[1], P[2]]
    )
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
    expected_h, expected_c = _run_cell(
        keras().layers.LSTMCell(u), x, [h, c], [W, U, b]
    )
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
