"""Lab 16 exercise: transfer learning with a frozen base, in Keras.

Keras is allowed here. No download is possible in the grader, so build
the base with `weights=None` (the architecture is what is checked). Check
your work with `mlkeras check lab16.py` (it imports Keras in the sandbox:
allow a minute or two).
"""

import keras


def build_transfer_model(input_shape, num_classes):
    """A frozen MobileNetV2 base with a new classification head.

    base = `keras.applications.MobileNetV2(input_shape=input_shape,
    alpha=0.35, include_top=False, weights=None)` with `base.trainable =
    False`; then `GlobalAveragePooling2D` and `Dense(num_classes,
    activation="softmax")`, as a functional model whose layers are the
    input, the base model (one layer), the pooling and the Dense head.

    Returns:
        The `keras.Model`.
    """
    raise NotImplementedError


def unfreeze_top(input_shape, num_classes, count):
    """`build_transfer_model(...)`, then make the base trainable except
    for all but its last `count` layers (those stay frozen), and leave every
    BatchNormalization layer frozen.

    Returns:
        The `keras.Model`.
    """
    raise NotImplementedError
