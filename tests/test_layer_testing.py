import keras
import numpy as np
import pytest

from tests.backends import run_tests_on_backend
from tests.layer_testing import run_layer_test


class ForgetsUnits(keras.layers.Layer):
    """A broken layer: its config drops `units`, so a clone differs."""

    def __init__(self, units=2, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units))

    def call(self, inputs):
        return inputs @ self.kernel


def test_passes_for_a_keras_dense_layer():
    x = np.random.normal(size=(4, 3)).astype("float32")
    outputs = run_layer_test(keras.layers.Dense, {"units": 5}, x, (4, 5))
    assert outputs[0].shape == (4, 5)


def test_fails_when_the_expected_shape_is_wrong():
    x = np.random.normal(size=(4, 3)).astype("float32")
    with pytest.raises(AssertionError, match="shapes"):
        run_layer_test(keras.layers.Dense, {"units": 5}, x, (4, 6))


def test_fails_when_the_config_does_not_round_trip():
    x = np.random.normal(size=(4, 3)).astype("float32")
    with pytest.raises(Exception):
        run_layer_test(ForgetsUnits, {"units": 7}, x, (4, 7))


def test_passes_on_jax_backend():
    run_tests_on_backend("jax", __file__, "-k", "not on_jax_backend")
