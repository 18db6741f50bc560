"""Tests of mlkeras.grading.expect: the type, dtype, shape, values order
and messages."""

import numpy as np
import pytest

from mlkeras.grading import codec
from mlkeras.grading.expect import CheckFailure, assert_array, assert_number


def _reason(actual, expected, **kwargs):
    with pytest.raises(CheckFailure) as info:
        assert_array(actual, expected, **kwargs)
    return info.value.reason, str(info.value)


def test_a_list_fails_on_type_before_anything_else():
    reason, message = _reason([1.0, 2.0], np.array([1.0, 2.0]))
    assert reason == "type" and "got list" in message


def test_opaque_values_fail_on_type_with_their_type_name():
    reason, message = _reason(codec.Opaque("tensorflow.Tensor"), np.zeros(2))
    assert reason == "type" and "tensorflow.Tensor" in message


def test_dtype_is_checked_before_shape():
    reason, message = _reason(np.zeros(3, "float32"), np.zeros(2))
    assert reason == "dtype" and "float64" in message and "float32" in message


def test_a_shape_that_would_broadcast_still_fails():
    reason, message = _reason(np.zeros((1, 3)), np.zeros((4, 3)))
    assert reason == "shape" and "(4, 3)" in message and "(1, 3)" in message


def test_values_report_the_largest_difference_and_its_index():
    expected = np.array([[0.0, 1.0], [2.0, 3.0]])
    actual = expected.copy()
    actual[1, 0] += 0.5
    actual[0, 1] += 0.1
    reason, message = _reason(actual, expected, rtol=0, atol=1e-3)
    assert reason == "values"
    assert "2 of 4" in message and "0.5" in message and "(1, 0)" in message


def test_nan_where_a_number_is_expected_fails():
    reason, _ = _reason(np.array([np.nan]), np.array([1.0]))
    assert reason == "values"


def test_values_within_tolerance_pass_and_abstract_dtypes_match():
    assert_array(np.array([1.0 + 1e-9]), np.array([1.0]), rtol=1e-6)
    assert_array(np.array([1], "int32"), np.array([1]), dtype=np.integer)


def test_numbers_accept_numpy_scalars_but_not_strings():
    assert_number(np.float32(2.0), 2.0)
    with pytest.raises(CheckFailure, match="wrong type"):
        assert_number("2.0", 2.0)
