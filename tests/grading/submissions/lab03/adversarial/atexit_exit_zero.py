"""Adversarial: the starter plus an atexit handler that forces exit status 0."""

import atexit
import os


def _succeed():
    os._exit(0)


atexit.register(_succeed)


def relu(x):
    raise NotImplementedError


def sigmoid(x):
    raise NotImplementedError
