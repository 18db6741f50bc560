import numpy as np
import pytest
from sklearn.svm import LinearSVC

from mlkeras import datasets

TWO_D_SETS = [
    datasets.make_separable,
    datasets.make_xor,
    datasets.make_moons,
    datasets.make_circles,
    datasets.make_spirals,
]


@pytest.mark.parametrize("make", TWO_D_SETS, ids=lambda f: f.__name__)
def test_two_d_set_has_shapes_dtypes_and_is_deterministic(make):
    x, y = make(n_samples=120, seed=3)
    assert x.shape == (120, 2) and x.dtype == np.float32
    assert y.shape == (120,) and y.dtype == np.int32
    assert set(np.unique(y)) == {0, 1}
    x2, y2 = make(n_samples=120, seed=3)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    x3, _ = make(n_samples=120, seed=4)
    assert not np.array_equal(x, x3)


@pytest.mark.parametrize("seed", range(5))
def test_separable_set_is_separated_by_a_line_with_margin(seed):
    x, y = datasets.make_separable(300, margin=0.2, seed=seed)
    # A hard-margin linear SVM finds a separating line when one exists.
    svm = LinearSVC(C=1e4, max_iter=100_000).fit(x, y)
    assert svm.score(x, y) == 1.0
    # The gap between classes along the SVM's normal is at least 2 * margin.
    w = svm.coef_[0] / np.linalg.norm(svm.coef_[0])
    projections = x @ w
    gap = projections[y == 1].min() - projections[y == 0].max()
    assert gap >= 2 * 0.2 - 1e-3


def test_xor_labels_follow_the_corner_parity():
    x, y = datasets.make_xor(400, noise=0.05, seed=0)
    corners = np.round(x).astype(int)
    np.testing.assert_array_equal(y, corners[:, 0] ^ corners[:, 1])
    # No line separates XOR: even the best linear SVM stays far from 100 %.
    assert LinearSVC(C=1e4, max_iter=100_000).fit(x, y).score(x, y) < 0.8


def test_circles_inner_class_is_closer_to_the_centre():
    x, y = datasets.make_circles(400, noise=0.02, factor=0.5, seed=0)
    radius = np.linalg.norm(x, axis=1)
    assert radius[y == 1].max() < radius[y == 0].min()


def test_spirals_have_one_arm_per_class():
    x, y = datasets.make_spirals(300, n_classes=3, seed=0)
    assert set(np.unique(y)) == {0, 1, 2}
    assert np.bincount(y).tolist() == [100, 100, 100]


def test_function_regression_samples_the_named_function():
    x, y = datasets.make_function_regression("sin", 64, seed=0)
    assert x.shape == y.shape == (64, 1) and x.dtype == np.float32
    np.testing.assert_allclose(y, np.sin(x), atol=1e-6)
    assert np.all(np.diff(x[:, 0]) >= 0)
    x2, y2 = datasets.make_function_regression(
        np.square, 64, x_range=(0, 2), seed=0
    )
    np.testing.assert_allclose(y2, x2**2, rtol=1e-5)


def test_function_regression_noise_is_seeded():
    a = datasets.make_function_regression("cos", 32, noise=0.1, seed=1)
    b = datasets.make_function_regression("cos", 32, noise=0.1, seed=1)
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.allclose(a[1], np.cos(a[0]))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: datasets.make_separable(0), "n_samples=0"),
        (lambda: datasets.make_separable(10, margin=0.7), "margin=0.7"),
        (lambda: datasets.make_spirals(10, n_classes=1), "n_classes=1"),
        (lambda: datasets.make_function_regression("tan"), "function='tan'"),
        (lambda: datasets.make_function_regression(x_range=(1, 0)), "x_range"),
    ],
)
def test_bad_arguments_raise_naming_the_value(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        call()
