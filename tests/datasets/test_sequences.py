import numpy as np
import pytest

from mlkeras import datasets


def test_adding_problem_target_is_the_sum_of_the_two_marked_values():
    x, y = datasets.make_adding_problem(200, length=30, seed=0)
    assert x.shape == (200, 30, 2) and x.dtype == np.float32
    assert y.shape == (200, 1) and y.dtype == np.float32
    markers = x[..., 1]
    assert np.all(markers.sum(axis=1) == 2)
    # One marker in each half of the sequence.
    assert np.all(markers[:, :15].sum(axis=1) == 1)
    expected = (x[..., 0] * markers).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(y, expected, rtol=1e-6)


def test_adding_problem_mean_baseline_is_about_one_sixth():
    _, y = datasets.make_adding_problem(20_000, length=20, seed=1)
    # The sum of two U(0, 1) values has variance 2/12.
    assert abs(np.mean((y - 1.0) ** 2) - 1 / 6) < 0.01


def test_adding_problem_is_deterministic_under_a_seed():
    a = datasets.make_adding_problem(10, 8, seed=2)
    b = datasets.make_adding_problem(10, 8, seed=2)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(
        a[0], datasets.make_adding_problem(10, 8, seed=3)[0]
    )


def test_copy_and_reverse_tasks():
    x, y = datasets.make_copy_task(50, length=7, vocab_size=5, seed=0)
    assert x.shape == y.shape == (50, 7) and x.dtype == np.int32
    np.testing.assert_array_equal(x, y)
    assert x.min() >= 1 and x.max() <= 4
    xr, yr = datasets.make_reverse_task(50, length=7, vocab_size=5, seed=0)
    np.testing.assert_array_equal(xr, x)
    np.testing.assert_array_equal(yr, x[:, ::-1])


def test_sequence_errors_name_the_argument():
    with pytest.raises(ValueError, match="length=1"):
        datasets.make_adding_problem(10, length=1)
    with pytest.raises(ValueError, match="vocab_size=1"):
        datasets.make_copy_task(10, vocab_size=1)
