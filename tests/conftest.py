"""Shared test set-up: quiet TensorFlow, a headless matplotlib, fixed seeds."""

import os
import random

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import matplotlib  # noqa: E402

matplotlib.use("Agg")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def seeded_randomness():
    """Every test starts from the same Python, NumPy and Keras seeds."""
    random.seed(0)
    np.random.seed(0)
    keras.utils.set_random_seed(0)
    yield
