"""The speed-up and gradient helpers the labs share do what they claim."""

import keras
import numpy as np

from mlkeras.labs.gradients import mse_gradients
from mlkeras.labs.side_by_side import copy_start, fit_side_by_side


def small_model(name, kind):
    layer = {"GRU": keras.layers.GRU, "LSTM": keras.layers.LSTM}[kind]
    return keras.Sequential(
        [keras.Input((None, 2)), layer(3), keras.layers.Dense(1)], name=name
    )


def test_side_by_side_training_equals_training_each_model_alone():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 5, 2)).astype("float32")
    y = rng.normal(size=(24, 1)).astype("float32")
    together = {
        "gru": small_model("gru_model", "GRU"),
        "lstm": small_model("lstm_model", "LSTM"),
    }
    alone = {
        name: keras.models.clone_model(model)
        for name, model in together.items()
    }
    for name, model in alone.items():
        model.set_weights(together[name].get_weights())
    curves = fit_side_by_side(
        together,
        x,
        y,
        keras.optimizers.Adam(0.05),
        "mse",
        epochs=3,
        batch_size=8,
        shuffle=False,
    )
    for name, model in alone.items():
        model.compile(keras.optimizers.Adam(0.05), "mse")
        history = model.fit(
            x, y, epochs=3, batch_size=8, shuffle=False, verbose=0
        )
        np.testing.assert_allclose(
            curves[name], history.history["loss"], rtol=1e-4, atol=1e-6
        )
        for a, b in zip(together[name].get_weights(), model.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert curves["gru"] != curves["lstm"]


def test_copy_start_shares_the_common_weights_layer_by_layer():
    first = small_model("a", "GRU")
    second = small_model("b", "GRU")
    assert not np.allclose(first.get_weights()[0], second.get_weights()[0])
    copy_start([first, second])
    for a, b in zip(first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_mse_gradients_match_the_formula_for_a_dense_layer():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 4)).astype("float32")
    y = rng.normal(size=(6, 2)).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    kernel, bias = model.get_weights()
    d_x, (d_kernel, d_bias) = mse_gradients(model, x, y)
    d_out = 2.0 * (x @ kernel + bias - y) / y.size
    np.testing.assert_allclose(d_x, d_out @ kernel.T, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(d_kernel, x.T @ d_out, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(d_bias, d_out.sum(0), rtol=1e-4, atol=1e-6)
