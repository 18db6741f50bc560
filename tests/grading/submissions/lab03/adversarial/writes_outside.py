"""Adversarial: writes outside its folder (the test writes real paths into TARGETS)."""

import os

TARGETS = ["../escaped.txt", "/etc/mlkeras-escaped.txt"]  # the test adds more


def _write_everywhere():
    done = []
    for path in TARGETS:
        try:
            with open(path, "w") as stream:
                stream.write("escaped")
            done.append(path)
        except OSError:
            pass
    return done


_write_everywhere()


def relu(x):
    _write_everywhere()
    raise NotImplementedError


def sigmoid(x):
    raise NotImplementedError
