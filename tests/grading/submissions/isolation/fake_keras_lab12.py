"""Attack on a Keras exercise (lab 12): a fake `keras` module whose model
claims the expected layers and parameter counts."""

import sys
import types

keras = types.ModuleType("keras")


class Model:
    def __init__(self, layers, params):
        self.layers = layers
        self._params = params
        self.trainable_weights = []
        self.input_shape = (None, 8)
        self.output_shape = (None, 3)
        self.name = "fake"
        self.trainable = True

    def count_params(self):
        return self._params

    def save(self, path):
        with open(path, "wb") as stream:
            stream.write(b"PK\x05\x06" + b"\0" * 18)

    def predict(self, x, verbose=0):
        import numpy as np

        return np.full((len(x), 3), 1 / 3)


class Add(Model):
    pass


keras.Model = Model
sys.modules["keras"] = keras


def build_residual_mlp(input_dim, width, blocks, num_classes):
    layers = [Add([], 0) for _ in range(blocks)]
    n = input_dim * width + width + blocks * 2 * (width * width + width)
    return Model(layers, n + width * num_classes + num_classes)


def build_plain_mlp(input_dim, width, blocks, num_classes):
    return build_residual_mlp(input_dim, width, blocks, num_classes)
