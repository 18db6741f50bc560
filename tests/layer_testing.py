"""`run_layer_test`: the checks every mlkeras layer must pass.

It builds the layer, calls it on symbolic and on eager inputs, round-trips
its config and a saved `.keras` model, and takes one training step, so a
layer test only adds what is specific to the layer.
"""

import os
import tempfile

import keras
import numpy as np


def _as_tuple(value):
    return tuple(value) if isinstance(value, (list, tuple)) else (value,)


def _shapes(outputs):
    return [tuple(o.shape) for o in keras.tree.flatten(outputs)]


def _numpy(outputs):
    return [keras.ops.convert_to_numpy(o) for o in keras.tree.flatten(outputs)]


def run_layer_test(
    layer_cls,
    init_kwargs,
    input_data,
    expected_output_shape,
    call_kwargs=None,
    run_training_check=True,
    atol=1e-6,
):
    """Runs the shared layer checks and returns the eager outputs.

    Args:
        layer_cls: the layer class.
        init_kwargs: keyword arguments of the constructor.
        input_data: a NumPy array, or a tuple of them passed positionally.
        expected_output_shape: the eager output shape, or a list of shapes
            when the layer returns several tensors.
        call_kwargs: extra keyword arguments of `call`.
        run_training_check: fit one step and check weights move.
        atol: tolerance of the round-trip comparisons.

    Returns:
        The eager outputs as a list of NumPy arrays.
    """
    call_kwargs = call_kwargs or {}
    inputs = _as_tuple(input_data)
    expected = (
        expected_output_shape
        if isinstance(expected_output_shape, list)
        else [expected_output_shape]
    )
    expected = [tuple(s) for s in expected]

    # Symbolic call: same shapes with the batch left open.
    symbolic_inputs = [
        keras.Input(shape=x.shape[1:], dtype=str(x.dtype)) for x in inputs
    ]
    layer = layer_cls(**init_kwargs)
    symbolic_outputs = layer(*symbolic_inputs, **call_kwargs)
    symbolic_shapes = _shapes(symbolic_outputs)
    assert symbolic_shapes == [(None, *s[1:]) for s in expected], (
        f"symbolic shapes {symbolic_shapes} != expected {expected}"
    )

    # Eager call on a fresh instance.
    eager_layer = layer_cls(**init_kwargs)
    outputs = eager_layer(*inputs, **call_kwargs)
    assert _shapes(outputs) == expected, (
        f"eager shapes {_shapes(outputs)} != expected {expected}"
    )
    eager_values = _numpy(outputs)

    # Config round trip, through the registered serialization name too.
    config = eager_layer.get_config()
    clone = layer_cls.from_config(config)
    assert clone.get_config() == config
    revived = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(eager_layer)
    )
    assert type(revived) is layer_cls
    revived(*inputs, **call_kwargs)
    revived.set_weights(eager_layer.get_weights())
    for a, b in zip(_numpy(revived(*inputs, **call_kwargs)), eager_values):
        np.testing.assert_allclose(a, b, atol=atol)

    # A saved .keras model loads without custom_objects.
    model_inputs = (
        symbolic_inputs if len(symbolic_inputs) > 1 else symbolic_inputs[0]
    )
    model = keras.Model(model_inputs, symbolic_outputs)
    before = _numpy(model(list(inputs) if len(inputs) > 1 else inputs[0]))
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path)
    after = _numpy(loaded(list(inputs) if len(inputs) > 1 else inputs[0]))
    for a, b in zip(after, before):
        np.testing.assert_allclose(a, b, atol=atol)

    if run_training_check and model.trainable_weights:
        first_output = keras.tree.flatten(symbolic_outputs)[0]
        train_model = keras.Model(model_inputs, first_output)
        train_model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        x = list(inputs) if len(inputs) > 1 else inputs[0]
        target = (
            np.random.default_rng(0).normal(size=expected[0]).astype("float32")
        )
        weights_before = [
            np.array(keras.ops.convert_to_numpy(w))
            for w in train_model.trainable_weights
        ]
        history = train_model.fit(
            x, target, epochs=1, batch_size=len(inputs[0]), verbose=0
        )
        assert np.isfinite(history.history["loss"][0])
        moved = [
            not np.allclose(a, keras.ops.convert_to_numpy(w))
            for a, w in zip(weights_before, train_model.trainable_weights)
        ]
        assert any(moved), "one fit step changed no trainable weight"
    return eager_values
