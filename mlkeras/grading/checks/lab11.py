"""Checks for lab 11 (CNN): output shapes, convolution and pooling against
the formulas of `keras.layers.Conv2D`, `keras.ops.conv` and
`keras.ops.max_pool`."""

import numpy as np
import pytest

from mlkeras.grading.checks import _formulas
from mlkeras.grading.expect import assert_array, assert_type

RTOL, ATOL = 1e-5, 1e-5


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv2d_output_shape_matches_keras(submission, rng, padding):
    for _ in range(4):
        shape = (
            int(rng.integers(5, 30)),
            int(rng.integers(5, 30)),
            int(rng.integers(1, 4)),
        )
        kernel, stride, filters = (
            int(rng.integers(1, 6)),
            int(rng.integers(1, 4)),
            int(rng.integers(1, 9)),
        )
        expected = _formulas.conv2d_output_shape(
            shape, kernel, filters, stride=stride, padding=padding
        )
        answer = submission.conv2d_output_shape(
            shape, kernel, filters, stride=stride, padding=padding
        )
        assert_type(answer, (tuple, list), name="conv2d_output_shape result")
        assert_array(
            np.array(answer),
            np.array(expected),
            dtype=np.integer,
            rtol=0,
            atol=0,
            name=f"conv2d_output_shape({shape}, {kernel}, {filters}, "
            f"stride={stride}, "
            f"padding={padding!r})",
        )


@pytest.mark.parametrize("padding", ["valid", "same"])
def test_conv2d_matches_keras_ops_conv(submission, rng, padding):
    x = rng.normal(
        size=(
            2,
            int(rng.integers(5, 10)),
            int(rng.integers(5, 10)),
            int(rng.integers(1, 4)),
        )
    )
    kernel = rng.normal(
        size=(
            int(rng.integers(1, 4)),
            int(rng.integers(1, 4)),
            x.shape[-1],
            int(rng.integers(1, 4)),
        )
    )
    stride = int(rng.integers(1, 3))
    expected = _formulas.conv2d(x, kernel, stride=stride, padding=padding)
    assert_array(
        submission.conv2d(x, kernel, stride=stride, padding=padding),
        expected,
        dtype=np.floating,
        rtol=RTOL,
        atol=ATOL,
    )


def test_max_pool2d_matches_keras_ops_max_pool(submission, rng):
    x = rng.normal(
        size=(2, int(rng.integers(4, 11)), int(rng.integers(4, 11)), 3)
    )
    pool, stride = int(rng.integers(2, 4)), int(rng.integers(1, 4))
    expected = _formulas.max_pool2d(x, pool_size=pool, stride=stride)
    assert_array(
        submission.max_pool2d(x, pool_size=pool, stride=stride),
        expected,
        dtype=np.floating,
        rtol=1e-6,
        atol=1e-9,
    )
