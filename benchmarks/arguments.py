"""Argument types shared by the benchmark scripts.

Each one turns a bad value into one line from argparse that names the
option and the value received, e.g.
`recurrent.py: error: argument --rounds: must be a positive integer, got '0'`.
"""

import argparse
import math


def positive_int(text):
    """An integer of at least 1."""
    return _integer(text, 1, "a positive integer")


def non_negative_int(text):
    """An integer of at least 0."""
    return _integer(text, 0, "0 or a positive integer")


def positive_float(text):
    """A finite number above 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(
            f"must be a positive number, got {text!r}"
        )
    return value


def _integer(text, low, what):
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < low:
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return value
