"""Two-dimensional classification sets and 1-D regression for the early labs."""

import numpy as np


def _check_count(name, value, minimum=1):
    if not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(
            f"`{name}` must be an integer >= {minimum}. "
            f"Received: {name}={value!r}"
        )


def make_separable(n_samples=200, margin=0.2, seed=0):
    """Two classes of 2-D points that a straight line separates.

    Points are drawn uniformly in [-1, 1]^2 and labelled by the side of a
    random line through the square; points closer to the line than `margin`
    are redrawn, so a gap of at least `2 * margin` separates the classes and
    the perceptron learning rule converges in finitely many updates.

    Args:
        n_samples: number of points.
        margin: half-width of the empty band around the separating line.
        seed: random seed.

    Returns:
        `(x, y)`: `x` float32 of shape (n_samples, 2), `y` int32 0/1 labels.

    Example:
    >>> x, y = make_separable(100, seed=1)
    >>> x.shape, y.shape
    ((100, 2), (100,))
    """
    _check_count("n_samples", n_samples, 2)
    if not 0 <= margin < 0.5:
        raise ValueError(
            f"`margin` must be in [0, 0.5). Received: margin={margin}"
        )
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, np.pi)
    normal = np.array([np.cos(angle), np.sin(angle)])
    offset = rng.uniform(-0.3, 0.3)
    while True:
        batch = rng.uniform(-1, 1, size=(4 * n_samples, 2))
        distance = batch @ normal - offset
        x = batch[np.abs(distance) >= margin][:n_samples]
        y = (x @ normal - offset > 0).astype("int32")
        if len(x) == n_samples and 0 < y.sum() < n_samples:
            break
    return x.astype("float32"), y


def make_xor(n_samples=200, noise=0.1, seed=0):
    """The XOR problem: four clusters at the corners of a square.

    Class 1 holds the clusters at (0, 1) and (1, 0), class 0 those at (0, 0)
    and (1, 1), so no straight line separates the classes.

    Args:
        n_samples: number of points, spread evenly over the four corners.
        noise: standard deviation of the Gaussian jitter around each corner.
        seed: random seed.

    Returns:
        `(x, y)`: `x` float32 (n_samples, 2), `y` int32 labels.
    """
    _check_count("n_samples", n_samples, 4)
    rng = np.random.default_rng(seed)
    corners = rng.integers(0, 2, size=(n_samples, 2))
    corners[:4] = [[0, 0], [0, 1], [1, 0], [1, 1]]
    x = corners + rng.normal(0.0, noise, size=corners.shape)
    y = np.logical_xor(corners[:, 0], corners[:, 1]).astype("int32")
    return x.astype("float32"), y


def make_moons(n_samples=200, noise=0.1, seed=0):
    """Two interleaving half circles (scikit-learn's `make_moons`).

    Returns:
        `(x, y)`: `x` float32 (n_samples, 2), `y` int32 labels.
    """
    _check_count("n_samples", n_samples, 2)
    # Imported here: scikit-learn takes about a second to import.
    from sklearn import datasets as sk_datasets

    x, y = sk_datasets.make_moons(n_samples, noise=noise, random_state=seed)
    return x.astype("float32"), y.astype("int32")


def make_circles(n_samples=200, noise=0.05, factor=0.5, seed=0):
    """A small circle inside a large one (scikit-learn's `make_circles`).

    Returns:
        `(x, y)`: `x` float32 (n_samples, 2), `y` int32 labels (1 = inner).
    """
    _check_count("n_samples", n_samples, 2)
    from sklearn import datasets as sk_datasets

    x, y = sk_datasets.make_circles(
        n_samples, noise=noise, factor=factor, random_state=seed
    )
    return x.astype("float32"), y.astype("int32")


def make_spirals(n_samples=300, n_classes=2, turns=1.5, noise=0.1, seed=0):
    """Interleaved spiral arms, one per class.

    Arm `k` follows radius r = t and angle t * 2 pi * turns + 2 pi k / n_classes
    for t in (0, 1], plus Gaussian noise.

    Args:
        n_samples: number of points, spread evenly over the arms.
        n_classes: number of arms (classes).
        turns: how many times each arm winds around the centre.
        noise: standard deviation of the Gaussian jitter.
        seed: random seed.

    Returns:
        `(x, y)`: `x` float32 (n_samples, 2), `y` int32 labels.
    """
    _check_count("n_samples", n_samples, 2)
    _check_count("n_classes", n_classes, 2)
    rng = np.random.default_rng(seed)
    y = np.arange(n_samples) % n_classes
    t = rng.uniform(0.05, 1.0, size=n_samples)
    angle = t * 2 * np.pi * turns + 2 * np.pi * y / n_classes
    x = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
    x += rng.normal(0.0, noise * 0.1, size=x.shape)
    order = rng.permutation(n_samples)
    return x[order].astype("float32"), y[order].astype("int32")


_FUNCTIONS = {
    "sin": np.sin,
    "cos": np.cos,
    "abs": np.abs,
    "square": np.square,
    "step": lambda x: (x > 0).astype("float64"),
    "sinc": lambda x: np.sinc(x / np.pi),
}


def make_function_regression(
    function="sin", n_samples=256, x_range=(-np.pi, np.pi), noise=0.0, seed=0
):
    """Samples of a 1-D function, for universal-approximation experiments.

    Args:
        function: one of `"sin"`, `"cos"`, `"abs"`, `"square"`, `"step"`,
            `"sinc"`, or any callable mapping a NumPy array to an array.
        n_samples: number of points, drawn uniformly in `x_range`.
        x_range: `(low, high)` interval of the inputs.
        noise: standard deviation of Gaussian noise added to the targets.
        seed: random seed.

    Returns:
        `(x, y)`: float32 arrays of shape (n_samples, 1), sorted by `x`.
    """
    _check_count("n_samples", n_samples, 1)
    if callable(function):
        fn = function
    elif function in _FUNCTIONS:
        fn = _FUNCTIONS[function]
    else:
        raise ValueError(
            f"Unknown `function`. Expected a callable or one of "
            f"{sorted(_FUNCTIONS)}. Received: function={function!r}"
        )
    low, high = x_range
    if not low < high:
        raise ValueError(
            "`x_range` must be (low, high) with low < high. "
            f"Received: x_range={x_range!r}"
        )
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(low, high, size=n_samples))
    y = fn(x) + rng.normal(0.0, noise, size=n_samples) if noise else fn(x)
    return x[:, None].astype("float32"), np.asarray(y)[:, None].astype(
        "float32"
    )
