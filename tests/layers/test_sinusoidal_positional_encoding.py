import keras
import numpy as np
import pytest
from keras import ops

from mlkeras.layers import SinusoidalPositionalEncoding, sinusoidal_encoding
from tests.backends import run_tests_on_backend
from tests.layer_testing import run_layer_test


def numpy_table(length, depth, max_wavelength=10000, start_index=0):
    """The paper's formula in float64, channel by channel."""
    table = np.zeros((length, depth), dtype="float64")
    positions = np.arange(start_index, start_index + length, dtype="float64")
    for channel in range(depth):
        pair = channel // 2
        angle = positions / max_wavelength ** (2 * pair / depth)
        table[:, channel] = np.sin(angle) if channel % 2 == 0 else np.cos(angle)
    return table


@pytest.fixture
def restore_float32_policy():
    try:
        yield
    finally:
        keras.config.set_dtype_policy("float32")


@pytest.mark.parametrize(
    "length,depth,max_wavelength,start_index",
    [
        (50, 16, 10000, 0),
        (7, 5, 10000, 0),
        (30, 1, 10000, 0),
        (40, 9, 100, 13),
        (1000, 64, 10000, 0),
    ],
)
def test_table_matches_float64_numpy_formula(
    length, depth, max_wavelength, start_index
):
    table = sinusoidal_encoding(length, depth, max_wavelength, start_index)
    assert keras.backend.standardize_dtype(table.dtype) == "float32"
    # float32 angles carry a relative rounding error of about 2 units of
    # 2**-24 (the rate, then the product), so the bound grows with position.
    bound = 1e-6 + 4 * 2.0**-24 * (start_index + length)
    error = np.abs(
        ops.convert_to_numpy(table)
        - numpy_table(length, depth, max_wavelength, start_index)
    )
    assert error.max() <= bound, f"largest error {error.max()} > {bound}"


def test_odd_depth_ends_with_a_sine_channel():
    table = ops.convert_to_numpy(sinusoidal_encoding(20, 7))
    positions = np.arange(20)
    np.testing.assert_allclose(
        table[:, 6], np.sin(positions / 10000 ** (6 / 7)), atol=1e-6
    )
    # The even channels before it are sines of their own pair, too.
    np.testing.assert_allclose(table[:, 0], np.sin(positions), atol=1e-6)


def test_layer_adds_the_table_to_its_inputs():
    x = np.random.normal(size=(3, 11, 6)).astype("float32")
    outputs = run_layer_test(
        SinusoidalPositionalEncoding,
        {},
        x,
        (3, 11, 6),
        run_training_check=False,
    )
    np.testing.assert_allclose(outputs[0], x + numpy_table(11, 6), atol=1e-5)


def test_layer_under_mixed_bfloat16_is_accurate_over_4096_positions(
    restore_float32_policy,
):
    keras.config.set_dtype_policy("mixed_bfloat16")
    layer = SinusoidalPositionalEncoding()
    outputs = layer(ops.zeros((1, 4096, 64), dtype="bfloat16"))
    assert keras.backend.standardize_dtype(outputs.dtype) == "bfloat16"
    values = ops.convert_to_numpy(ops.cast(outputs, "float32"))[0]
    error = np.abs(values - numpy_table(4096, 64)).max()
    assert error < 1e-2, f"largest error {error}"


def test_layer_under_mixed_float16_is_accurate_over_4096_positions(
    restore_float32_policy,
):
    keras.config.set_dtype_policy("mixed_float16")
    layer = SinusoidalPositionalEncoding(layout="concatenated")
    outputs = layer(ops.zeros((1, 4096, 33), dtype="float16"))
    values = ops.convert_to_numpy(ops.cast(outputs, "float32"))[0]
    interleaved = numpy_table(4096, 33)
    expected = np.concatenate([interleaved[:, 0::2], interleaved[:, 1::2]], -1)
    assert np.abs(values - expected).max() < 1e-2


def test_step_by_step_decoding_equals_the_full_sequence():
    x = np.random.normal(size=(2, 9, 8)).astype("float32")
    layer = SinusoidalPositionalEncoding()
    full = ops.convert_to_numpy(layer(x))
    steps = [
        ops.convert_to_numpy(layer(x[:, t : t + 1], start_index=t))
        for t in range(9)
    ]
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full, atol=1e-6)


def test_concatenated_layout_is_a_permutation_of_interleaved():
    for depth in (8, 9):
        x = np.zeros((1, 25, depth), "float32")
        interleaved = ops.convert_to_numpy(SinusoidalPositionalEncoding()(x))
        concatenated = ops.convert_to_numpy(
            SinusoidalPositionalEncoding(layout="concatenated")(x)
        )
        order = list(range(0, depth, 2)) + list(range(1, depth, 2))
        np.testing.assert_allclose(
            concatenated, interleaved[..., order], atol=1e-6
        )


def test_embedding_mask_reaches_the_next_layer():
    tokens = np.array([[4, 2, 7, 0, 0], [1, 3, 0, 0, 0]], dtype="int32")
    inputs = keras.Input(shape=(None,), dtype="int32")
    embedded = keras.layers.Embedding(10, 6, mask_zero=True)(inputs)
    encoded = SinusoidalPositionalEncoding()(embedded)
    pooled = keras.layers.GlobalAveragePooling1D()(encoded)  # uses the mask
    model = keras.Model(inputs, [encoded, pooled])
    encoded_values, pooled_values = map(ops.convert_to_numpy, model(tokens))
    keep = (tokens != 0)[..., None]
    expected = (encoded_values * keep).sum(1) / keep.sum(1)
    np.testing.assert_allclose(pooled_values, expected, atol=1e-5)
    assert not np.allclose(pooled_values, encoded_values.mean(1), atol=1e-3)


def test_trains_in_a_jit_compiled_sequential_model():
    model = keras.Sequential(
        [
            keras.Input(shape=(12,), dtype="int32"),
            keras.layers.Embedding(20, 8),
            SinusoidalPositionalEncoding(),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    x = np.random.randint(0, 20, size=(16, 12)).astype("int32")
    y = np.random.normal(size=(16, 1)).astype("float32")
    history = model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_bad_arguments_raise_errors_naming_the_value():
    with pytest.raises(ValueError, match="max_wavelength=0"):
        SinusoidalPositionalEncoding(max_wavelength=0)
    with pytest.raises(ValueError, match="layout=sideways"):
        SinusoidalPositionalEncoding(layout="sideways")
    with pytest.raises(ValueError, match="depth=0"):
        sinusoidal_encoding(10, 0)
    with pytest.raises(ValueError, match="length=-1"):
        sinusoidal_encoding(-1, 4)
    with pytest.raises(ValueError, match=r"inputs.shape=\(4,\)"):
        SinusoidalPositionalEncoding()(np.zeros((4,), "float32"))


# keras-hub's cases for its `SinePositionEncoding` (keras_hub/src/layers/
# modeling/sine_position_encoding_test.py). keras-hub's layer returns the
# encoding alone, which is ours with `add_to_inputs=False`; each case also
# runs with the default, where the output is `inputs + encoding`.
ADDS = pytest.mark.parametrize(
    "add_to_inputs", [False, True], ids=["encoding", "added"]
)


def _encoding_part(layer, inputs, outputs):
    outputs = ops.convert_to_numpy(outputs)
    if layer.add_to_inputs:
        return outputs - ops.convert_to_numpy(inputs)
    return outputs


@ADDS
@pytest.mark.parametrize("shape", [(2, 4, 6), (1, 2, 4, 6), (3, 5, 2, 7)])
def test_hub_case_layer_behaviours_on_rank_3_and_4(add_to_inputs, shape):
    x = np.random.uniform(size=shape).astype("float32")
    outputs = run_layer_test(
        SinusoidalPositionalEncoding,
        {"max_wavelength": 10000, "add_to_inputs": add_to_inputs},
        x,
        shape,
        run_training_check=False,
    )
    table = numpy_table(shape[-2], shape[-1])
    expected = x + table if add_to_inputs else np.broadcast_to(table, shape)
    np.testing.assert_allclose(outputs[0], expected, atol=1e-5)


@pytest.mark.parametrize(
    "input_shape",
    [(100, 32), (None, 32), (None, 100, 32), (3, None, 32), (None, None, 8)],
    ids=["static", "dynamic", "multi_dim", "multi_dim_dynamic", "all_open"],
)
def test_hub_case_symbolic_output_shape_equals_input_shape(input_shape):
    outputs = SinusoidalPositionalEncoding()(keras.Input(shape=input_shape))
    assert tuple(outputs.shape) == (None, *input_shape)


@ADDS
def test_hub_case_values_at_positions_0_and_3(add_to_inputs):
    layer = SinusoidalPositionalEncoding(add_to_inputs=add_to_inputs)
    model = keras.Sequential([keras.Input(shape=(4, 6)), layer])
    x = np.random.uniform(size=(1, 4, 6)).astype("float32")
    encoding = _encoding_part(layer, x, model(x))
    # sin(3 / 10000 ** (2i / 6)) and cos(...), as keras-hub lists them.
    expected_0 = [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]
    expected_3 = [0.14112, -0.98999, 0.13879, 0.99032, 0.00646, 0.99997]
    np.testing.assert_allclose(encoding[0, 0], expected_0, atol=1e-5)
    np.testing.assert_allclose(encoding[0, 3], expected_3, atol=1e-5)


@ADDS
@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 3, 5, 4)])
def test_hub_case_start_index_decodes_step_by_step(add_to_inputs, shape):
    layer = SinusoidalPositionalEncoding(add_to_inputs=add_to_inputs)
    data = np.random.uniform(size=shape).astype("float32")
    full = layer(data)
    sequential = ops.zeros(shape)
    for i in range(shape[-2]):
        step = layer(data[..., i : i + 1, :], start_index=i)
        sequential = ops.slice_update(
            sequential, (0,) * (len(shape) - 2) + (i, 0), step
        )
    np.testing.assert_allclose(
        ops.convert_to_numpy(sequential), ops.convert_to_numpy(full), atol=1e-6
    )


def test_tensor_start_index_inside_a_compiled_function():
    layer = SinusoidalPositionalEncoding(add_to_inputs=False)
    x = np.zeros((1, 2, 6), "float32")
    step = keras.ops.convert_to_tensor(5, "int32")
    if keras.backend.backend() == "jax":
        import jax

        compiled = jax.jit(lambda x, t: layer(x, start_index=t))
    else:
        import tensorflow as tf

        compiled = tf.function(
            lambda x, t: layer(x, start_index=t), jit_compile=True
        )
    values = ops.convert_to_numpy(compiled(x, step))[0]
    np.testing.assert_allclose(
        values, numpy_table(2, 6, start_index=5), atol=1e-6
    )


@ADDS
def test_hub_case_positions_of_shape_sequence_equal_start_index(
    add_to_inputs,
):
    for layout, depth in [("interleaved", 6), ("concatenated", 7)]:
        layer = SinusoidalPositionalEncoding(
            layout=layout, add_to_inputs=add_to_inputs
        )
        x = np.random.uniform(size=(2, 4, depth)).astype("float32")
        by_positions = layer(x, positions=np.arange(7, 11, dtype="int32"))
        by_start = layer(x, start_index=7)
        np.testing.assert_allclose(
            ops.convert_to_numpy(by_positions),
            ops.convert_to_numpy(by_start),
            atol=1e-6,
        )


@ADDS
@pytest.mark.parametrize("shape", [(2, 5, 6), (2, 3, 5, 7), (5, 6)])
def test_positions_per_batch_row_encode_packed_sequences(add_to_inputs, shape):
    # Row 0 packs examples of lengths 3 and 2; row 1 one of length 5.
    packed = np.array([[0, 1, 2, 0, 1], [0, 1, 2, 3, 4]], dtype="int32")
    positions = packed[0] if len(shape) == 2 else packed
    layer = SinusoidalPositionalEncoding(add_to_inputs=add_to_inputs)
    x = np.random.uniform(size=shape).astype("float32")
    encoding = _encoding_part(layer, x, layer(x, positions=positions))
    rows = positions.reshape(-1, shape[-2])
    for b, row in enumerate(rows):
        expected = numpy_table(shape[-2], shape[-1])[row]
        got = encoding if len(shape) == 2 else encoding[b]
        np.testing.assert_allclose(
            got, np.broadcast_to(expected, got.shape), atol=1e-5
        )


def test_positions_with_the_full_leading_shape_are_used_as_they_are():
    positions = np.random.randint(0, 50, size=(2, 3, 5))
    layer = SinusoidalPositionalEncoding(add_to_inputs=False)
    encoding = ops.convert_to_numpy(
        layer(np.zeros((2, 3, 5, 4), "float32"), positions=positions)
    )
    expected = numpy_table(50, 4)[positions]
    np.testing.assert_allclose(encoding, expected, atol=1e-5)


def test_positions_as_a_model_input_in_a_compiled_fit():
    tokens = keras.Input(shape=(6,), dtype="int32")
    positions = keras.Input(shape=(6,), dtype="int32")
    embedded = keras.layers.Embedding(20, 8)(tokens)
    encoded = SinusoidalPositionalEncoding()(embedded, positions=positions)
    assert tuple(encoded.shape) == (None, 6, 8)
    pooled = keras.layers.GlobalAveragePooling1D()(encoded)
    model = keras.Model([tokens, positions], keras.layers.Dense(1)(pooled))
    model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    x = np.random.randint(0, 20, size=(8, 6)).astype("int32")
    p = np.tile(np.array([0, 1, 2, 0, 1, 2], "int32"), (8, 1))
    history = model.fit([x, p], np.zeros((8, 1)), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    # The positions reach the encoding: shifting them changes the output.
    assert not np.allclose(
        ops.convert_to_numpy(model([x, p])),
        ops.convert_to_numpy(model([x, p + 1])),
    )


def test_encoding_alone_has_the_compute_dtype_under_mixed_precision(
    restore_float32_policy,
):
    keras.config.set_dtype_policy("mixed_bfloat16")
    layer = SinusoidalPositionalEncoding(add_to_inputs=False)
    outputs = layer(np.random.uniform(size=(2, 3, 512, 16)))
    assert keras.backend.standardize_dtype(outputs.dtype) == "bfloat16"
    values = ops.convert_to_numpy(ops.cast(outputs, "float32"))
    assert np.abs(values - numpy_table(512, 16)).max() < 1e-2


def test_bad_positions_raise_errors_naming_the_value():
    layer = SinusoidalPositionalEncoding()
    x = np.zeros((2, 4, 6), "float32")
    with pytest.raises(ValueError, match="start_index=2"):
        layer(x, start_index=2, positions=np.arange(4))
    with pytest.raises(ValueError, match=r"positions.shape=\(1, 2, 4\)"):
        layer(x, positions=np.zeros((1, 2, 4), "int32"))
    with pytest.raises(ValueError, match="add_to_inputs=yes"):
        SinusoidalPositionalEncoding(add_to_inputs="yes")


def test_layer_runs_on_jax_backend():
    run_tests_on_backend("jax", __file__, "-k", "not on_jax_backend")
