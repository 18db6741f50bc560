"""`ImagenetPreprocessing`: the applications' pixel preprocessing as a layer."""

import keras
from keras import ops

from mlkeras.transfer.registry import PREPROCESSING_MODES

# ImageNet channel statistics, in RGB order.
_CAFFE_MEAN_RGB = (123.68, 116.779, 103.939)
_TORCH_MEAN_RGB = (0.485, 0.456, 0.406)
_TORCH_STD_RGB = (0.229, 0.224, 0.225)


@keras.saving.register_keras_serializable(package="mlkeras")
class ImagenetPreprocessing(keras.layers.Layer):
    """Prepares RGB pixels in [0, 255] the way an ImageNet model expects.

    Each `keras.applications` module ships a `preprocess_input` function;
    this layer does the same arithmetic with `keras.ops`, so it can sit
    inside a model (preprocessing then happens once, in the model, on every
    backend) and saves and loads with it. See
    https://keras.io/api/applications/ for which model uses which mode.

    Args:
        mode: `"caffe"` (reorder RGB to BGR, subtract the ImageNet channel
            means), `"tf"` (scale to [-1, 1]), `"torch"` (scale to [0, 1],
            then normalise each channel by the ImageNet mean and standard
            deviation) or `"builtin"` (pass pixels through unchanged, for
            models that hold their own preprocessing).
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `keras.config.image_data_format()`.
        **kwargs: base `Layer` arguments such as `name` and `dtype`.

    Call arguments:
        inputs: RGB images with pixel values in [0, 255]; for `"caffe"` and
            `"torch"` the channel axis must have size 3.

    Returns:
        A tensor of the same shape, preprocessed.

    Example:

    >>> layer = ImagenetPreprocessing("tf")
    >>> layer(np.full((1, 2, 2, 3), 255.0)).numpy().max()
    1.0

    References:
        - Keras applications: https://keras.io/api/applications/
        - He et al., 2015, "Deep Residual Learning for Image Recognition"
          (caffe-style inputs): https://arxiv.org/abs/1512.03385
    """

    def __init__(self, mode, data_format=None, **kwargs):
        if mode not in PREPROCESSING_MODES:
            raise ValueError(
                f"`mode` must be one of {PREPROCESSING_MODES}. Received: "
                f"mode={mode!r}"
            )
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError(
                "`data_format` must be 'channels_last', 'channels_first' or "
                f"None. Received: data_format={data_format!r}"
            )
        super().__init__(**kwargs)
        self.mode = mode
        self.data_format = data_format or keras.config.image_data_format()
        self._channel_axis = -1 if self.data_format == "channels_last" else -3

    def build(self, input_shape):
        channels = input_shape[self._channel_axis]
        if self.mode in ("caffe", "torch") and channels != 3:
            raise ValueError(
                f"Mode {self.mode!r} needs RGB input with 3 channels on the "
                f"channel axis. Received: input_shape={tuple(input_shape)}"
            )

    def _per_channel(self, values, rank):
        shape = [1] * rank
        shape[self._channel_axis] = 3
        return ops.reshape(
            ops.convert_to_tensor(values, self.compute_dtype), shape
        )

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        rank = len(x.shape)
        if self.mode == "tf":
            return x / 127.5 - 1.0
        if self.mode == "torch":
            mean = self._per_channel(_TORCH_MEAN_RGB, rank)
            std = self._per_channel(_TORCH_STD_RGB, rank)
            return (x / 255.0 - mean) / std
        if self.mode == "caffe":
            x = x - self._per_channel(_CAFFE_MEAN_RGB, rank)
            return ops.flip(x, axis=self._channel_axis)
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"mode": self.mode, "data_format": self.data_format})
        return config
