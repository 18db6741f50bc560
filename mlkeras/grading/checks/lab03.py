"""Checks for lab 03 (activations): forward passes against the formulas of
`keras.activations`, derivatives against their closed forms, and numerical
stability."""

import pytest

from mlkeras.grading.checks import _formulas
from mlkeras.grading.checks._reference import random_shape
from mlkeras.grading.expect import assert_array

RTOL, ATOL = 1e-6, 1e-9


def _x(rng, scale=3.0):
    return rng.normal(scale=scale, size=random_shape(rng)).astype("float64")


def test_relu_matches_keras(submission, rng):
    x = _x(rng)
    assert_array(
        submission.relu(x),
        _formulas.relu(x),
        rtol=RTOL,
        atol=ATOL,
    )


def test_leaky_relu_matches_keras_with_default_alpha(submission, rng):
    x = _x(rng)
    expected = _formulas.leaky_relu(x, negative_slope=0.01)
    assert_array(submission.leaky_relu(x), expected, rtol=RTOL, atol=ATOL)


def test_leaky_relu_uses_the_given_alpha(submission, rng):
    x = _x(rng)
    alpha = float(rng.uniform(0.05, 0.5))
    expected = _formulas.leaky_relu(x, negative_slope=alpha)
    assert_array(
        submission.leaky_relu(x, alpha=alpha), expected, rtol=RTOL, atol=ATOL
    )


def test_sigmoid_matches_keras(submission, rng):
    x = _x(rng)
    assert_array(
        submission.sigmoid(x),
        _formulas.sigmoid(x),
        rtol=RTOL,
        atol=ATOL,
    )


def test_sigmoid_is_stable_for_large_inputs(submission, rng):
    x = rng.uniform(-1000, 1000, size=(4, 5))
    x[0, :2] = [-1000.0, 1000.0]
    assert_array(
        submission.sigmoid(x),
        _formulas.sigmoid(x),
        rtol=RTOL,
        atol=ATOL,
    )


def test_tanh_matches_keras(submission, rng):
    x = _x(rng, scale=2.0)
    assert_array(
        submission.tanh(x),
        _formulas.tanh(x),
        rtol=RTOL,
        atol=ATOL,
    )


def test_softmax_matches_keras_on_the_last_axis(submission, rng):
    z = _x(rng)
    assert_array(
        submission.softmax(z),
        _formulas.softmax(z, axis=-1),
        rtol=RTOL,
        atol=ATOL,
    )


def test_softmax_normalises_along_the_given_axis(submission, rng):
    z = rng.normal(size=(int(rng.integers(3, 6)), int(rng.integers(2, 5)), 3))
    assert_array(
        submission.softmax(z, axis=0),
        _formulas.softmax(z, axis=0),
        rtol=RTOL,
        atol=ATOL,
    )


def test_softmax_is_stable_for_large_logits(submission, rng):
    z = rng.normal(size=(3, 6)) + rng.uniform(500, 1000)
    z[1] -= 2000.0
    assert_array(
        submission.softmax(z),
        _formulas.softmax(z, axis=-1),
        rtol=RTOL,
        atol=ATOL,
    )


def test_swish_matches_keras_silu(submission, rng):
    x = _x(rng)
    assert_array(
        submission.swish(x),
        _formulas.silu(x),
        rtol=RTOL,
        atol=ATOL,
    )


def test_gelu_matches_keras_tanh_approximation(submission, rng):
    x = _x(rng)
    expected = _formulas.gelu(x)
    assert_array(submission.gelu(x), expected, rtol=RTOL, atol=ATOL)


def test_relu_grad_is_the_step_of_x(submission, rng):
    x = _x(rng)
    x.flat[0] = 0.0
    assert_array(
        submission.relu_grad(x), (x > 0).astype("float64"), rtol=0, atol=0
    )


def test_sigmoid_grad_matches_closed_form(submission, rng):
    x = _x(rng)
    s = _formulas.sigmoid(x)
    assert_array(
        submission.sigmoid_grad(x), s * (1.0 - s), rtol=RTOL, atol=ATOL
    )


def test_tanh_grad_matches_closed_form(submission, rng):
    x = _x(rng, scale=2.0)
    t = _formulas.tanh(x)
    assert_array(submission.tanh_grad(x), 1.0 - t * t, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "swish", "gelu"])
def test_activation_keeps_float32_dtype(submission, rng, name):
    x = _x(rng).astype("float32")
    reference = getattr(_formulas, {"swish": "silu"}.get(name, name))
    expected = reference(x.astype("float64")).astype("float32")
    assert_array(getattr(submission, name)(x), expected, rtol=1e-5, atol=1e-6)
