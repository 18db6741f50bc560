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
    with pytest.raises(ValueError, match=r"inputs.shape=\(2, 4\)"):
        SinusoidalPositionalEncoding()(np.zeros((2, 4), "float32"))


def test_layer_runs_on_jax_backend():
    run_tests_on_backend("jax", __file__, "-k", "not on_jax_backend")
