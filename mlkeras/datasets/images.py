"""Small image data sets that need no download: digits and synthetic shapes."""

import numpy as np

from mlkeras.datasets.toy import _check_count

SHAPE_NAMES = ("circle", "square", "triangle")


def _split(x, y, test_fraction, rng):
    if not 0 < test_fraction < 1:
        raise ValueError(
            "`test_fraction` must be in (0, 1). "
            f"Received: test_fraction={test_fraction}"
        )
    order = rng.permutation(len(x))
    n_test = int(round(len(x) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return (x[train], y[train]), (x[test], y[test])


def load_digits(test_fraction=0.25, seed=0):
    """scikit-learn's 1,797 handwritten digits as 8x8 grey images.

    The images ship with scikit-learn, so this works offline. Pixel values are
    scaled from 0..16 to [0, 1].

    Args:
        test_fraction: share of the images held out for testing.
        seed: seed of the shuffle before the split.

    Returns:
        `((x_train, y_train), (x_test, y_test))`: images float32 of shape
        (n, 8, 8, 1), labels int32 in 0..9.

    Example:
    >>> (x_train, y_train), (x_test, y_test) = load_digits(seed=0)
    >>> x_train.shape[1:]
    (8, 8, 1)
    """
    # Imported here: scikit-learn takes about a second to import.
    from sklearn import datasets as sk_datasets

    bunch = sk_datasets.load_digits()
    x = (bunch.images / 16.0).astype("float32")[..., None]
    y = bunch.target.astype("int32")
    return _split(x, y, test_fraction, np.random.default_rng(seed))


def _draw_shape(kind, size, rng):
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    radius = rng.uniform(0.2, 0.35) * size
    cy, cx = rng.uniform(radius + 1, size - radius - 1, size=2)
    if kind == "circle":
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
    elif kind == "square":
        half = radius * 0.85
        mask = (np.abs(yy - cy) <= half) & (np.abs(xx - cx) <= half)
    else:
        # An upward triangle: below the apex and inside both slanted edges.
        top, bottom = cy - radius, cy + radius * 0.8
        rel = (yy - top) / (bottom - top)
        mask = (rel >= 0) & (rel <= 1) & (np.abs(xx - cx) <= rel * radius)
    return mask


def make_shapes(
    n_samples=600, image_size=32, shapes=SHAPE_NAMES, noise=0.05, seed=0
):
    """Synthetic grey images of filled circles, squares and triangles.

    Each image holds one shape of random size and position, brightness
    between 0.6 and 1 on a dark background, plus Gaussian pixel noise. Labels
    index into `shapes`.

    Args:
        n_samples: number of images, spread evenly over the classes.
        image_size: height and width in pixels (at least 8).
        shapes: the classes to draw, a subset of `SHAPE_NAMES`.
        noise: standard deviation of the pixel noise.
        seed: random seed.

    Returns:
        `(x, y)`: `x` float32 (n_samples, image_size, image_size, 1) in [0, 1],
        `y` int32 indices into `shapes`.
    """
    _check_count("n_samples", n_samples, 1)
    _check_count("image_size", image_size, 8)
    shapes = tuple(shapes)
    unknown = [s for s in shapes if s not in SHAPE_NAMES]
    if unknown or not shapes:
        raise ValueError(
            f"`shapes` must be a non-empty subset of {SHAPE_NAMES}. "
            f"Received: shapes={shapes!r}"
        )
    rng = np.random.default_rng(seed)
    y = (np.arange(n_samples) % len(shapes)).astype("int32")
    rng.shuffle(y)
    x = np.empty((n_samples, image_size, image_size, 1), dtype="float32")
    for i, label in enumerate(y):
        mask = _draw_shape(shapes[label], image_size, rng)
        image = mask * rng.uniform(0.6, 1.0)
        image = image + rng.normal(0.0, noise, size=image.shape)
        x[i, ..., 0] = np.clip(image, 0.0, 1.0)
    return x, y
