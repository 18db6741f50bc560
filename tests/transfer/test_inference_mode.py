import os

import keras
import numpy as np

from mlkeras.transfer.inference_mode import InferenceMode
from tests.backends import run_tests_on_backend
from tests.layer_testing import run_layer_test
from tests.transfer import make_tiny_base


def _numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def test_wrapped_dropout_passes_inputs_through_even_in_training():
    x = np.random.default_rng(0).normal(size=(4, 6)).astype("float32")
    outputs = run_layer_test(
        InferenceMode,
        {"layer": keras.layers.Dropout(0.5)},
        x,
        expected_output_shape=(4, 6),
    )
    np.testing.assert_array_equal(outputs[0], x)
    inputs = keras.Input((6,))
    model = keras.Model(
        inputs, InferenceMode(keras.layers.Dropout(0.5))(inputs)
    )
    np.testing.assert_array_equal(_numpy(model(x, training=True)), x)


def test_outer_training_flag_does_not_reach_a_wrapped_model():
    # Reference: the base's own inference-mode output.
    base = make_tiny_base()
    rng = np.random.default_rng(1)
    for layer in base.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(
                rng.normal(size=layer.moving_mean.shape).astype("float32")
            )
    inputs = keras.Input((16, 16, 3))
    model = keras.Model(inputs, InferenceMode(base)(inputs))
    x = rng.uniform(0, 255, size=(8, 16, 16, 3)).astype("float32")
    expected = _numpy(base(x, training=False))
    np.testing.assert_allclose(
        _numpy(model(x, training=True)), expected, rtol=1e-6
    )
    # Whereas a plain functional call with training=False is overridden.
    plain = keras.Model(inputs, base(inputs, training=False))
    assert not np.allclose(_numpy(plain(x, training=True)), expected)


def test_fit_trains_the_wrapped_weights_but_not_the_moving_statistics():
    base = make_tiny_base()
    inputs = keras.Input((16, 16, 3))
    features = InferenceMode(base, name="base")(inputs)
    outputs = keras.layers.Dense(2, activation="softmax")(
        keras.layers.GlobalAveragePooling2D()(features)
    )
    model = keras.Model(inputs, outputs)
    bn = base.get_layer("bn1")
    gamma, mean = _numpy(bn.gamma), _numpy(bn.moving_mean)
    kernel = _numpy(base.get_layer("conv0").kernel)
    model.compile(
        keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy"
    )
    x = np.random.default_rng(2).uniform(0, 1, size=(8, 16, 16, 3))
    model.fit(x.astype("float32"), np.arange(8) % 2, epochs=2, verbose=0)
    assert not np.allclose(_numpy(base.get_layer("conv0").kernel), kernel)
    assert not np.allclose(_numpy(bn.gamma), gamma)
    np.testing.assert_array_equal(_numpy(bn.moving_mean), mean)


def test_trainable_flag_of_the_wrapper_reaches_the_wrapped_model():
    base = make_tiny_base()
    wrapper = InferenceMode(base)
    wrapper.trainable = False
    assert not base.trainable
    assert all(not layer.trainable for layer in base.layers)


def test_inference_mode_and_preprocessing_run_on_jax_backend():
    # One child process for both layers of mlkeras.transfer: starting a
    # JAX-backed pytest costs far more than the tests it runs.
    preprocessing_tests = os.path.join(
        os.path.dirname(__file__), "test_preprocessing.py"
    )
    run_tests_on_backend(
        "jax", __file__, preprocessing_tests, "-k", "not on_jax_backend"
    )
