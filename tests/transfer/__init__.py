"""Tests of mlkeras.transfer, plus a tiny base model they share."""

import keras


def make_tiny_base(input_shape=(16, 16, 3), name="tiny_base"):
    """A small functional conv net with BatchNormalization, fast to train.

    It stands in for a pretrained `keras.applications` base where a test
    needs many training steps: conv, BN and ReLU blocks ending in a
    feature map.
    """
    inputs = keras.Input(input_shape, name="image")
    x = inputs
    for index, filters in enumerate((4, 8, 8)):
        x = keras.layers.Conv2D(
            filters, 3, padding="same", name=f"conv{index}"
        )(x)
        x = keras.layers.BatchNormalization(name=f"bn{index}")(x)
        x = keras.layers.ReLU(name=f"relu{index}")(x)
    return keras.Model(inputs, x, name=name)
