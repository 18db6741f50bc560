"""Lab 07, wrong: binary cross-entropy without clipping (infinite for certain predictions)."""

import numpy as np

from_correct = None


def binary_crossentropy(y_true, y_pred):
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.mean(y_true * np.log(y_pred) + (1 - y_true) * np.log(1 - y_pred), axis=-1)
