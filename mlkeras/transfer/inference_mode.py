"""`InferenceMode`: runs a wrapped layer or model with `training=False`."""

import keras


@keras.saving.register_keras_serializable(package="mlkeras")
class InferenceMode(keras.layers.Wrapper):
    """Always calls the wrapped layer with `training=False`.

    Transfer learning wants the pretrained base in inference mode for good:
    BatchNormalization must keep normalising with its moving statistics
    (and leave them alone), dropout inside the base must stay off, even
    while `fit` trains the head or fine-tunes the base. Writing
    `base(x, training=False)` when building a functional model is not
    enough in Keras 3: when the outer model runs with `training=True`, that
    value is handed to every layer in the graph and replaces the `False`
    (keras-team/keras#20285). This wrapper's `call` has no `training`
    argument, so nothing is handed to it, and it calls the wrapped layer
    with `training=False` itself. Weights stay trainable as set on the
    wrapped layer: gradients still reach the base when it is unfrozen.

    Args:
        layer: the layer or model to run in inference mode.
        **kwargs: base `Layer` arguments such as `name`.

    Call arguments:
        inputs: the inputs of the wrapped layer.

    Returns:
        The wrapped layer's outputs for `training=False`.

    Example:

    >>> base = keras.applications.MobileNetV3Small(
    ...     include_top=False, weights=None, input_shape=(32, 32, 3))
    >>> features = InferenceMode(base, name="base")(keras.Input((32, 32, 3)))

    References:
        - Keras guide, "Transfer learning & fine-tuning":
          https://keras.io/guides/transfer_learning/
        - Ioffe and Szegedy, 2015, "Batch Normalization":
          https://arxiv.org/abs/1502.03167
    """

    def call(self, inputs):
        return self.layer(inputs, training=False)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        # `Wrapper.from_config` pops "layer" from the dict it is given; work
        # on a copy so the caller's config stays whole.
        return super().from_config(dict(config), custom_objects=custom_objects)
