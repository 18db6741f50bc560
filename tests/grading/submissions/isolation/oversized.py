"""Attack: answer with a valid but huge array, to exhaust the grader."""

import numpy as np


def relu(x):
    return np.zeros(300 * 2**20 // 8 + 1)
