import numpy as np
import pytest
from sklearn import datasets as sk_datasets

from mlkeras import datasets


def test_digits_split_has_image_shapes_and_covers_every_image():
    (x_train, y_train), (x_test, y_test) = datasets.load_digits(0.25, seed=0)
    assert x_train.shape[1:] == (8, 8, 1) and x_train.dtype == np.float32
    assert y_train.dtype == np.int32
    assert len(x_train) + len(x_test) == 1797
    assert len(x_test) == round(1797 * 0.25)
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0
    # The split is a permutation of scikit-learn's images, labels kept.
    reference = sk_datasets.load_digits()
    all_x = np.concatenate([x_train, x_test])[..., 0] * 16
    all_y = np.concatenate([y_train, y_test])
    order = np.lexsort(all_x.reshape(len(all_x), -1).T)
    ref_order = np.lexsort(reference.images.reshape(1797, -1).T)
    np.testing.assert_allclose(
        all_x[order], reference.images[ref_order], atol=1e-5
    )
    np.testing.assert_array_equal(all_y[order], reference.target[ref_order])


def test_digits_split_is_deterministic_under_a_seed():
    a = datasets.load_digits(seed=5)
    b = datasets.load_digits(seed=5)
    np.testing.assert_array_equal(a[1][1], b[1][1])
    c = datasets.load_digits(seed=6)
    assert not np.array_equal(a[1][1], c[1][1])


def test_shapes_have_requested_size_balanced_classes_and_seeded_pixels():
    x, y = datasets.make_shapes(90, image_size=24, seed=1)
    assert x.shape == (90, 24, 24, 1) and x.dtype == np.float32
    assert y.dtype == np.int32 and np.bincount(y).tolist() == [30, 30, 30]
    assert 0.0 <= x.min() and x.max() <= 1.0
    x2, y2 = datasets.make_shapes(90, image_size=24, seed=1)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)


def test_shapes_fill_matches_their_geometry():
    # Without noise, a square of half-width a covers about (2a)^2 pixels and
    # a circle of the same radius pi a^2 / 0.85^2; a triangle is smallest.
    x, y = datasets.make_shapes(300, image_size=32, noise=0.0, seed=0)
    area = (x[..., 0] > 0).sum(axis=(1, 2))
    by_class = [area[y == k].mean() for k in range(3)]
    circle, square, triangle = by_class
    assert triangle < square < circle


def test_shapes_subset_and_errors():
    x, y = datasets.make_shapes(10, shapes=("square",), seed=0)
    assert set(y.tolist()) == {0}
    with pytest.raises(ValueError, match="shapes=\\('hexagon',\\)"):
        datasets.make_shapes(10, shapes=("hexagon",))
    with pytest.raises(ValueError, match="image_size=4"):
        datasets.make_shapes(10, image_size=4)
