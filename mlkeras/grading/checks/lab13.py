"""Checks for lab 13 (RNN): one step of each cell against Keras's
`SimpleRNNCell`, `LSTMCell`, `GRUCell` and mlkeras's `PeepholeLSTMCell`,
loaded with the same random weights; backpropagation through time and the
gradient's reach back in time against automatic differentiation."""

import numpy as np

from mlkeras.grading.checks._autodiff import gradients
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


def _rnn_case(rng, steps, scale):
    batch, d, u = _sizes(rng)
    return (
        rng.normal(size=(batch, steps, d)),
        rng.normal(size=(d, u)) * 0.5,
        rng.normal(size=(u, u)) * scale / np.sqrt(u),
        rng.normal(size=u) * 0.1,
        rng.normal(size=u),
    )


def _bptt_reference(x, W, U, b, v):
    ops = keras().ops

    def loss(x, W, U, b):
        h = ops.zeros((x.shape[0], U.shape[0]), dtype="float64")
        for t in range(x.shape[1]):
            z = ops.matmul(x[:, t], W) + ops.matmul(h, U) + b
            # tanh(z) = 2 sigmoid(2z) - 1: keras.ops.tanh computes in
            # float32 on JAX, sigmoid keeps float64.
            h = 2 * ops.sigmoid(2 * z) - 1
        return ops.sum(ops.matmul(h, v))

    dx, dW, dU, db = gradients(loss, x, W, U, b)
    return dW, dU, db, dx


def test_rnn_bptt_matches_autodiff(submission, rng):
    case = _rnn_case(rng, int(rng.integers(3, 8)), 0.9)
    result = submission.rnn_bptt(*case)
    assert_type(result, (tuple, list), name="rnn_bptt result")
    assert_true(
        len(result) == 4, "type", "wrong type: must return (dW, dU, db, dx)"
    )
    for got, expected, name in zip(
        result, _bptt_reference(*case), ("dW", "dU", "db", "dx")
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
    dx = _bptt_reference(x, W, U, b, v)[3]
    assert_array(
        submission.gradient_norms_through_time(x, W, U, b, v),
        np.linalg.norm(dx, axis=-1).mean(axis=0),
        dtype=np.floating,
        rtol=1e-6,
        atol=1e-12,
    )
