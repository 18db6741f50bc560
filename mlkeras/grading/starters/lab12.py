"""Lab 12 exercise: a residual network in Keras.

Keras is allowed here. The grader builds your model inside the sandbox and
checks its architecture and outputs. Check your work with
`mlkeras check lab12.py` (it imports Keras in the sandbox: allow a minute).
"""

import keras


def build_residual_mlp(input_dim, width, blocks, num_classes):
    """A functional-API residual MLP.

    `keras.Input((input_dim,))`; `Dense(width, activation="relu")`; then
    `blocks` residual blocks, each computing
    `relu(x + Dense(width)(Dense(width, activation="relu")(x)))` with a
    `keras.layers.Add` and a `keras.layers.Activation("relu")`; then
    `Dense(num_classes, activation="softmax")`.

    Returns:
        The `keras.Model` (uncompiled is fine).
    """
    raise NotImplementedError


def build_plain_mlp(input_dim, width, blocks, num_classes):
    """The same network without the skip connections (no Add layers):
    the same Dense layers in the same order, so the same parameter count."""
    raise NotImplementedError
