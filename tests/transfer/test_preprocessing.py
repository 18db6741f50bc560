"""ImagenetPreprocessing tests; test_inference_mode.py re-runs them on JAX."""

import keras
import numpy as np
import pytest

from mlkeras.transfer.preprocessing import ImagenetPreprocessing
from tests.layer_testing import run_layer_test

# One Keras module per mode: its preprocess_input is the reference.
_REFERENCE_MODULES = {
    "caffe": keras.applications.vgg16,
    "tf": keras.applications.xception,
    "torch": keras.applications.densenet,
    "builtin": keras.applications.efficientnet,
}


def _pixels(shape=(2, 5, 4, 3)):
    return (
        np.random.default_rng(1).uniform(0, 255, size=shape).astype("float32")
    )


@pytest.mark.parametrize("mode", sorted(_REFERENCE_MODULES))
def test_output_matches_keras_preprocess_input(mode):
    x = _pixels()
    expected = np.asarray(_REFERENCE_MODULES[mode].preprocess_input(x.copy()))
    outputs = run_layer_test(
        ImagenetPreprocessing, {"mode": mode}, x, expected_output_shape=x.shape
    )
    np.testing.assert_allclose(outputs[0], expected, rtol=1e-5, atol=1e-4)


def test_caffe_mode_swaps_red_and_blue_before_subtracting_means():
    x = np.zeros((1, 1, 1, 3), "float32")
    x[..., 0] = 200.0  # red only
    out = keras.ops.convert_to_numpy(ImagenetPreprocessing("caffe")(x))
    # BGR order: the red value lands in the last channel.
    np.testing.assert_allclose(
        out[0, 0, 0], [-103.939, -116.779, 200.0 - 123.68], atol=1e-4
    )


def test_channels_first_matches_channels_last_transposed():
    x = _pixels()
    last = ImagenetPreprocessing("torch", data_format="channels_last")(x)
    first = ImagenetPreprocessing("torch", data_format="channels_first")(
        np.transpose(x, (0, 3, 1, 2))
    )
    np.testing.assert_allclose(
        np.transpose(keras.ops.convert_to_numpy(first), (0, 2, 3, 1)),
        keras.ops.convert_to_numpy(last),
        rtol=1e-6,
    )


def test_config_keeps_mode_and_data_format():
    layer = ImagenetPreprocessing(
        "caffe", data_format="channels_first", name="prep"
    )
    config = layer.get_config()
    assert (config["mode"], config["data_format"], config["name"]) == (
        "caffe",
        "channels_first",
        "prep",
    )


def test_rejects_an_unknown_mode():
    with pytest.raises(ValueError, match="mode='bgr'"):
        ImagenetPreprocessing("bgr")


def test_rejects_an_unknown_data_format():
    with pytest.raises(ValueError, match="data_format='nhwc'"):
        ImagenetPreprocessing("tf", data_format="nhwc")


@pytest.mark.parametrize("mode", ["caffe", "torch"])
def test_per_channel_modes_need_three_channels(mode):
    with pytest.raises(ValueError, match="3 channels"):
        ImagenetPreprocessing(mode)(keras.Input((8, 8, 1)))


def test_tf_mode_accepts_any_channel_count():
    x = _pixels((1, 2, 2, 1))
    out = keras.ops.convert_to_numpy(ImagenetPreprocessing("tf")(x))
    np.testing.assert_allclose(out, x / 127.5 - 1, rtol=1e-6)
