"""Adversarial: uses Keras in a NumPy-only exercise."""


def relu(x):
    import keras

    return keras.ops.convert_to_numpy(keras.ops.relu(x))


def sigmoid(x):
    from tensorflow import math

    return math.sigmoid(x).numpy()
