"""Adversarial: exits with status 0 while being imported (a harness that trusts exit codes would pass it)."""

import sys

import numpy as np


def relu(x):
    return np.maximum(x, 0)


sys.exit(0)
