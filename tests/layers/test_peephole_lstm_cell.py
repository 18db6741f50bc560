import keras
import numpy as np
import pytest

from mlkeras.layers import PeepholeLSTMCell


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def numpy_peephole_step(
    x,
    h,
    c,
    kernel,
    recurrent_kernel,
    bias,
    input_peephole,
    forget_peephole,
    output_peephole,
):
    """One step of the Gers et al. (2002) formulas, written out in NumPy.

    The output gate looks at the new cell state. Arrays are float64.
    """
    units = h.shape[-1]
    gate = {}
    for index, name in enumerate("ifco"):
        columns = slice(index * units, (index + 1) * units)
        gate[name] = (
            x @ kernel[:, columns]
            + h @ recurrent_kernel[:, columns]
            + bias[columns]
        )
    i = _sigmoid(gate["i"] + input_peephole * c)
    f = _sigmoid(gate["f"] + forget_peephole * c)
    c_new = f * c + i * np.tanh(gate["c"])
    o = _sigmoid(gate["o"] + output_peephole * c_new)
    return o * np.tanh(c_new), c_new


def random_weights(rng, input_dim, units, peephole_scale=0.5):
    """Random cell weights in the layer's order, as float32 arrays."""
    shapes = [
        (input_dim, 4 * units),
        (units, 4 * units),
        (4 * units,),
        (units,),
        (units,),
        (units,),
    ]
    weights = [rng.normal(scale=0.4, size=s) for s in shapes]
    for k in (3, 4, 5):
        weights[k] = rng.normal(scale=peephole_scale, size=shapes[k])
    return [w.astype("float32") for w in weights]


def _step_inputs(rng, batch=3, input_dim=5, units=4):
    x = rng.normal(size=(batch, input_dim)).astype("float32")
    h = rng.normal(size=(batch, units)).astype("float32")
    c = rng.normal(size=(batch, units)).astype("float32")
    return x, h, c


def test_weights_have_keras_lstm_shapes_then_three_peepholes_in_order():
    cell = PeepholeLSTMCell(4)
    cell.build((None, 5))
    assert [w.name for w in cell.weights] == [
        "kernel",
        "recurrent_kernel",
        "bias",
        "input_peephole",
        "forget_peephole",
        "output_peephole",
    ]
    assert [tuple(w.shape) for w in cell.weights] == [
        (5, 16),
        (4, 16),
        (16,),
        (4,),
        (4,),
        (4,),
    ]
    assert cell.state_size == [4, 4] and cell.output_size == 4


def test_unit_forget_bias_sets_the_forget_gate_bias_to_one():
    cell = PeepholeLSTMCell(3)
    cell.build((None, 2))
    bias = keras.ops.convert_to_numpy(cell.bias)
    np.testing.assert_array_equal(bias, [0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0])
    no_forget_bias = PeepholeLSTMCell(3, unit_forget_bias=False)
    no_forget_bias.build((None, 2))
    assert not np.any(keras.ops.convert_to_numpy(no_forget_bias.bias))


def test_use_bias_false_creates_no_bias_and_matches_the_formulas():
    rng = np.random.default_rng(1)
    cell = PeepholeLSTMCell(4, use_bias=False)
    cell.build((None, 5))
    assert cell.bias is None
    weights = random_weights(rng, 5, 4)
    cell.set_weights(weights[:2] + weights[3:])
    x, h, c = _step_inputs(rng)
    out, (h_new, c_new) = cell(x, [h, c])
    expected_h, expected_c = numpy_peephole_step(
        x, h, c, weights[0], weights[1], np.zeros(16), *weights[3:]
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(h_new), expected_h, atol=1e-5
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(c_new), expected_c, atol=1e-5
    )


def test_one_step_matches_numpy_formulas_with_nonzero_peepholes():
    rng = np.random.default_rng(2)
    cell = PeepholeLSTMCell(4)
    cell.build((None, 5))
    weights = random_weights(rng, 5, 4, peephole_scale=1.0)
    cell.set_weights(weights)
    x, h, c = _step_inputs(rng)
    out, (h_new, c_new) = cell(x, [h, c])
    expected_h, expected_c = numpy_peephole_step(
        x.astype("float64"),
        h.astype("float64"),
        c.astype("float64"),
        *[w.astype("float64") for w in weights],
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(out), expected_h, atol=1e-5
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(h_new), expected_h, atol=1e-5
    )
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(c_new), expected_c, atol=1e-5
    )


def test_output_gate_sees_the_new_cell_state_not_the_previous_one():
    rng = np.random.default_rng(3)
    cell = PeepholeLSTMCell(4)
    cell.build((None, 5))
    weights = random_weights(rng, 5, 4, peephole_scale=2.0)
    cell.set_weights(weights)
    x, h, c = _step_inputs(rng)
    h_new = keras.ops.convert_to_numpy(cell(x, [h, c])[0])
    # The course notes' variant: the output gate reads c_{t-1}.
    units = 4
    z_o = (
        x @ weights[0][:, 3 * units :]
        + h @ weights[1][:, 3 * units :]
        + (weights[2][3 * units :])
    )
    _, c_new = numpy_peephole_step(x, h, c, *weights)
    variant_h = _sigmoid(z_o + weights[5] * c) * np.tanh(c_new)
    assert np.max(np.abs(h_new - variant_h)) > 1e-3


def test_matches_keras_lstm_cell_when_peepholes_are_zero():
    rng = np.random.default_rng(4)
    cell = PeepholeLSTMCell(4, peephole_initializer="zeros")
    reference = keras.layers.LSTMCell(4)
    x, h, c = _step_inputs(rng)
    cell(x, [h, c])
    reference(x, [h, c])
    reference.set_weights(cell.get_weights()[:3])
    ours = cell(x, [h, c])
    theirs = reference(x, [h, c])
    for a, b in zip(keras.tree.flatten(ours), keras.tree.flatten(theirs)):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(a),
            keras.ops.convert_to_numpy(b),
            atol=1e-5,
        )


def test_runs_inside_keras_rnn_and_matches_the_stepwise_formulas():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(2, 6, 3)).astype("float32")
    layer = keras.layers.RNN(
        PeepholeLSTMCell(4), return_sequences=True, return_state=True
    )
    layer(x)
    weights = random_weights(rng, 3, 4)
    layer.set_weights(weights)
    outputs, h_last, c_last = layer(x)
    h = np.zeros((2, 4))
    c = np.zeros((2, 4))
    expected = []
    for t in range(6):
        h, c = numpy_peephole_step(x[:, t], h, c, *weights)
        expected.append(h)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(outputs), np.stack(expected, 1), atol=1e-5
    )
    np.testing.assert_allclose(keras.ops.convert_to_numpy(h_last), h, atol=1e-5)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(c_last), c, atol=1e-5)


def test_dropout_applies_only_in_training():
    rng = np.random.default_rng(6)
    cell = PeepholeLSTMCell(4, dropout=0.5, recurrent_dropout=0.5, seed=1)
    x, h, c = _step_inputs(rng)
    inference = keras.ops.convert_to_numpy(cell(x, [h, c])[0])
    again = keras.ops.convert_to_numpy(cell(x, [h, c], training=False)[0])
    training = keras.ops.convert_to_numpy(cell(x, [h, c], training=True)[0])
    np.testing.assert_array_equal(inference, again)
    assert np.max(np.abs(training - inference)) > 1e-4


def test_config_round_trips_with_every_argument():
    cell = PeepholeLSTMCell(
        6,
        activation="relu",
        recurrent_activation="hard_sigmoid",
        use_bias=False,
        kernel_initializer="he_normal",
        recurrent_initializer="glorot_normal",
        bias_initializer="ones",
        peephole_initializer="zeros",
        unit_forget_bias=False,
        kernel_regularizer="l2",
        recurrent_regularizer="l1",
        bias_regularizer="l1",
        peephole_regularizer="l2",
        kernel_constraint="non_neg",
        recurrent_constraint="unit_norm",
        bias_constraint="max_norm",
        peephole_constraint="non_neg",
        dropout=0.25,
        recurrent_dropout=0.125,
        seed=7,
        name="cell",
    )
    config = cell.get_config()
    clone = PeepholeLSTMCell.from_config(config)
    assert clone.get_config() == config
    assert config["peephole_regularizer"] is not None
    revived = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(cell)
    )
    assert type(revived) is PeepholeLSTMCell
    assert revived.get_config() == config


def test_regularizers_add_losses_for_peepholes():
    cell = PeepholeLSTMCell(
        3,
        peephole_regularizer=keras.regularizers.L2(1.0),
        peephole_initializer="ones",
    )
    cell.build((None, 2))
    # Three peephole vectors of three ones each: 9 * 1.0.
    total = sum(float(keras.ops.convert_to_numpy(loss)) for loss in cell.losses)
    assert total == pytest.approx(9.0)


@pytest.mark.parametrize("units", [0, -3, 2.5, True, None, "8"])
def test_rejects_units_that_are_not_positive_integers(units):
    with pytest.raises(ValueError, match="units"):
        PeepholeLSTMCell(units)


@pytest.mark.parametrize("name", ["dropout", "recurrent_dropout"])
@pytest.mark.parametrize("value", [-0.1, 1.0, 1.5])
def test_rejects_dropout_rates_outside_zero_one(name, value):
    with pytest.raises(ValueError, match=f"{name}={value}"):
        PeepholeLSTMCell(4, **{name: value})


# The JAX-backend re-run of this module shares one child process with the
# layer's tests: see test_layer_and_cell_tests_pass_on_jax_backend in
# tests/layers/test_peephole_lstm.py.
