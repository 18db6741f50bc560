"""Checks for lab 05 (gradient problems): each layer's gradient norm in a
deep network against the grader's own measurement (backpropagation tested
against automatic differentiation), the global norm, and clipping by it,
including the zero-gradient edge case."""

import numpy as np
import pytest

from mlkeras.grading.checks import _formulas
from mlkeras.grading.expect import (
    assert_array,
    assert_number,
    assert_true,
    assert_type,
)


def _grads(rng, scale=1.0):
    count = int(rng.integers(2, 5))
    return [
        rng.normal(
            scale=scale, size=tuple(int(n) for n in rng.integers(1, 6, size=k))
        )
        for k in rng.integers(1, 3, size=count)
    ]


def _clipped(grads, max_norm):
    norm = _formulas.global_norm(grads)
    scale = 1.0 if norm <= max_norm else max_norm / norm
    return [g * scale for g in grads]


def _check_list(result, expected, rtol=1e-6, atol=1e-9):
    assert_type(result, list, name="clip_by_global_norm result")
    assert_true(
        len(result) == len(expected),
        "shape",
        f"wrong length: expected {len(expected)} arrays, got {len(result)}",
    )
    for index, (got, want) in enumerate(zip(result, expected)):
        assert_array(got, want, rtol=rtol, atol=atol, name=f"array {index}")


def test_global_norm_matches_keras_ops(submission, rng):
    grads = _grads(rng)
    assert_number(
        submission.global_norm(grads),
        _formulas.global_norm(grads),
        rtol=1e-6,
        name="global norm",
    )


def test_global_norm_of_one_array_is_its_l2_norm(submission, rng):
    g = rng.normal(size=(int(rng.integers(2, 9)),))
    assert_number(
        submission.global_norm([g]),
        _formulas.global_norm([g]),
        rtol=1e-6,
        name="global norm",
    )


def test_clip_scales_large_gradients_to_max_norm(submission, rng):
    grads = _grads(rng, scale=10.0)
    max_norm = float(rng.uniform(0.5, 2.0))
    _check_list(
        submission.clip_by_global_norm(grads, max_norm),
        _clipped(grads, max_norm),
    )


def test_clip_leaves_small_gradients_unchanged(submission, rng):
    grads = _grads(rng, scale=0.01)
    max_norm = 100.0
    _check_list(
        submission.clip_by_global_norm(grads, max_norm), grads, rtol=0, atol=0
    )


def test_clip_keeps_zero_gradients_zero(submission, rng):
    grads = [np.zeros(shape) for shape in [(3,), (2, 2)]]
    _check_list(
        submission.clip_by_global_norm(grads, float(rng.uniform(0.5, 2.0))),
        grads,
        rtol=0,
        atol=0,
    )


def _deep_network(rng):
    depth, width = int(rng.integers(6, 10)), int(rng.integers(4, 9))
    sizes = [int(rng.integers(2, 6))] + [width] * depth
    weights = [
        rng.normal(size=(a, b)) / np.sqrt(a)
        for a, b in zip(sizes[:-1], sizes[1:])
    ]
    biases = [rng.normal(size=b) * 0.1 for b in sizes[1:]]
    return (
        weights,
        biases,
        rng.normal(size=(int(rng.integers(8, 30)), sizes[0])),
    )


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_layer_gradient_norms_match_the_graders_measurement(
    submission, rng, activation
):
    weights, biases, x = _deep_network(rng)
    assert_array(
        submission.layer_gradient_norms(weights, biases, x, activation),
        _formulas.layer_gradient_norms(weights, biases, x, activation),
        dtype=np.floating,
        rtol=1e-6,
        atol=1e-12,
    )
